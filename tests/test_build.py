"""Build planning, content hashes, contexts, image normalisation: fast unit tests, no engine."""

import dataclasses
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from mlperfctl import matrix as matrix_mod
from mlperfctl import options
from mlperfctl.builder import context, lock, normalize, render
from mlperfctl.builder import plan as build_plan
from mlperfctl.builder import stages as build_stages
from mlperfctl.errors import UserError

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny" / "matrix.yaml"


def make_project(tmp: Path, matrix_text: str | None = None) -> Path:
    """A throwaway project: the real templates, the tiny matrix, a stand-in harness."""
    shutil.copytree(ROOT / "templates", tmp / "templates")
    (tmp / "matrix.yaml").write_text(matrix_text or TINY.read_text())
    (tmp / "mlperf_harness").mkdir()
    (tmp / "mlperf_harness" / "__init__.py").write_text("")
    (tmp / "mlperf_harness" / "__main__.py").write_text("print('stand-in harness')\n")
    (tmp / "mlperf_rules").mkdir()
    (tmp / "mlperf_rules" / "__init__.py").write_text("ROUNDS = {}\n")
    return tmp


def plans_by_cell(lm, **kw):
    return {p.cell.id: p for p in build_plan.plan(lm, lm.matrix.cells(), options.BuildOptions(**kw))}


def test_split_stages_drops_comments_and_keeps_order(loaded):
    text = render.render(loaded, loaded.parse_cell("python-onnxruntime-cpu-resnet50"))
    stages = build_stages.split_stages(text)
    assert [n for n, _ in stages] == ["device", "runtime", "framework", "implementation"]
    assert all(not ln.startswith("#") for _, body in stages for ln in body.splitlines())
    assert stages[0][1].startswith("FROM debian:bookworm-slim AS device")


def test_cells_share_lower_stage_hashes(loaded):
    plans = plans_by_cell(loaded)
    a, b = plans["python-onnxruntime-cpu-resnet50"], plans["python-onnxruntime-cpu-bert-99"]
    c = plans["python-pytorch-cpu-resnet50"]
    assert [s.hash for s in a.stages[:3]] == [s.hash for s in b.stages[:3]]
    assert a.stages[2] is b.stages[2]  # one StagePlan object: built once per run
    assert a.stages[1].hash == c.stages[1].hash and a.stages[2].hash != c.stages[2].hash
    assert a.hash != b.hash and a.tag == f"mlperfctl/python-onnxruntime-cpu-resnet50:{a.hash[:16]}"
    cpu_stages = {s.hash for p in plans.values() if p.cell.device == "cpu" for s in p.stages}
    cpu_cells = [p for p in plans.values() if p.cell.device == "cpu"]
    assert len(cpu_stages) < 4 * len(cpu_cells)


def test_reference_cells_copy_external_code(loaded):
    plans = plans_by_cell(loaded, bases={})
    ref = plans["reference-onnxruntime-cpu-resnet50"]
    assert "external/reference" in ref.top.sources


def test_unlocked_stages_are_marked(loaded):
    plans = plans_by_cell(loaded)
    assert plans["python-onnxruntime-cpu-resnet50"].unlocked == []      # committed locks
    assert "framework" in plans["python-pytorch-cpu-resnet50"].unlocked  # index unreachable here


