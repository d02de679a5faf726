"""`mlperfctl run --model 3d-unet-99` on the real engine: the onnxruntime CPU container on one demo KiTS19 case
(128^3, a single window), Offline performance and accuracy in test mode, results in the submission tree with
the DICE line the checker's pattern reads. Kept cheap: --count 1 and --test-query-count 1 (a window takes
7-35 s on two shared cores)."""

import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
MODEL = "3d-unet-99"


def env() -> dict:
    ca_certs = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(ca_certs),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200", "PYTHONPATH": str(ROOT)}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base):
    root = tmp_path_factory.mktemp("unet3d-demo")
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(root), "--model", MODEL,
                        "--images", "1"], capture_output=True, text=True, env=env())
    assert r.returncode == 0, r.stderr
    return root


def test_offline_run_in_its_container_writes_dice(demo, tmp_path, docker_client):
    sub = tmp_path / "submission"
    cmd = [sys.executable, "-m", "mlperfctl", "run", "--model", MODEL, "--scenario", "Offline",
           "--backend", "onnxruntime", "--device", "cpu",
           "--dataset-dir", demo / "datasets" / "kits19" / "preprocessed", "--model-path", demo / "models",
           "--count", "1", "--test-query-count", "1",
           "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu", "--json"]
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, cwd=ROOT, env=env())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert summary["cell"] == f"python-onnxruntime-cpu-{MODEL}"
    rows = {x["mode"]: x for x in summary["results"]}
    perf = rows["performance"]
    assert perf["result_validity"] == "VALID" or perf["validity_notes"], perf
    res = sub / "open" / "lab" / "results" / "box_cpu" / MODEL / "Offline"
    for name in ("performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_detail.txt", "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt",
                 "user.conf", "run.json"):
        assert (res / name).is_file(), name
    line = (res / "accuracy" / "accuracy.txt").read_text().splitlines()[0]
    rules = mlperf_rules.rules_round(MODEL)
    (metric,) = rules.accuracy_targets(MODEL)
    assert metric.key == "DICE"
    match = re.match(rules.acc_patterns[metric.key], line)
    assert match, line
    assert 0.0 <= float(match.group(1)) <= 1.0
    logged = json.loads((res / "accuracy" / "mlperf_log_accuracy.json").read_text())
    assert [len(e["data"]) // 2 for e in logged] == [128**3]  # one uint8 per voxel of the one case
    assert perf["sample_count"] == 1 and perf["performance_sample_count"] == 1  # one case in memory
    print(f"3d-unet Offline run: peak RSS {perf['peak_rss_mib']} MiB (performance), "
          f"{rows['accuracy']['peak_rss_mib']} MiB (accuracy)")
    assert perf["peak_rss_mib"] > 0
    # other runs may share this engine: only this cell's run containers must be gone
    assert not docker_client.containers.list(all=True, filters={"label": f"io.mlperfctl.cell={summary['cell']}"})
