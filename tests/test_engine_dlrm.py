"""`mlperfctl run --model dlrm-v2-99 --version v5.1` on the real engine: the pytorch CPU container (torch from the
local CPU wheel) on the demo multi-hot Criteo set and the small-table DLRM-DCNv2, Offline performance and
accuracy in test mode, results in the v5.1 submission tree with the AUC line the checker's pattern reads."""

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
MODEL = "dlrm-v2-99"


def env() -> dict:
    ca_certs = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(ca_certs),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200", "PYTHONPATH": str(ROOT),
            "MLPERFCTL_WHEEL_DIR": "/opt/wheels"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base):
    if not glob.glob("/opt/wheels/torch-2.13.0+cpu-*.whl"):
        pytest.skip("no local torch 2.13.0 CPU wheel in /opt/wheels (download.pytorch.org is unreachable here)")
    root = tmp_path_factory.mktemp("dlrm-demo")
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(root), "--model", MODEL,
                        "--images", "4000"], capture_output=True, text=True, env=env())
    assert r.returncode == 0, r.stderr
    return root


def test_offline_v5_1_run_in_its_container_writes_auc(demo, tmp_path, docker_client):
    rules = mlperf_rules.rules_round(MODEL)
    assert rules.version == "v5.1"  # dlrm-v2's last round
    sub = tmp_path / "submission"
    cmd = [sys.executable, "-m", "mlperfctl", "run", "--model", MODEL, "--scenario", "Offline",
           "--version", "v5.1", "--category", "datacenter", "--device", "cpu", "--threads", "2",
           "--dataset-dir", demo / "datasets" / "criteo", "--model-path", demo / "models",
           "--count", "4", "--test-query-count", "4",
           "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu", "--json"]
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, cwd=ROOT, env=env())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert summary["cell"] == f"python-pytorch-cpu-{MODEL}"
    rows = {x["mode"]: x for x in summary["results"]}
    perf = rows["performance"]
    assert perf["result_validity"] == "VALID" or perf["validity_notes"], perf
    assert perf["sample_count"] == 4 and perf["rows"] > 0 and perf["peak_rss_mib"] > 0
    res = sub / "open" / "lab" / "results" / "box_cpu" / MODEL / "Offline"
    for name in ("performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_detail.txt", "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt"):
        assert (res / name).is_file(), name
    # the v5 tree: user.conf, run.json and the measurements json in measurements/<system>/<model>/<Scenario>/
    meta = sub / "open" / "lab" / rules.layout.meta_dir("box_cpu", MODEL, "Offline")
    assert rules.layout.family == "v5" and (meta / "user.conf").is_file() and (meta / "run.json").is_file()
    assert list(meta.glob("box_cpu_*_Offline.json"))  # <system>_<impl>_<scenario>.json
    line = (res / "accuracy" / "accuracy.txt").read_text().splitlines()[0]
    (metric,) = rules.accuracy_targets(MODEL)
    assert metric.key == "AUC"
    match = re.match(rules.acc_patterns[metric.key], line)
    assert match, line
    assert 0.0 <= float(match.group(1)) <= 100.0
    logged = json.loads((res / "accuracy" / "mlperf_log_accuracy.json").read_text())
    assert len(logged) == 4  # one entry per aggregated query, float32 (prediction, label) per row
    assert sum(len(e["data"]) // 2 for e in logged) == 8 * rows["accuracy"]["rows"]
    # other runs may share this engine: only this cell's run containers must be gone
    assert not docker_client.containers.list(all=True, filters={"label": f"io.mlperfctl.cell={summary['cell']}"})