def test_harness_change_alters_only_the_top_hash(tmp_path):
    lm = matrix_mod.load(make_project(tmp_path) / "matrix.yaml")
    before = plans_by_cell(lm)
    (tmp_path / "mlperf_harness" / "__main__.py").write_text("print('changed')\n")
    # bytecode and caches are not part of the context
    (tmp_path / "mlperf_harness" / "__pycache__").mkdir()
    (tmp_path / "mlperf_harness" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    after = plans_by_cell(lm)
    for cell_id, p in before.items():
        q = after[cell_id]
        assert [s.hash for s in p.stages[:3]] == [s.hash for s in q.stages[:3]]
        assert p.hash != q.hash
    (tmp_path / "mlperf_harness" / "__main__.py").write_text("print('stand-in harness')\n")
    assert plans_by_cell(lm)["python-alpha-cpu-toy"].hash == before["python-alpha-cpu-toy"].hash


def test_lock_and_base_changes_alter_the_right_stages(tmp_path):
    lm = matrix_mod.load(make_project(tmp_path) / "matrix.yaml")
    before = plans_by_cell(lm)["python-alpha-cpu-toy"]
    framework = lock.stage_locks(lm, lm.parse_cell("python-alpha-cpu-toy"))["framework"]
    path = lock.lock_path(lm, framework)
    path.parent.mkdir(parents=True)
    path.write_text("six==1.17.0 --hash=sha256:" + "0" * 64 + "\n")
    after = plans_by_cell(lm)["python-alpha-cpu-toy"]
    assert [s.hash for s in before.stages[:2]] == [s.hash for s in after.stages[:2]]
    assert before.stages[2].hash != after.stages[2].hash and not after.stages[2].unlocked
    assert "--require-hashes -r /opt/mlperf/locks/cpu-alpha.txt" in after.stages[2].text
    other = plans_by_cell(lm, bases={"cpu": "debian:bookworm-slim"})["python-alpha-cpu-toy"]
    assert all(x.hash != y.hash for x, y in zip(other.stages, after.stages, strict=True))


def test_stage_dockerfile_builds_from_parent_tag(loaded):
    p = plans_by_cell(loaded)["python-onnxruntime-cpu-resnet50"]
    df = p.top.dockerfile()
    assert df.startswith(f"FROM {p.stages[2].tag} AS implementation\n")
    assert p.stages[0].dockerfile() == p.stages[0].text


def test_context_is_deterministic_and_minimal(tmp_path):
    make_project(tmp_path)
    (tmp_path / "mlperf_harness" / "__pycache__").mkdir()
    (tmp_path / "mlperf_harness" / "__pycache__" / "a.pyc").write_bytes(b"x")
    (tmp_path / "mlperf_harness" / "tool.sh").write_text("#!/bin/sh\n")
    (tmp_path / "mlperf_harness" / "tool.sh").chmod(0o700)
    items = context.entries(tmp_path, ["mlperf_harness"], {"Dockerfile": b"FROM x AS y\n"})
    first = context.tar_bytes(items, 1767225600)
    os.utime(tmp_path / "mlperf_harness" / "__main__.py", (1, 1))
    time.sleep(0.01)
    again = context.tar_bytes(context.entries(tmp_path, ["mlperf_harness"], {"Dockerfile": b"FROM x AS y\n"}),
                              1767225600)
    assert first == again
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names == sorted(names) and "mlperf_harness/__pycache__" not in names
    assert {m.mtime for m in members} == {1767225600} and {(m.uid, m.gid, m.uname) for m in members} == {(0, 0, "")}
    modes = {m.name: m.mode for m in members}
    assert modes["mlperf_harness/tool.sh"] == 0o755 and modes["mlperf_harness/__main__.py"] == 0o644
    assert context.copy_sources("COPY locks/cpu/a.txt /x\nCOPY --chown=1:1 mlperf_harness /opt\n") == \
        ["locks/cpu/a.txt", "mlperf_harness"]


def _layer(entries) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data, mtime, uid in entries:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.uid, info.gid = len(data), mtime, uid, uid
            info.uname, info.mode = "someone", 0o640
            info.pax_headers = {"atime": "1700000001.5", "ctime": "1700000002.5"}
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_rewrite_layer_clamps_times_and_drops_noise():
    epoch = 1767225600
    a = _layer([("opt/b", b"bee", epoch + 999, 10001), ("opt/a", b"ay", 1000, 0)])
    b = _layer([("opt/b", b"bee", epoch + 5, 10001), ("opt/a", b"ay", 1000, 0)])
    outs = []
    for raw in (a, b):
        dst = io.BytesIO()
        digest = normalize.rewrite_layer(io.BytesIO(raw), dst, epoch)
        outs.append((digest, dst.getvalue()))
    assert outs[0] == outs[1] and a != b
    with tarfile.open(fileobj=io.BytesIO(outs[0][1])) as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["opt/b", "opt/a"]  # order kept
        assert [m.mtime for m in members] == [epoch, 1000]
        assert [(m.uid, m.uname, m.mode) for m in members] == [(10001, "", 0o640), (0, "", 0o640)]
        assert all("atime" not in m.pax_headers for m in members)
        assert tar.extractfile("opt/b").read() == b"bee"


def test_normalise_config_fixes_dates_and_builder_noise():
    config = {"created": "2026-11-24T16:00:00.123Z", "container": "abc", "docker_version": "20.10",
              "container_config": {"Hostname": "abc"},
              "config": {"Hostname": "xyz", "Image": "sha256:tmp", "Labels": {"a": "b"}},
              "history": [{"created": "2026-11-24T16:00:01Z", "created_by": "RUN x"}],
              "rootfs": {"type": "layers", "diff_ids": ["sha256:old"]}}
    out = normalize.normalise_config(config, 1767225600, ["sha256:new"])
    assert out["created"] == "2026-01-01T00:00:00Z" and out["history"][0]["created"] == out["created"]
    assert "container" not in out and "container_config" not in out
    assert out["config"]["Hostname"] == out["config"]["Image"] == ""
    assert out["rootfs"]["diff_ids"] == ["sha256:new"] and out["config"]["Labels"] == {"a": "b"}
    assert normalize.config_bytes(out) == normalize.config_bytes(json.loads(normalize.config_bytes(out)))


def test_classic_variant_comes_from_the_template(loaded):
    """The classic builder's stage is the template rendered for it (no RUN --mount), FROM the
    parent stage's image: the same stages, with no cache mount, secret or wheel mount."""
    opts = options.BuildOptions()
    cp = build_plan.plan(loaded, [loaded.parse_cell("python-onnxruntime-cpu-resnet50")], opts)[0]
    for stage in cp.stages:
        text = build_plan.classic_dockerfile(loaded, cp, stage, opts)
        assert "--mount" not in text and "/run/secrets" not in text
        if stage.parent:
            assert text.startswith(f"FROM {stage.parent.tag} AS {stage.name}\n")
    runtime = build_plan.classic_dockerfile(loaded, cp, cp.stages[1], opts)
    assert "--no-cache-dir" in runtime and "--require-hashes -r /opt/mlperf/locks/cpu-runtime.txt" in runtime
    buildkit = cp.stages[1].dockerfile()
    assert "--mount=type=cache" in buildkit and "--no-cache-dir" not in buildkit
    # the same instructions otherwise: what the BuildKit text runs, minus the mount flags and the secret
    assert [ln.split()[0] for ln in runtime.splitlines() if ln[:1].isupper()] == \
        [ln.split()[0] for ln in buildkit.splitlines() if ln[:1].isupper()]


def test_options_precedence_defaults_matrix_environment_flags(tmp_path):
    """One order for every setting: defaults < matrix.yaml < environment < flags."""
    for name in ("a", "b", "c", "m"):
        (tmp_path / f"{name}.crt").write_text("pem")
    text = TINY.read_text() + "\nbuild:\n  registry: matrix.example:5000/m\n  ca_certs: [m.crt]\n"
    lm = matrix_mod.load(make_project(tmp_path, text) / "matrix.yaml")
    # defaults, then the matrix
    opts = options.build_options(lm, environ={})
    assert opts.registry == "matrix.example:5000/m" and opts.builder == "auto" and opts.engine == "auto"
    assert opts.ca_certs == (tmp_path / "m.crt",) and opts.bases == {} and opts.engine_url is None
    # the environment over the matrix
    env = {"MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "MLPERFCTL_REGISTRY": "env:5000/e",
           "MLPERFCTL_CA_CERT": f"{tmp_path}/a.crt{os.pathsep}{tmp_path}/b.crt", "MLPERFCTL_BUILDER": "classic",
           "MLPERFCTL_ENGINE_URL": "unix:///env.sock", "MLPERFCTL_WHEEL_DIR": f"{tmp_path}/w1"}
    opts = options.build_options(lm, environ=env)
    assert opts.registry == "env:5000/e" and opts.builder == "classic" and opts.engine_url == "unix:///env.sock"
    assert opts.bases == {"cpu": "mlperfctl/debian:bookworm"} and opts.wheel_dirs == (tmp_path / "w1",)
    assert opts.ca_certs == (tmp_path / "a.crt", tmp_path / "b.crt", tmp_path / "m.crt")  # the matrix's always
    # flags over the environment (None: not given, the environment stays)
    opts = options.build_options(lm, environ=env, registry="flag:5000/f", builder=None, ca_cert=[tmp_path / "c.crt"],
                                 wheel_dir=[tmp_path / "w2"], engine_url="unix:///flag.sock", no_cache=True)
    assert opts.registry == "flag:5000/f" and opts.builder == "classic" and opts.engine_url == "unix:///flag.sock"
    assert opts.ca_certs == (tmp_path / "c.crt", tmp_path / "m.crt") and opts.wheel_dirs == (tmp_path / "w2",)
    assert opts.no_cache is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.no_cache = False  # resolved once: nothing changes it later
    # bad values: one line naming the setting
    with pytest.raises(UserError, match=r"MLPERFCTL_BASE_IMAGE: unknown device 'gpu'"):
        options.build_options(lm, environ={"MLPERFCTL_BASE_IMAGE": "gpu=x"})
    with pytest.raises(UserError, match=r"unknown builder 'fast' \(choose: auto, buildkit, classic\)"):
        options.build_options(lm, environ={"MLPERFCTL_BUILDER": "fast"})
    with pytest.raises(UserError, match="none.crt: no such file"):
        options.build_options(lm, environ={}, ca_cert=[tmp_path / "none.crt"])


def test_run_options_cache_dir_from_environment_then_flag(tmp_path):
    assert options.run_options({"XDG_CACHE_HOME": str(tmp_path)}, model="resnet50").cache_dir == \
        tmp_path / "mlperfctl" / "preprocessed"
    assert options.run_options({}, model="resnet50").cache_dir == Path.home() / ".cache" / "mlperfctl" / "preprocessed"
    assert options.run_options({"XDG_CACHE_HOME": str(tmp_path)}, model="resnet50", cache_dir=tmp_path / "c",
                               target_qps=None).cache_dir == tmp_path / "c"


def test_lock_reports_unreachable_index(tmp_path, monkeypatch):
    text = TINY.read_text().replace('packages: {six: "1.17.0"}',
                                    'packages: {six: "1.17.0"}\n        index_url: https://wheels.invalid/simple')
    lm = matrix_mod.load(make_project(tmp_path, text) / "matrix.yaml")
    monkeypatch.setattr(lock, "index_reachable",
                        lambda url, timeout=8.0: None if "pypi.org" in url else f"{url} is unreachable (test)")
    # the runtime stage is taken as locked so that only the framework's index matters here
    rt = lock.lock_path(lm, lock.stage_locks(lm, lm.parse_cell("python-alpha-cpu-toy"))["runtime"])
    rt.parent.mkdir(parents=True)
    rt.write_text("mlcommons-loadgen==6.0.17 --hash=sha256:" + "0" * 64 + "\n")
    results = {r.lock.src: r for r in lock.lock_cells(lm, [lm.parse_cell("python-alpha-cpu-toy")])}
    fw = results["locks/cpu/alpha.txt"]
    assert not fw.ok and "https://wheels.invalid/simple is unreachable" in fw.message
    assert "exact pins" in fw.message
    impl = results["locks/cpu/alpha-toy.txt"]
    assert not impl.ok and "stage below (locks/cpu/alpha.txt) is not locked" in impl.message


def test_missing_engine_is_one_line_with_the_fix(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "build", "--select", "python-onnxruntime-cpu-resnet50",
                        "--engine-url", f"unix://{tmp_path}/no-engine.sock"], capture_output=True, text=True)
    assert r.returncode == 2
    assert r.stderr == (f"error: cannot reach the container engine at unix://{tmp_path}/no-engine.sock "
                        "(start it: sudo scripts/engine-setup.sh)\n")


