"""`mlperfctl prepare` on the real engine, end to end: a raw ImageNet fixture in its published layout (the
validation tar and caffe's val.txt) -> the resnet50 onnxruntime CPU cell's container (no network, raw read-only)
-> the prepared folder -> `mlperfctl run` on it (accuracy, test execution mode) -> a result."""

import json
import os
import subprocess
import sys

import pytest

from tests.harness.test_prepare import imagenet_raw
from tests.test_engine_run import ROOT, env

pytestmark = [pytest.mark.engine, pytest.mark.slow]
N = 8


def mlperfctl(*args, expect=0):
    r = subprocess.run([sys.executable, "-m", "mlperfctl", *map(str, args)], capture_output=True, text=True,
                       env=env(), cwd=ROOT)
    assert r.returncode == expect, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def test_raw_fixture_to_result(tmp_path, local_base, no_containers):
    raw = imagenet_raw(tmp_path, n=N)
    dest = tmp_path / "imagenet"
    r = mlperfctl("prepare", "--model", "resnet50", "--backend", "onnxruntime", "--device", "cpu", "--raw", raw,
                  "--dest", dest, "--json")
    summary = json.loads(r.stdout)
    assert summary["status"] == "prepared" and summary["cell"] == "python-onnxruntime-cpu-resnet50"
    assert summary["summary"]["samples"] == N and summary["summary"]["source"].endswith("ILSVRC2012_img_val.tar")
    assert len((dest / "val_map.txt").read_text().splitlines()) == N
    assert {p.stat().st_uid for p in dest.rglob("*")} == {os.getuid()}
    assert not any(p.name.endswith("mlperfctl-partial") for p in tmp_path.iterdir())
    assert no_containers("io.mlperfctl.prepare")
    # the same command again finds it done
    assert json.loads(mlperfctl("prepare", "--model", "resnet50", "--device", "cpu", "--raw", raw, "--dest", dest,
                                "--json").stdout)["status"] == "kept"

    models = tmp_path / "demo"
    subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", models, "--images", "1", "--backend",
                    "onnxruntime"], check=True, capture_output=True)
    (tmp_path / "cache").mkdir()
    r = mlperfctl("run", "--model", "resnet50", "--backend", "onnxruntime", "--device", "cpu", "--dataset-dir", dest,
                  "--model-path", models / "models", "--submission-dir", tmp_path / "sub", "--cache-dir",
                  tmp_path / "cache", "--scenario", "Offline", "--mode", "accuracy", "--json")
    rows = {row["mode"]: row for row in json.loads(r.stdout)["results"]}
    assert list(rows) == ["accuracy"]
    assert rows["accuracy"]["accuracy"].startswith("accuracy=") and f"total={N}" in rows["accuracy"]["accuracy"]
