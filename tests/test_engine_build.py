"""`mlperfctl build` on the real engine, with the tiny test matrix (tests/data/tiny) for the
stage sharing, no-op, harness-only, reproducibility, bundle and failure cases, and one real
build of python-onnxruntime-cpu-resnet50 on the local base (the run tests reuse that image)."""

import glob
import json
import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from mlperfctl import matrix as matrix_mod
from mlperfctl.builder import executor
from mlperfctl.builder import plan as build_plan
from mlperfctl.engines.base import ContainerSpec
from mlperfctl.options import BuildOptions

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny" / "matrix.yaml"
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))


def cli_env(**extra) -> dict:
    env = {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), **extra}
    env.pop("MLPERFCTL_BASE_IMAGE", None)
    return env


def cli(*args, cwd, env=None):
    # -P: the project under test holds stand-in mlperf_harness/mlperf_rules folders (COPY sources), which must
    # not shadow the real packages on sys.path
    return subprocess.run([sys.executable, "-P", "-m", "mlperfctl", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env or cli_env())


def build_json(cwd, *args, expect=0):
    r = cli("build", "--json", *args, cwd=cwd)
    assert r.returncode == expect, r.stdout + r.stderr
    return json.loads(r.stdout), r


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, engine, local_base):
    """A throwaway project: real templates, the tiny matrix, locked with uv, and a harness
    stand-in with a per-session token so its implementation stages are new every session."""
    root = tmp_path_factory.mktemp("tiny")
    shutil.copytree(ROOT / "templates", root / "templates")
    (root / "matrix.yaml").write_text(TINY.read_text())
    (root / "mlperf_harness").mkdir()
    (root / "mlperf_harness" / "__init__.py").write_text("")
    (root / "mlperf_harness" / "__main__.py").write_text(f"print('stand-in {uuid.uuid4().hex}')\n")
    (root / "mlperf_rules").mkdir()
    (root / "mlperf_rules" / "__init__.py").write_text("ROUNDS = {}\n")
    r = cli("lock", "--json", cwd=root)
    assert r.returncode == 0, r.stderr
    assert all(x["locked"] for x in json.loads(r.stdout)), r.stdout
    return root


def test_build_shares_stages_then_noop(tiny, engine, engine_name):
    lm = matrix_mod.load(tiny / "matrix.yaml")
    plans = build_plan.plan(lm, lm.matrix.cells(), BuildOptions(engine=engine_name), engine)
    distinct = {s.hash: s for p in plans for s in p.stages}
    assert len(distinct) == 8  # device 1, runtime 1, framework 2, implementation 4
    missing = [s for s in distinct.values() if engine.inspect_image(s.tag) is None]
    assert sum(s.name == "implementation" for s in missing) == 4

    data, _ = build_json(tiny)
    assert data["build_calls"] == len(missing)  # every missing stage built exactly once
    for cell, p in zip(data["cells"], plans, strict=True):
        assert cell["state"] == "built" and cell["tag"] == p.tag and cell["unlocked"] == []
        labels = engine.inspect_image(p.tag).labels
        assert labels["io.mlperfctl.content-hash"] == p.hash
        assert labels["io.mlperfctl.cell"] == p.cell.id and labels["io.mlperfctl.stage"] == "implementation"
    out = engine.output(ContainerSpec(image=plans[0].tag))
    assert out.startswith("stand-in ")

    started = time.monotonic()
    data, _ = build_json(tiny)
    wall = time.monotonic() - started
    assert data["build_calls"] == 0
    assert {c["state"] for c in data["cells"]} == {"cached"}
    print(f"no-op build of {len(plans)} cells: {data['seconds']:.2f}s in mlperfctl, {wall:.2f}s wall")


def test_harness_only_change_rebuilds_only_the_top_stage(tiny, engine):
    build_json(tiny)
    (tiny / "mlperf_harness" / "extra.py").write_text(f"TOKEN = '{uuid.uuid4().hex}'\n")
    data, _ = build_json(tiny)
    assert data["build_calls"] == 4
    assert [c["stages_built"] for c in data["cells"]] == [["implementation"]] * 4
    tag = data["cells"][0]["tag"]
    out = engine.output(ContainerSpec(image=tag, entrypoint=("python3",),
                                      argv=("-c", "import mlperf_harness.extra as e; print(e.TOKEN)")))
    assert out.strip() == (tiny / "mlperf_harness" / "extra.py").read_text().split("'")[1]


