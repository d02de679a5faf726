"""The engine interface for real under the selected engine (`pytest --engine docker|podman`, see
tests/conftest.py): build, hardened run, save/load, reproducible builds; rootless podman under
--engine podman. Short: one tiny image on the local base."""

from __future__ import annotations

import io
import os
import pwd
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import uuid
from pathlib import Path

import pytest

from mlperfctl import engines
from mlperfctl.engines.base import BuildRequest, ContainerSpec, Mount
from mlperfctl.engines.cliargs import run_args
from mlperfctl.errors import UserError

BASE = "mlperfctl/debian:bookworm"


def _context(dockerfile: str) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        data = dockerfile.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.mark.engine
def test_build_run_hardened_save_load(engine, local_base, tmp_path):
    tag = f"mlperfctl-test/engine-{uuid.uuid4().hex[:8]}:1"
    other = tag.replace(":1", ":loaded")
    builder = engine.builder("auto")
    image_id = builder.build(BuildRequest(_context(f"FROM {BASE}\nRUN echo hello > /hello\n"),
                                          labels={"io.mlperfctl.test": "1"}))
    assert image_id.startswith("sha256:")
    try:
        engine.tag(image_id, tag)
        img = engine.inspect_image(tag)
        assert img.id == image_id and tag in img.tags and img.labels["io.mlperfctl.test"] == "1"
        assert any(i.id == image_id for i in engine.list_images("io.mlperfctl.test=1"))

        data = tmp_path / "data"
        data.mkdir()
        (data / "x").write_text("payload\n")
        os.chmod(tmp_path, 0o755)
        spec = ContainerSpec(image=tag, entrypoint=("sh", "-c"),
                             argv=("id -u; cat /hello /data/x; touch /data/y || echo ro-mount;"
                                   " touch /root-file || echo ro-root; touch /tmp/ok && echo tmp-ok",),
                             mounts=(Mount(str(data), "/data", read_only=True),), user="10001:10001",
                             labels=(("io.mlperfctl.test", "1"),))
        out = engine.output(spec).split()
        assert out == ["10001", "hello", "payload", "ro-mount", "ro-root", "tmp-ok"], out
        assert not (data / "y").exists()
        lines = []
        result = engine.run(ContainerSpec(image=tag, entrypoint=("sh", "-c"), argv=("echo a; exit 3",)),
                            lines.append)
        assert result.exit_code == 3 and lines == ["a"]
        assert engine.list_containers("io.mlperfctl.test=1") == []

        archive = tmp_path / "img.tar"
        with open(archive, "wb") as f:
            engine.save([tag], f)
        engine.remove_image(tag, force=True)
        assert engine.inspect_image(tag) is None
        with open(archive, "rb") as f:
            engine.load(f)
        assert engine.inspect_image(tag).id == image_id
        engine.tag(image_id, other)
        assert engine.inspect_image(other).id == image_id
    finally:
        for ref in (other, tag, image_id):
            engine.remove_image(ref, force=True)


def test_podman_run_args_hardening():
    spec = ContainerSpec(image="img", argv=("run", "--x"), mounts=(Mount("/d", "/data"), Mount("/r", "/r", False)),
                         user="10001:10001", devices=("/dev/kfd",), group_add=("44",))
    args = run_args(spec, cli="podman", name="n", rootless=True)
    joined = " ".join(args)
    for part in ("--network none", "--read-only", "--cap-drop ALL", "--security-opt no-new-privileges",
                 "--tmpfs /tmp:rw,exec,size=4g", "type=bind,source=/d,target=/data,readonly", "--userns=keep-id",
                 "--device /dev/kfd:/dev/kfd:rwm", "--group-add 44", "--name n"):
        assert part in joined
    assert "type=bind,source=/r,target=/r " in joined + " " and "--privileged" not in joined
    assert args[-3:] == ["img", "run", "--x"]
    from mlperfctl.engines.base import GpuRequest
    assert "--userns=keep-id" in run_args(spec, cli="/usr/bin/podman", rootless=True)
    assert "--userns=keep-id" not in run_args(spec, cli="/usr/bin/podman", rootless=False)
    gpu = run_args(ContainerSpec(image="i", gpu=GpuRequest("nvidia")), cli="/usr/bin/podman")
    assert "nvidia.com/gpu=all" in gpu
    assert "--gpus" in run_args(ContainerSpec(image="i", gpu=GpuRequest("nvidia")), cli="docker")


def test_engine_detection(monkeypatch):
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.setattr(engines, "DOCKER_SOCKET", "/nonexistent.sock")
    assert engines.detect() == ("podman" if shutil.which("podman") else "docker")
    assert engines.detect("unix:///x.sock") == "docker"
    with pytest.raises(UserError, match="unknown engine 'rkt'"):
        engines.get("rkt")


