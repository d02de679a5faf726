"""rnnt end to end on demo data with the real LoadGen (in a subprocess each): Offline and SingleStream,
performance and accuracy, in test execution mode."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("torch", reason="torch is not installed in this environment")
pytest.importorskip("soundfile", reason="soundfile is not installed (the `harness` extra)")
pytest.importorskip("mlperf_loadgen", reason="mlcommons-loadgen is not installed (the `harness` extra)")

from mlperf_harness.workloads.rnnt import accuracy, demo  # noqa: E402 - after the importorskip above

RUN = """
import sys
from argparse import Namespace
from mlperf_harness.errors import UsageError  # noqa: E402 - after the importorskip above
from mlperf_harness.workloads.rnnt.run import run  # noqa: E402 - after the importorskip above
a = Namespace(**{json_args})
try:
    sys.exit(run(a))
except UsageError as e:
    print(f"error: {{e}}", file=sys.stderr)
    sys.exit(2)
"""


@pytest.fixture(scope="module")
def rnnt_demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rnnt-demo")
    demo.write(root, 6, seed=7)
    return root


def _run(root: Path, out: Path, **over) -> subprocess.CompletedProcess:
    args = {
        "model": "rnnt",
        "backend": "pytorch",
        "device": "cpu",
        "scenario": "Offline",
        "mode": "performance",
        "execution_mode": "test",
        "dataset_dir": str(root / demo.DATASET_DIR),
        "model_path": str((root / demo.MODEL_FILE).parent),
        "output_dir": str(out),
        "cache_dir": None,
        "precision": "fp32",
        "target_qps": None,
        "target_latency": None,
        "threads": 2,
        "max_batchsize": None,
        "count": None,
        "samples": None,
        "audit_config": None,
    }
    args.update(over)
    code = RUN.format(json_args=repr(args))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
def test_accuracy_run_writes_the_checkers_line(rnnt_demo, tmp_path, scenario):
    proc = _run(rnnt_demo, tmp_path, scenario=scenario, mode="accuracy")
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = (tmp_path / "accuracy.txt").read_text().strip()
    assert re.match(accuracy.CHECKER_PATTERN, line), line
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["accuracy"]["samples"] == 6 and result["batch_size"] == (1 if scenario == "SingleStream" else 8)
    assert result["accuracy_pass"] is False  # random weights
    # the log holds int64 label ids for every utterance, scored the same by the accuracy command
    assert accuracy.score(tmp_path / "mlperf_log_accuracy.json", rnnt_demo / demo.DATASET_DIR)["samples"] == 6


@pytest.mark.parametrize(
    ("scenario", "metric"), [("Offline", "Samples per second"), ("SingleStream", "90.0th percentile latency")]
)
def test_performance_run(rnnt_demo, tmp_path, scenario, metric):
    proc = _run(rnnt_demo, tmp_path, scenario=scenario)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["metric"] and result["metric"]["value"] > 0
    assert metric in (tmp_path / "mlperf_log_summary.txt").read_text()
    assert result["sample_count"] == 6


def test_bad_inputs_stop_before_loadgen(rnnt_demo, tmp_path):
    proc = _run(rnnt_demo, tmp_path, backend="onnxruntime")
    assert proc.returncode == 2 and "pytorch backend" in proc.stderr
    proc = _run(rnnt_demo, tmp_path, model_path=str(tmp_path / "none.pt"))
    assert proc.returncode == 2 and "none.pt does not exist" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "mlperf_log_summary.txt").exists()