def test_bad_ca_cert_path_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "build", "--select", "python-onnxruntime-cpu-resnet50",
                        "--ca-cert", str(tmp_path / "none.crt")], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "none.crt: no such file" in r.stderr


@pytest.mark.parametrize("cell", ["python-onnxruntime-cpu-resnet50", "python-pytorch-rocm-bert-99"])
def test_committed_dockerfiles_are_the_buildkit_rendering(loaded, cell):
    text = (ROOT / "images" / cell / "Dockerfile").read_text()
    assert text == render.render(loaded, loaded.parse_cell(cell), buildkit=True)
    assert "--mount=type=secret,id=ca-bundle" in text and "SOURCE_DATE_EPOCH=1767225600" in text
    assert "pip install --no-compile" in text


EXTERNAL = """
  ext:
    kind: external
    description: someone else's code
    repo: {repo}
    ref: v1
    install: ["test -f run.sh"]
    run: bash run.sh {{scenario}}
"""


def _git_repo(path: Path) -> Path:
    """A real local repository with the tag v1 (git clone --branch takes tags)."""
    path.mkdir()
    (path / "run.sh").write_text("echo external\n")
    git = ["git", "-C", str(path), "-c", "user.email=t@t", "-c", "user.name=t"]
    for args in (["init", "-q"], ["add", "."], ["commit", "-qm", "one"], ["tag", "v1"]):
        subprocess.run(git + args, check=True, capture_output=True)
    return path


