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

from mlperfctl import build
from mlperfctl import matrix as matrix_mod
from mlperfctl.engine import Engine

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "tests" / "data" / "tiny" / "matrix.yaml"
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))


def cli_env(**extra) -> dict:
    env = {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), **extra}
    env.pop("MLPERFCTL_BASE_IMAGE", None)
    return env


def cli(*args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "mlperfctl", *map(str, args)], capture_output=True,
                          text=True, cwd=cwd, env=env or cli_env())


def build_json(cwd, *args, expect=0):
    r = cli("build", "--json", *args, cwd=cwd)
    assert r.returncode == expect, r.stdout + r.stderr
    return json.loads(r.stdout), r


@pytest.fixture(scope="module")
def tiny(tmp_path_factory, docker_client, local_base):
    """A throwaway project: real templates, the tiny matrix, locked with uv, and a harness
    stand-in with a per-session token so its implementation stages are new every session."""
    root = tmp_path_factory.mktemp("tiny")
    shutil.copytree(ROOT / "templates", root / "templates")
    (root / "matrix.yaml").write_text(TINY.read_text())
    (root / "mlperf_harness").mkdir()
    (root / "mlperf_harness" / "__init__.py").write_text("")
    (root / "mlperf_harness" / "__main__.py").write_text(f"print('stand-in {uuid.uuid4().hex}')\n")
    r = cli("lock", "--json", cwd=root)
    assert r.returncode == 0, r.stderr
    assert all(x["locked"] for x in json.loads(r.stdout)), r.stdout
    return root


def test_build_shares_stages_then_noop(tiny, docker_client):
    lm = matrix_mod.load(tiny / "matrix.yaml")
    engine = Engine()
    plans = build.plan(lm, lm.matrix.cells(), build.BuildOptions(), engine)
    distinct = {s.hash: s for p in plans for s in p.stages}
    assert len(distinct) == 8  # device 1, runtime 1, framework 2, implementation 4
    missing = [s for s in distinct.values() if engine.image(s.tag) is None]
    assert sum(s.name == "implementation" for s in missing) == 4

    data, _ = build_json(tiny)
    assert data["build_calls"] == len(missing)  # every missing stage built exactly once
    for cell, p in zip(data["cells"], plans, strict=True):
        assert cell["state"] == "built" and cell["tag"] == p.tag and cell["unlocked"] == []
        labels = docker_client.images.get(p.tag).labels
        assert labels["io.mlperfctl.content-hash"] == p.hash
        assert labels["io.mlperfctl.cell"] == p.cell.id and labels["io.mlperfctl.stage"] == "implementation"
    out = docker_client.containers.run(plans[0].tag, remove=True, network_mode="none")
    assert out.decode().startswith("stand-in ")

    started = time.monotonic()
    data, _ = build_json(tiny)
    wall = time.monotonic() - started
    assert data["build_calls"] == 0
    assert {c["state"] for c in data["cells"]} == {"cached"}
    assert data["seconds"] <= 1.0, data["seconds"]
    print(f"no-op build of {len(plans)} cells: {data['seconds']:.2f}s in mlperfctl, {wall:.2f}s wall")


def test_harness_only_change_rebuilds_only_the_top_stage(tiny, docker_client):
    build_json(tiny)
    (tiny / "mlperf_harness" / "extra.py").write_text(f"TOKEN = '{uuid.uuid4().hex}'\n")
    data, _ = build_json(tiny)
    assert data["build_calls"] == 4
    assert [c["stages_built"] for c in data["cells"]] == [["implementation"]] * 4
    tag = data["cells"][0]["tag"]
    out = docker_client.containers.run(tag, ["-c", "import mlperf_harness.extra as e; print(e.TOKEN)"],
                                       entrypoint="python3", remove=True, network_mode="none")
    assert out.decode().strip() == (tiny / "mlperf_harness" / "extra.py").read_text().split("'")[1]


def test_two_no_cache_builds_give_the_same_image_id(tiny):
    cell = "python-alpha-cpu-toy"
    first, _ = build_json(tiny, "--select", cell, "--no-cache")
    assert first["cells"][0]["stages_built"] == ["device", "runtime", "framework", "implementation"]
    r = cli("verify", cell, "--json", cwd=tiny)  # a second --no-cache build, compared
    assert r.returncode == 0, r.stdout + r.stderr
    report = json.loads(r.stdout)
    assert report["identical"] is True and report["differing_layers"] == []
    assert report["after"] == first["cells"][0]["image_id"]


def test_save_remove_load_gives_the_same_image_ids(tiny, docker_client, tmp_path):
    data, _ = build_json(tiny, "--backend", "alpha")
    ids = {c["cell"]: c["image_id"] for c in data["cells"]}
    bundle = tmp_path / "lab.tar"
    r = cli("save", "--backend", "alpha", "-o", bundle, cwd=tiny)
    assert r.returncode == 0, r.stderr
    for c in data["cells"]:
        docker_client.images.remove(c["image_id"], force=True)
    r = cli("images", "--backend", "alpha", "--json", cwd=tiny)
    assert {x["state"] for x in json.loads(r.stdout)} <= {"missing", "outdated"}  # older builds may exist
    r = cli("load", bundle, cwd=tiny)
    assert r.returncode == 0, r.stderr
    for c in data["cells"]:
        assert docker_client.images.get(c["tag"]).id == ids[c["cell"]]
    rows = json.loads(cli("images", "--backend", "alpha", "--json", cwd=tiny).stdout)
    assert {x["state"] for x in rows} == {"built"}
    again, _ = build_json(tiny, "--backend", "alpha")
    assert again["build_calls"] == 0


def test_failing_step_reports_cell_and_log_tail(tiny, tmp_path):
    root = tmp_path / "broken"
    shutil.copytree(tiny, root)
    text = (root / "matrix.yaml").read_text().replace(
        "  plain:\n", "  broken:\n    task: test\n    implemented: true\n    precisions: [fp32]\n"
        "    scenarios: {edge: [Offline], datacenter: [Offline]}\n    dataset: {name: none, files: []}\n"
        "    model_files: {alpha: toy.onnx, beta: toy.onnx}\n"
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


def test_real_cell_onnxruntime_resnet50(loaded, local_base, docker_client):
    """One real build (lock-installed, CA as a BuildKit secret); run tests reuse the image."""
    options = build.BuildOptions(bases={"cpu": local_base}, ca_certs=[Path(p) for p in CA_CERTS])
    info = build.ensure_image(loaded, loaded.parse_cell("python-onnxruntime-cpu-resnet50"), options)
    assert info.state in ("built", "cached") and info.unlocked == []
    assert info.labels["io.mlperfctl.cell"] == "python-onnxruntime-cpu-resnet50"
    assert info.labels["org.opencontainers.image.base.name"] == local_base
    script = ("import onnxruntime, cv2, numpy, mlperf_loadgen, os; "
              "print(onnxruntime.__version__, numpy.__version__, os.getuid(), "
              "os.path.exists('/run/secrets/ca-bundle'), sorted(os.listdir('/usr/local/share/ca-certificates')))")
    out = docker_client.containers.run(info.tag, ["-c", script], entrypoint="python3", remove=True,
                                       network_mode="none").decode().split(" ", 3)
    assert out[:3] == ["1.32.0", "2.4.6", "10001"] and out[3].strip() == "False []"
    again = build.ensure_image(loaded, loaded.parse_cell("python-onnxruntime-cpu-resnet50"), options)
    assert again.state == "cached" and again.image_id == info.image_id
