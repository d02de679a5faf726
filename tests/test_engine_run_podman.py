"""One real `mlperfctl run --engine podman`: resnet50 Offline performance in test mode on demo data.

Runs after tests/test_engine_run.py (which builds the image with docker): the image is copied
into podman (`docker save | podman load`, the ID stays) when docker has it, else podman builds it."""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))


def env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200"}


def test_run_with_podman_writes_a_result(tmp_path, local_base):
    if not shutil.which("podman"):
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE"):
            pytest.fail("podman is not installed: sudo scripts/podman-setup.sh")
        pytest.skip("podman is not installed (sudo scripts/podman-setup.sh)")
    images = subprocess.run([sys.executable, "-m", "mlperfctl", "images", "-m", "resnet50", "-d", "cpu", "-b",
                             "onnxruntime", "--engine", "docker", "--json"], capture_output=True, text=True,
                            env=env(), cwd=ROOT)
    assert images.returncode == 0, images.stderr
    tag = json.loads(images.stdout)[0]["tag"]
    have = subprocess.run(["podman", "image", "exists", tag]).returncode == 0
    if not have and subprocess.run(["docker", "image", "inspect", tag], capture_output=True).returncode == 0:
        subprocess.run(f"docker save {tag} | podman load -q", shell=True, check=True, capture_output=True)
    demo, sub = tmp_path / "demo", tmp_path / "sub"
    subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(demo), "--images", "32"], check=True,
                   capture_output=True)
    (demo / "cache").mkdir()
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--engine", "podman", "--model", "resnet50",
                        "--backend", "onnxruntime", "--device", "cpu", "--scenario", "Offline", "--mode",
                        "performance", "--dataset-dir", str(demo / "datasets" / "imagenet"), "--model-path",
                        str(demo / "models"), "--submission-dir", str(sub), "--submitter", "lab", "--system-name",
                        "box_cpu", "--cache-dir", str(demo / "cache"), "--json"],
                       capture_output=True, text=True, env=env(), cwd=tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    row = summary["results"][0]
    assert (row["scenario"], row["mode"]) == ("Offline", "performance")
    assert row["result_validity"] in ("VALID", "INVALID")
    res = sub / "open" / "lab" / "results" / "box_cpu" / "resnet50" / "Offline"
    assert (res / "performance" / "run_1" / "mlperf_log_summary.txt").is_file()
    assert {p.stat().st_uid for p in res.rglob("*")} == {os.getuid()}
    left = subprocess.run(["podman", "ps", "-a", "-q", "--filter", "label=io.mlperfctl.run"], capture_output=True,
                          text=True).stdout.split()
    assert left == []