def test_external_source_is_fetched_at_its_ref_or_explained_in_one_line(tmp_path):
    from mlperfctl.builder import external

    repo = _git_repo(tmp_path / "upstream")
    lm = matrix_mod.load(make_project(tmp_path / "p", TINY.read_text() + EXTERNAL.format(repo=repo))
                         / "matrix.yaml")
    cell = lm.parse_cell("ext-alpha-cpu-toy")
    before = build_plan.plan(lm, [cell], options.BuildOptions())[0]
    assert before.top.missing and "\n" not in before.top.missing
    assert f"git clone --depth 1 --branch v1 {repo} {lm.root / 'external' / 'ext'}" in before.top.missing
    assert external.fetch(lm, "ext") is None
    assert (lm.root / "external" / "ext" / "run.sh").read_text() == "echo external\n"
    assert not (lm.root / "external" / "ext" / ".git").exists()  # the source only: .git would change the hash
    after = build_plan.plan(lm, [cell], options.BuildOptions())[0]
    assert after.top.missing is None and after.hash != before.hash
    assert external.fetch(lm, "ext") is None  # already there: nothing to do

    gone = matrix_mod.load(make_project(tmp_path / "q", TINY.read_text() + EXTERNAL.format(
        repo=tmp_path / "no-such-repo")) / "matrix.yaml")
    why = external.fetch(gone, "ext")
    assert why and "\n" not in why and "no-such-repo" in why
    assert not (gone.root / "external").exists()  # a failed clone leaves nothing behind