def test_two_no_cache_builds_give_the_same_image_id(tiny):
    cell = "python-alpha-cpu-toy"
    first, _ = build_json(tiny, "--select", cell, "--no-cache")
    assert first["cells"][0]["stages_built"] == ["device", "runtime", "framework", "implementation"]
    r = cli("verify", cell, "--json", cwd=tiny)  # a second --no-cache build, compared
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["identical"] is True and report["differing_layers"] == []
    assert report["after"] == first["cells"][0]["image_id"]


def test_save_remove_load_gives_the_same_image_ids(tiny, engine, tmp_path):
    data, _ = build_json(tiny, "--backend", "alpha")
    ids = {c["cell"]: c["image_id"] for c in data["cells"]}
    bundle = tmp_path / "lab.tar"
    r = cli("save", "--backend", "alpha", "-o", bundle, cwd=tiny)
    assert r.returncode == 0, r.stderr
    for c in data["cells"]:
        engine.remove_image(c["image_id"], force=True)
    r = cli("images", "--backend", "alpha", "--json", cwd=tiny)
    assert {x["state"] for x in json.loads(r.stdout)} <= {"missing", "outdated"}  # older builds may exist
    r = cli("load", bundle, cwd=tiny)
    assert r.returncode == 0, r.stderr
    for c in data["cells"]:
        assert engine.inspect_image(c["tag"]).id == ids[c["cell"]]
    rows = json.loads(cli("images", "--backend", "alpha", "--json", cwd=tiny).stdout)
    assert {x["state"] for x in rows} == {"built"}
    again, _ = build_json(tiny, "--backend", "alpha")
    assert again["build_calls"] == 0


