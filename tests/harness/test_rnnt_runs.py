"""rnnt end to end on demo data with the real LoadGen through `python -m mlperf_harness run` (the one run
skeleton and worker pool): Offline, SingleStream and Server, performance and accuracy, in test execution mode;
`demo-data --model rnnt` and `accuracy --model rnnt`."""

import json
import re

import pytest

import mlperf_rules

pytest.importorskip("torch", reason="torch is not installed in this environment")
pytest.importorskip("soundfile", reason="soundfile is not installed (the `harness` extra)")
pytest.importorskip("mlperf_loadgen", reason="mlcommons-loadgen is not installed (the `harness` extra)")

from mlperf_harness import workloads  # noqa: E402 - after the importorskip above
from mlperf_harness.workloads.rnnt import accuracy  # noqa: E402

from .conftest import flags, harness  # noqa: E402

COUNT = 6


@pytest.fixture(scope="module")
def rnnt_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("rnnt-demo")
    proc = harness("demo-data", root, "--model", "rnnt", "--images", COUNT, "--seed", 7)
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM" in proc.stderr
    return root


def _run(root, out, **over):
    d = workloads.get("rnnt")
    opts = {
        "model": "rnnt", "backend": "pytorch", "device": "cpu", "scenario": "Offline", "mode": "performance",
        "execution-mode": "test", "dataset-dir": root / d.demo_dataset_dir, "model-path": root / d.demo_model_dir,
        "output-dir": out, "threads": 2,
    }  # fmt: skip
    args = ["run", *flags(opts, over)]
    return harness(*args)


def test_demo_data_has_the_declared_layout(rnnt_demo):
    d = workloads.get("rnnt")
    assert all((rnnt_demo / d.demo_dataset_dir / f).is_file() for f in d.dataset_files)
    assert (rnnt_demo / d.demo_model_dir / d.model_file("pytorch")).is_file()


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
def test_accuracy_run_writes_the_v40_checkers_line(rnnt_demo, tmp_path, scenario):
    proc = _run(rnnt_demo, tmp_path, scenario=scenario, mode="accuracy")
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "accuracy.txt").read_text()
    assert re.match(accuracy.CHECKER_PATTERN, text.strip()), text
    rnd = mlperf_rules.rules_round("rnnt")
    assert rnd.version == "v4.0"
    (wer,) = rnd.accuracy_targets("rnnt")
    assert wer.target == pytest.approx((100 - 7.452) * 0.99)  # the v4.0 rulebook's bound
    value = mlperf_rules.accuracy_values(rnd, "rnnt", text)["WER"]
    assert value is not None and value < wer.target  # random weights: read, and below the target
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["accuracy"]["samples"] == COUNT and result["batch_size"] == (1 if scenario == "SingleStream" else 8)
    verdict = result["accuracy_verdict"]
    assert verdict["targets"] == [{"key": "WER", "target": wer.target, "upper": None}] and verdict["pass"] is False
    assert verdict["round"] == verdict["rules_round"] == "v4.0" and verdict["values"]["WER"] == value
    assert result["audio_seconds"] > 0 and list(result).index("audio_seconds") < list(result).index("duration_s")
    # the log holds int64 label ids for every utterance; `accuracy --model rnnt` scores it the same
    log = tmp_path / "mlperf_log_accuracy.json"
    assert accuracy.score(log, rnnt_demo / "datasets/librispeech")["samples"] == COUNT
    again = harness("accuracy", "--model", "rnnt", "--mlperf-accuracy-file", log, "--dataset-dir",
                    rnnt_demo / "datasets/librispeech")  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == text.strip()


@pytest.mark.parametrize(
    ("scenario", "extra", "metric"),
    [
        ("Offline", {}, "Samples per second"),
        ("SingleStream", {}, "90.0th percentile latency"),
        ("Server", {"target_qps": 20}, "Completed samples per second"),
    ],
)
def test_performance_run(rnnt_demo, tmp_path, scenario, extra, metric):
    proc = _run(rnnt_demo, tmp_path, scenario=scenario, test_query_count=16, **extra)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["metric"] and result["metric"]["value"] > 0
    assert metric in (tmp_path / "mlperf_log_summary.txt").read_text()
    assert result["sample_count"] == COUNT and result["workers"] == 1
    # mlperf.conf records what LoadGen took from its built-in conf (the v4.0 tree wants it beside user.conf)
    conf = (tmp_path / "mlperf.conf").read_text()
    assert "rnnt.*.performance_sample_count_override = 2513" in conf
    assert f"rnnt.{scenario}.min_duration = 600000" in conf


def test_bad_inputs_stop_before_loadgen(rnnt_demo, tmp_path):
    proc = _run(rnnt_demo, tmp_path, backend="onnxruntime")
    assert proc.returncode == 2 and "rnnt has no onnxruntime backend on cpu" in proc.stderr
    proc = _run(rnnt_demo, tmp_path, model_path=tmp_path / "none.pt")
    assert proc.returncode == 2 and "none.pt does not exist" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    proc = _run(rnnt_demo, tmp_path, scenario="MultiStream")
    assert proc.returncode == 2 and "rnnt has no MultiStream scenario" in proc.stderr
    assert not (tmp_path / "mlperf_log_summary.txt").exists()


def test_accuracy_command_refuses_float_logs(rnnt_demo, tmp_path):
    log = tmp_path / "mlperf_log_accuracy.json"
    log.write_text("[]")
    proc = harness("accuracy", "--model", "rnnt", "--mlperf-accuracy-file", log, "--dataset-dir",
                   rnnt_demo / "datasets/librispeech", "--dtype", "float32")  # fmt: skip
    assert proc.returncode == 2 and "--dtype float32: rnnt logs hold integer label ids" in proc.stderr