def test_filters_pick_external_cells_only_when_asked(tmp_path):
    lm = matrix_mod.load(make_project(tmp_path, TINY.read_text() + EXTERNAL.format(repo="/x")) / "matrix.yaml")
    ids = lambda cells: {c.implementation for c in cells}  # noqa: E731
    assert ids(lm.select({"backend": ["alpha"], "model": ["toy"]})) == {"python"}
    assert ids(lm.select({"implementation": ["ext"]})) == {"ext"}
    assert ids(lm.select({"implementation": ["python", "ext"]})) == {"python", "ext"}
    assert ids(lm.select(select=["ext-*"])) == {"ext"} and ids(lm.select(select=["*-toy"])) == {"python"}
    assert ids(lm.select(external=True)) == {"python", "ext"} and ids(lm.select(external=False)) == {"python"}


def test_only_the_engines_package_knows_docker():
    """docker-py and docker's JSON shapes stay behind the engine interface (mlperfctl/engines)."""
    import ast

    package = ROOT / "mlperfctl"
    shapes = ("RootFS", "RepoDigests", "StatusCode", "Runtimes", "DeviceRequest", "containers.run")
    offenders = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package)
        if rel.parts[0] == "engines":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) and node.level == 0 else []
            offenders += [f"{rel}:{node.lineno}: imports {n}" for n in names if n.split(".")[0] == "docker"]
        offenders += [f"{rel}: reads docker's {s}" for s in shapes if s in path.read_text()]
    assert offenders == []
    assert "import docker" in (package / "engines" / "docker.py").read_text()  # the check looks at real code


def test_a_lock_pins_a_package_wanted_with_extras_in_both_forms(tmp_path):
    """pip 23 (Debian 12's) under --require-hashes wants a pin for `name[extras]` and for plain `name` when
    requirements name a package both ways (vllm's nvidia-cutlass-dsl): the lock gets both, with the same hashes; a
    stage above takes it as constraints without extras, once."""
    text = ("aaa==1.0 \\\n    --hash=sha256:11\n"
            "cutlass[cu13]==4.8.1 \\\n    --hash=sha256:22 \\\n    --hash=sha256:33\n"
            "fastapi[standard]==0.1 \\\n    --hash=sha256:44\nfastapi==0.1 \\\n    --hash=sha256:44\n")
    out = lock._plain_pins(text)
    assert out.startswith(text)
    assert out[len(text):] == "cutlass==4.8.1 \\\n    --hash=sha256:22 \\\n    --hash=sha256:33\n"
    assert lock._plain_pins(out) == out  # already plain: nothing more
    path = tmp_path / "lock.txt"
    path.write_text(out)
    assert lock._pins(path).splitlines() == ["aaa==1.0", "cutlass==4.8.1", "fastapi==0.1"]
    assert lock._pins(path, skip=("cutlass",)).splitlines() == ["aaa==1.0", "fastapi==0.1"]
