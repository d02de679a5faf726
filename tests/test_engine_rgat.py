"""`mlperfctl run --model rgat --mode all --execution-mode test` on the real engine: the pytorch CPU container (torch
from the local CPU wheel, torch_geometric from PyPI) on the demo IGBH-layout graph and the seeded RGAT checkpoint,
Offline performance and accuracy, results in the v6.1 tree with the accuracy line the checker's pattern reads."""

import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules

pytestmark = [pytest.mark.engine, pytest.mark.slow,
              pytest.mark.docker_only("a model test: podman's engine parity is checked by the imagenet, bert and gptj "
                                      "cases; one more podman image build per family would cost CI minutes")]

ROOT = Path(__file__).resolve().parent.parent
MODEL = "rgat"
COUNT = 16


def env() -> dict:
    ca_certs = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(ca_certs),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200", "PYTHONPATH": str(ROOT),
            "MLPERFCTL_WHEEL_DIR": "/opt/wheels"}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base):
    if not glob.glob("/opt/wheels/torch-2.13.0+cpu-*.whl"):
        pytest.skip("no local torch 2.13.0 CPU wheel in /opt/wheels (download.pytorch.org is unreachable here)")
    root = tmp_path_factory.mktemp("rgat-demo")
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(root), "--model", MODEL,
                        "--images", str(COUNT)], capture_output=True, text=True, env=env())
    assert r.returncode == 0, r.stderr
    return root


def test_mode_all_in_its_container_writes_the_accuracy_line_the_checker_reads(demo, tmp_path, no_containers):
    rules = mlperf_rules.rules_round(MODEL)
    assert rules.version == "v6.1"
    sub = tmp_path / "submission"
    cmd = [sys.executable, "-m", "mlperfctl", "run", "--model", MODEL, "--scenario", "Offline", "--mode", "all",
           "--execution-mode", "test", "--category", "datacenter", "--device", "cpu", "--threads", "2",
           "--dataset-dir", demo / "datasets" / "igbh" / "tiny", "--model-path", demo / "models" / "rgat",
           "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu", "--json"]
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, cwd=ROOT, env=env())
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert summary["cell"] == f"python-pytorch-cpu-{MODEL}"
    rows = {x["mode"]: x for x in summary["results"]}
    perf, acc = rows["performance"], rows["accuracy"]
    assert perf["result_validity"] == "VALID" or perf["validity_notes"], perf
    assert acc["sample_count"] == COUNT and perf["peak_rss_mib"] > 0
    res = sub / "open" / "lab" / rules.layout.scenario_dir("box_cpu", MODEL, "Offline")
    for name in ("performance/run_1/mlperf_log_summary.txt", "accuracy/mlperf_log_accuracy.json",
                 "accuracy/accuracy.txt"):
        assert (res / name).is_file(), name
    line = (res / "accuracy" / "accuracy.txt").read_text().splitlines()[0]
    (metric,) = rules.accuracy_targets(MODEL)
    assert metric.key == "acc" and metric.target == pytest.approx(0.7286 * 0.99)
    match = re.match(rules.acc_patterns[metric.key], line)
    assert match, line
    assert line == f"accuracy=100.000%, good={COUNT}, total={COUNT}"  # the demo labels are the model's answers
    assert float(match.group(1)) >= metric.target
    # other runs may share this engine: only this cell's run containers must be gone
    assert no_containers(f"io.mlperfctl.cell={summary['cell']}")