@pytest.mark.engine
def test_two_no_cache_builds_normalise_to_one_image_id(engine, local_base):
    """The project's normalisation (save, rewrite, load) makes the engine's builds reproducible."""
    from mlperfctl.builder import normalize

    tag = f"mlperfctl-test/repro-{uuid.uuid4().hex[:8]}:1"
    keep = len(engine.inspect_image(BASE).layers)
    ids, raws = [], []
    try:
        for _ in range(2):
            raw = engine.builder("auto").build(BuildRequest(
                _context(f"FROM {BASE}\nRUN echo x > /x\nRUN echo y > /y\n"), no_cache=True))
            raws.append(raw)
            ids.append(normalize.normalise_image(engine, raw, tag, 0, keep))
            assert engine.inspect_image(tag).id == ids[-1]
        assert raws[0] != raws[1]             # the raw builds differ (creation times, file mtimes) ...
        assert ids[0] == ids[1]               # ... their normalised images do not
    finally:
        for ref in (tag, *raws, *ids):
            engine.remove_image(ref, force=True)


ROOTLESS_USER = "mlperfctl"   # made by scripts/podman-setup.sh rootless


@pytest.fixture
def public_tmp():
    """A temporary folder the unprivileged user can reach (pytest's is root-only)."""
    path = Path(tempfile.mkdtemp(prefix="mlperfctl-rootless-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.engine
@pytest.mark.podman_only("rootless podman as an unprivileged user")
def test_rootless_podman_run_keeps_the_users_id(public_tmp):
    """As the unprivileged user: --userns=keep-id, a read-only data mount, a writable results folder
    that ends up owned by that user."""

    try:
        user = pwd.getpwnam(ROOTLESS_USER)
    except KeyError:
        pytest.skip(f"no user {ROOTLESS_USER} (sudo scripts/podman-setup.sh rootless)")
    if os.getuid() != 0 or not shutil.which("podman"):
        pytest.skip("needs root (to switch user) and podman")
    python = shutil.which("python3", path="/usr/local/bin:/usr/bin")
    if not python or subprocess.run([python, "-c", "import sys; print(sys.version_info[:2])"], capture_output=True,
                                    text=True).stdout.strip() != str(sys.version_info[:2]):
        pytest.skip(f"no system python {sys.version_info[:2]} the user {ROOTLESS_USER} can run")
    tmp_path = public_tmp
    data, results = tmp_path / "data", tmp_path / "results"
    data.mkdir()
    (data / "x").write_text("payload\n")
    results.mkdir()
    os.chown(results, user.pw_uid, user.pw_gid)
    os.chmod(tmp_path, 0o755)
    root = Path(__file__).resolve().parent.parent
    code = ("import os\nfrom mlperfctl import engines\nfrom mlperfctl.engines.base import ContainerSpec, Mount\n"
            "e = engines.get('podman')\nassert e.rootless\n"
            f"s = ContainerSpec(image='{BASE}', entrypoint=('sh', '-c'), argv=('id -u; cat /data/x; "
            "touch /data/y || echo ro-mount; touch /results/z && echo wrote',), "
            f"mounts=(Mount('{data}', '/data'), Mount('{results}', '/results', False)), "
            "user=f'{os.getuid()}:{os.getgid()}')\nprint(e.output(s))\n")
    env_path = os.pathsep.join([str(root), sysconfig.get_paths()["purelib"]])
    r = subprocess.run(["su", "-", ROOTLESS_USER, "-c",
                        f"cd /tmp && PYTHONPATH={env_path} {python} -c \"$0\"", code],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == [str(user.pw_uid), "payload", "ro-mount", "wrote"]
    assert (results / "z").stat().st_uid == user.pw_uid and not (data / "y").exists()


def test_loopback_registries_are_plain_http_as_with_docker():
    """Docker talks plain HTTP to a registry on 127.0.0.0/8 or localhost; podman is told so per push/pull."""
    from mlperfctl.engines.podman import _tls

    for ref in ("127.0.0.1:5000/lab/x:1", "localhost:5000/x:1", "[::1]:5000/x:1", "127.0.0.9/x:1"):
        assert _tls(ref) == ["--tls-verify=false"], ref
    for ref in ("reg.example:5000/lab/x:1", "mlperfctl/debian:bookworm", "docker.io/library/debian:12",
                "127.1.2.300:5/x:1", "debian"):
        assert _tls(ref) == [], ref


def test_an_image_listing_raced_by_a_removal_is_taken_again(tmp_path):
    """`podman images` fails as a whole when an image it found is removed before it reads it (another client
    on the same storage); the engine lists again instead of failing the build or run. A stand-in binary."""
    from mlperfctl.engines.podman import PodmanEngine

    count = tmp_path / "count"
    fake = tmp_path / "podman"
    fake.write_text(f"""#!/bin/sh
case "$1" in
  version) echo 4.3.1 ;;
  images) echo x >> {count}
          if [ "$(wc -l < {count})" -lt 2 ]; then
            echo 'Error: reading image "ab": locating image with ID "ab": image not known' >&2; exit 125
          fi
          echo '[{{"Id": "ab", "Names": ["localhost/t:1"], "Labels": {{"k": "v"}}}}]' ;;
  ps) echo 'Error: something else' >&2; exit 125 ;;
esac
""")
    fake.chmod(0o755)
    engine = PodmanEngine(str(fake))
    [image] = engine.list_images("k=v")
    assert (image.id, image.tags, image.labels) == ("sha256:ab", ("t:1",), {"k": "v"})
    assert count.read_text().count("x") == 2
    with pytest.raises(UserError, match="podman ps failed: Error: something else"):
        engine.list_containers("k")
