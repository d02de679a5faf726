"""dlrm-v2 end to end on the demo data: LoadGen runs in a subprocess, as the container runs them."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from mlperf_harness.workloads.dlrm import TRACE_FILE, demo

from .conftest import flags, harness

CHECKER_AUC = r"^AUC=([\d\.]+).*"


def run(*args) -> subprocess.CompletedProcess:
    return harness("run", *args)


@pytest.fixture(scope="module")
def dlrm_demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("dlrm-demo")
    demo.write(root, 1600, 3)
    return root


def args(root: Path, out: Path, **over) -> list[str]:
    opts = {
        "model": "dlrm-v2-99",
        "backend": "pytorch",
        "device": "cpu",
        "scenario": "Offline",
        "mode": "accuracy",
        "execution-mode": "test",
        "dataset-dir": root / demo.DATASET_DIR,
        "model-path": root / demo.MODEL_DIR,
        "output-dir": out,
    }
    return flags(opts, over)


def test_accuracy_run_logs_prediction_label_pairs_and_auc(dlrm_demo, tmp_path):
    out = tmp_path / "out"
    proc = run(*args(dlrm_demo, out))
    assert proc.returncode == 0, proc.stderr
    line = (out / "accuracy.txt").read_text().strip()
    auc = float(re.match(CHECKER_AUC, line).group(1))
    result = json.loads((out / "result.json").read_text())
    assert result["metric"] == {"name": "AUC", "value": pytest.approx(auc, abs=1e-3), "unit": "%"}
    trace = (out / TRACE_FILE).read_text().splitlines()
    assert len(trace) == result["sample_count"] and trace[0] == "0, 200, 200"  # first reference draw
    logged = json.loads((out / "mlperf_log_accuracy.json").read_text())
    rows = sum(len(e["data"]) // 2 // 8 for e in logged)  # 8 bytes per (prediction, label) pair
    assert rows == 800 == result["rows"]  # the evaluation half of the 1600 demo rows


def test_performance_run(dlrm_demo, tmp_path):
    out = tmp_path / "out"
    proc = run(*args(dlrm_demo, out, mode="performance"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["metric"]["value"] > 0 and result["framework"]["name"] == "pytorch"
    assert result["peak_rss_mib"] > 0 and "dlrm-v2.Offline.min_query_count = 16" in (out / "user.conf").read_text()


def test_wrong_backend_is_one_line_exit_2(dlrm_demo, tmp_path):
    proc = run(*args(dlrm_demo, tmp_path / "out", backend="onnxruntime"))
    assert proc.returncode == 2 and proc.stderr.strip() == (
        "error: dlrm-v2-99 has no onnxruntime backend on cpu (use --backend pytorch)"
    )


def test_single_stream_is_refused_by_the_declaration(dlrm_demo, tmp_path):
    proc = run(*args(dlrm_demo, tmp_path / "out", scenario="SingleStream"))
    assert proc.returncode == 2 and "dlrm-v2-99 has no SingleStream scenario" in proc.stderr
    assert not (tmp_path / "out").exists()  # refused before anything was written