def test_failing_step_reports_cell_and_log_tail(tiny, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(tiny, root)
    text = (root / "matrix.yaml").read_text().replace(
        "  plain:\n", "  broken:\n    task: test\n    implemented: true\n    precisions: [fp32]\n"
        "    backends: [alpha, beta]\n"
        "    packages: {mlperfctl-no-such-package: \"0.0.1\"}\n  plain:\n")
    (root / "matrix.yaml").write_text(text)
    data, r = build_json(root, "--backend", "alpha", "--model", "broken,toy", "--continue-on-error", expect=1)
    states = {c["cell"]: c for c in data["cells"]}
    bad = states["python-alpha-cpu-broken"]
    assert bad["state"] == "failed" and "RUN" in bad["failed_step"] and "implementation" in bad["failed_step"]
    assert any("mlperfctl-no-such-package" in ln for ln in bad["log_tail"])
    assert Path(bad["log"]).read_text().count("mlperfctl-no-such-package") >= 1
    assert bad["unlocked"] == ["implementation"]
    assert states["python-alpha-cpu-toy"]["state"] in ("built", "cached")  # the other cell went on
    assert "error: python-alpha-cpu-broken: build failed at" in r.stderr
    # without --continue-on-error the rest is skipped, exit non-zero
    r = cli("build", "--model", "broken,plain", "--backend", "alpha", cwd=root)
    assert r.returncode == 1 and "python-alpha-cpu-broken: build failed at" in r.stderr
    assert "| " in r.stderr and "skipped" in r.stdout


def test_bad_base_image_is_one_line_with_the_fix(tiny):
    r = cli("build", "--select", "python-alpha-cpu-toy", "--base-image", "cpu=mlperfctl/no-such-base:1",
            cwd=tiny)
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: base image 'mlperfctl/no-such-base:1' for cpu is not here and cannot be pulled")
    assert "mlperfctl base bootstrap" in r.stderr and "--base-image cpu=IMAGE" in r.stderr


def test_real_cell_onnxruntime_resnet50(loaded, local_base, engine, engine_name):
    """One real build (lock-installed, CA as a BuildKit secret); run tests reuse the image."""
    options = BuildOptions(bases={"cpu": local_base}, ca_certs=tuple(Path(p) for p in CA_CERTS), engine=engine_name)
    info = executor.ensure_image(loaded, loaded.parse_cell("python-onnxruntime-cpu-resnet50"), options, engine=engine)
    assert info.state in ("built", "cached") and info.unlocked == []
    assert info.labels["io.mlperfctl.cell"] == "python-onnxruntime-cpu-resnet50"
    assert info.labels["org.opencontainers.image.base.name"] == local_base
    script = ("import onnxruntime, cv2, numpy, mlperf_loadgen, os; "
              "print(onnxruntime.__version__, numpy.__version__, os.getuid(), "
              "os.path.exists('/run/secrets/ca-bundle'), sorted(os.listdir('/usr/local/share/ca-certificates')))")
    out = engine.output(ContainerSpec(image=info.tag, entrypoint=("python3",), argv=("-c", script))).split(" ", 3)
    assert out[:3] == ["1.32.0", "2.4.6", "10001"] and out[3].strip() == "False []"
    again = executor.ensure_image(loaded, loaded.parse_cell("python-onnxruntime-cpu-resnet50"), options, engine=engine)
    assert again.state == "cached" and again.image_id == info.image_id


def test_push_pull_and_use_pulled_image(tiny, registry, engine, engine_name):
    import urllib.request

    cell = "python-alpha-cpu-toy"
    data, _ = build_json(tiny, "--select", cell, "--registry", f"{registry}/lab", "--push")
    tag, image_id, h = data["cells"][0]["tag"], data["cells"][0]["image_id"], data["cells"][0]["content_hash"]
    assert data["cells"][0]["pushed"] == f"{registry}/lab/mlperfctl/{cell}:{h[:16]}"
    listing = json.load(urllib.request.urlopen(f"http://{registry}/v2/lab/mlperfctl/{cell}/tags/list"))
    assert listing["tags"] == [h[:16]]
    engine.remove_image(image_id, force=True)
    r = cli("pull", cell, "--registry", f"{registry}/lab", cwd=tiny)
    assert r.returncode == 0, r.stderr
    assert engine.inspect_image(tag).id == image_id  # same ID: the image config travelled intact
    rows = json.loads(cli("images", "--select", cell, "--json", cwd=tiny).stdout)
    assert rows[0]["state"] == "pulled" and rows[0]["image_id"] == image_id
    again, _ = build_json(tiny, "--select", cell)
    assert again["build_calls"] == 0 and again["cells"][0]["state"] == "pulled"
    # ensure_image (what `run` calls) pulls by itself when the registry has the image
    engine.remove_image(image_id, force=True)
    lm = matrix_mod.load(tiny / "matrix.yaml")
    info = executor.ensure_image(lm, lm.parse_cell(cell), BuildOptions(registry=f"{registry}/lab", engine=engine_name),
                                 engine=engine)
    assert info.state == "pulled" and info.image_id == image_id and info.stages_built == []


@pytest.mark.docker_only("docker's classic builder through docker-py; podman builds with buildah")
def test_classic_builder_plumbing_and_normalisation(engine, local_base):
    """The classic builder (podman's path) through docker-py: build, normalise twice to one ID,
    and a failing RUN named with its log tail. (Its pip installs cannot reach PyPI here: the
    proxy needs --ca-cert, which only BuildKit can keep out of the image.)"""
    from mlperfctl.builder import context, normalize
    from mlperfctl.engines.base import BuildFailed, BuildRequest

    classic = engine.builder("classic")
    assert classic.kind == "classic"
    dockerfile = (f"FROM {local_base}\nRUN mkdir -p /opt/x && echo hi > /opt/x/a && date > /tmp/when && rm /tmp/when\n"
                  "WORKDIR /opt/x\n")
    ctx = context.tar_bytes(context.entries(Path("/"), [], {"Dockerfile": dockerfile.encode()}), 0)
    keep = len(engine.inspect_image(local_base).layers)
    ids = []
    for i in range(2):
        raw = classic.build(BuildRequest(ctx, labels={"io.mlperfctl.test": "classic"}, no_cache=True))
        ids.append(normalize.normalise_image(engine, raw, f"mlperfctl/test-classic:{i}", 1767225600, keep))
        engine.remove_image(raw)
    assert ids[0] == ids[1]
    with pytest.raises(BuildFailed) as failure:
        bad = f"FROM {local_base}\nRUN echo about to fail && exit 3\n"
        classic.build(BuildRequest(context.tar_bytes(context.entries(Path("/"), [], {"Dockerfile": bad.encode()}), 0)))
    assert "RUN echo about to fail && exit 3" in failure.value.step
    assert any("about to fail" in ln for ln in failure.value.tail)
    for i in range(2):
        engine.remove_image(f"mlperfctl/test-classic:{i}", force=True)
    with pytest.raises(Exception, match="--ca-cert needs BuildKit"):
        classic.build(BuildRequest(ctx, secrets={"ca-bundle": "/dev/null"}))


def test_verify_names_the_layer_that_differs(tiny, tmp_path):
    """An external implementation whose install step writes the time: verify says which layer."""
    root = tmp_path / "noisy"
    shutil.copytree(tiny, root)
    (root / "external" / "noisy").mkdir(parents=True)
    (root / "external" / "noisy" / "README").write_text("stand-in for a cloned repository\n")
    text = (root / "matrix.yaml").read_text() + (
        "  noisy:\n    kind: external\n    description: writes the build time\n"
        "    repo: https://example.invalid/noisy.git\n    ref: v1\n"
        "    install: [\"date +%s%N > /opt/mlperf/src/built-at\"]\n    run: cat built-at\n")
    (root / "matrix.yaml").write_text(text)
    cell = "noisy-alpha-cpu-plain"
    build_json(root, "--select", cell)
    r = cli("verify", cell, "--json", cwd=root)
    assert r.returncode == 1, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["identical"] is False and report["before"] != report["after"]
    assert len(report["differing_layers"]) == 1  # only the install step's layer


def test_wheel_dir_installs_a_pin_the_index_cannot_serve(tiny, tmp_path, engine):
    """A framework whose index is unreachable builds from --wheel-dir; the wheel stays out of the layers."""
    from tests.wheelmaker import make_wheel

    root = tmp_path / "wheels-project"
    shutil.copytree(tiny, root)
    text = (root / "matrix.yaml").read_text()
    text = text.replace("models:\n", "  gamma:\n    description: only in a local wheel\n    install:\n      cpu:\n"
                        "        packages: {mlperfctl-probe: \"1.0\"}\n"
                        "        index_url: https://index.invalid/simple\nmodels:\n", 1)
    text = text.replace("backends: [alpha, beta]", "backends: [alpha, beta, gamma]")
    (root / "matrix.yaml").write_text(text)
    token = uuid.uuid4().hex
    make_wheel(tmp_path / "wheels", "mlperfctl_probe", "1.0+site", token)
    data, _ = build_json(root, "--select", "python-gamma-cpu-plain", "--wheel-dir", tmp_path / "wheels")
    cell = data["cells"][0]
    assert cell["state"] == "built" and "framework" in cell["stages_built"], cell
    script = ("import mlperfctl_probe as p, glob; print(p.VALUE, [f for d in ('/opt', '/tmp', '/root', '/home')"
              " for f in glob.glob(d + '/**/*.whl', recursive=True)])")
    out = engine.output(ContainerSpec(image=cell["tag"], entrypoint=("python3",), argv=("-c", script)))
    assert out.split() == [token, "[]"]  # (Debian's own /usr/share/python-wheels aside)


def test_external_source_fetched_or_skipped_without_failing_the_others(tiny, tmp_path, engine):
    """An external implementation's source: fetched at its ref when git can reach it, else the
    cell is skipped with one line saying how to provide it, and the other cells still build."""
    from tests.test_build import EXTERNAL, _git_repo

    root = tmp_path / "ext-project"
    shutil.copytree(tiny, root)
    (root / "matrix.yaml").write_text((root / "matrix.yaml").read_text()
                                      + EXTERNAL.format(repo=tmp_path / "unreachable"))
    data, r = build_json(root, "--backend", "alpha", "--model", "toy", "--implementation", "python,ext")
    states = {c["cell"]: c for c in data["cells"]}
    assert states["python-alpha-cpu-toy"]["state"] in ("built", "cached", "pulled")  # pulled: the push test
    skipped = states["ext-alpha-cpu-toy"]
    assert skipped["state"] == "unavailable" and "\n" not in skipped["error"]
    # the folder as the user named the project: here the matrix in the working directory
    assert f"git clone --depth 1 --branch v1 {tmp_path / 'unreachable'} external/ext " in skipped["error"]
    assert r.stderr.count("skipped ext-alpha-cpu-toy:") == 1
    r = cli("build", "--select", "ext-alpha-cpu-toy", cwd=root)  # only the unavailable cell: exit 2
    assert r.returncode == 2, r.stdout + r.stderr
    # reachable: fetched at its ref and built (its install step checks the file is there). An image of an earlier
    # run with the same temporary path has the same content hash and would be taken as cached: remove it first
    for image in engine.list_images("io.mlperfctl.cell=ext-alpha-cpu-toy"):
        engine.remove_image(image.id, force=True)
    _git_repo(tmp_path / "unreachable")
    data, r = build_json(root, "--select", "ext-alpha-cpu-toy")
    assert data["cells"][0]["state"] == "built" and "implementation" in data["cells"][0]["stages_built"], r.stderr
    assert (root / "external" / "ext" / "run.sh").exists()
