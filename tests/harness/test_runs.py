"""End-to-end LoadGen runs on the demo data: every scenario x mode on onnxruntime, the main ones on pytorch."""

import json
import re
from pathlib import Path

import numpy as np
import pytest

from mlperf_harness.loadgen import logs

from .conftest import DEMO_IMAGES, harness

# Settings that let a CPU finish each scenario in seconds; the Server bound is relaxed (test mode only).
SCENARIO_ARGS = {
    "Offline": {},
    "SingleStream": {},
    "MultiStream": {},
    "Server": {"target_qps": 8, "target_latency": 10000},
}
TEST_QUERIES = {"Offline": 1, "SingleStream": 64, "MultiStream": 16, "Server": 32}


def check_run(proc, out: Path, scenario: str, mode: str, backend: str) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json", "user.conf"):
        assert (out / name).is_file(), name
    assert not (out / "audit.config").exists()
    assert not (out / "mlperf_log_trace.json").exists()
    result = json.loads((out / "result.json").read_text())
    assert (result["scenario"], result["mode"], result["backend"]) == (scenario, mode, backend)
    assert result["framework"]["name"] == backend and result["framework"]["version"]
    assert result["loadgen_version"] == "6.0.17"
    assert result["sample_count"] == DEMO_IMAGES
    assert result["threads"] >= 1 and result["batch_size"] >= 1 and result["duration_s"] > 0
    summary = (out / "mlperf_log_summary.txt").read_text()
    detail = logs.read_detail(out / "mlperf_log_detail.txt")
    assert detail["effective_scenario"] == scenario
    assert detail["effective_test_mode"] == ("AccuracyOnly" if mode == "accuracy" else "PerformanceOnly")
    entries = json.loads((out / "mlperf_log_accuracy.json").read_text())
    if mode == "performance":
        assert entries == []  # no audit.config was picked up: nothing sampled into the accuracy log
        validity = "VALID" if "Result is : VALID" in summary else "INVALID"
        assert result["result_validity"] == validity
        if validity == "INVALID":
            assert logs.only_too_short(detail), summary
            assert any("INVALID only because" in n for n in result["validity_notes"])
        if scenario == "SingleStream":  # LoadGen goes on until both the 1 s and the 64 queries are met
            assert validity == "VALID", summary
        if scenario == "Offline":  # valid but on a machine fast enough to finish 128 samples within 1 s
            assert detail["result_min_queries_met"] and detail["early_stopping_met"], summary
        assert detail["result_query_count"] >= TEST_QUERIES[scenario]
        if scenario == "Offline":
            assert detail["generated_samples_per_query"] >= 128
        metric = result["metric"]
        assert metric["value"] > 0 and metric["unit"] in ("samples/s", "ms")
    else:
        # every QSL sample exactly once, each answered with a float32 ImageNet label in 0..999
        assert sorted(e["qsl_idx"] for e in entries) == list(range(DEMO_IMAGES))
        labels = [np.frombuffer(bytes.fromhex(e["data"]), np.float32) for e in entries]
        assert all(len(x) == 1 and 0 <= x[0] <= 999 and x[0] == int(x[0]) for x in labels)
        line = (out / "accuracy.txt").read_text().strip()
        assert re.fullmatch(rf"accuracy=\d+\.\d{{3}}%, good=\d+, total={DEMO_IMAGES}", line), line
        assert result["metric"]["name"] == "top1_accuracy"
        assert result["result_validity"] == "N/A"
    return result


@pytest.mark.parametrize("mode", ["performance", "accuracy"])
@pytest.mark.parametrize("scenario", list(SCENARIO_ARGS))
def test_onnxruntime(run_args, tmp_path, scenario, mode):
    proc = harness(*run_args(scenario=scenario, mode=mode, **SCENARIO_ARGS[scenario]))
    check_run(proc, tmp_path / "out", scenario, mode, "onnxruntime")
    if mode == "accuracy":  # demo-data labels each image with the ONNX model's own top-1 (see its docstring)
        assert (tmp_path / "out" / "accuracy.txt").read_text().startswith(f"accuracy=100.000%, good={DEMO_IMAGES},")


@pytest.mark.parametrize(
    "scenario,mode",
    [
        pytest.param("Offline", "performance", marks=pytest.mark.slow),
        ("Offline", "accuracy"),
        pytest.param("SingleStream", "performance", marks=pytest.mark.slow),
        ("SingleStream", "accuracy"),
    ],
)
def test_pytorch(run_args, demo, tmp_path, scenario, mode):
    pytest.importorskip("torch", reason="torch is not installed in this environment")
    args = run_args(scenario=scenario, mode=mode, backend="pytorch", model_path=demo / "models/resnet50-19c8e357.pth")
    result = check_run(harness(*args), tmp_path / "out", scenario, mode, "pytorch")
    assert result["framework"]["name"] == "pytorch"


def test_audit_config_is_used_then_removed(run_args, tmp_path):
    """A compliance run: LoadGen reads audit.config from its cwd (the output dir); it is gone afterwards."""
    audit = tmp_path / "my-audit.config"
    audit.write_text("*.*.accuracy_log_rng_seed = 720381539243781796\n*.*.accuracy_log_sampling_target = 16\n")
    proc = harness(*run_args(audit_config=audit))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    assert not (out / "audit.config").exists()
    assert json.loads((out / "mlperf_log_accuracy.json").read_text()), "audit sampling logged nothing"
    assert json.loads((out / "result.json").read_text())["compliance_audit"] is True


def test_cache_is_reused(run_args, tmp_path):
    args = run_args(mode="accuracy", cache_dir=tmp_path / "cache")
    first, second = harness(*args), harness(*args)
    assert first.returncode == second.returncode == 0, first.stderr + second.stderr
    assert f"({DEMO_IMAGES} newly preprocessed)" in first.stdout
    assert "(0 newly preprocessed)" in second.stdout
    assert len(list((tmp_path / "cache").glob("imagenet-vgg-*/*.npy"))) == DEMO_IMAGES


def test_performance_sample_count_and_test_query_count_reach_loadgen(run_args, tmp_path):
    proc = harness(*run_args(scenario="SingleStream", performance_sample_count=8, test_query_count=20))
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "out"
    conf = (out / "user.conf").read_text()
    assert "resnet50.*.performance_sample_count_override = 8" in conf
    assert "resnet50.SingleStream.min_query_count = 20" in conf
    detail = logs.read_detail(out / "mlperf_log_detail.txt")
    assert (detail["effective_min_query_count"], detail["effective_performance_sample_count"]) == (20, 8)
    assert json.loads((out / "result.json").read_text())["performance_sample_count"] == 8


def test_samples_is_an_alias_of_performance_sample_count(run_args, tmp_path):
    proc = harness(*run_args(mode="accuracy", samples=4))
    assert proc.returncode == 0, proc.stderr
    assert "resnet50.*.performance_sample_count_override = 4" in (tmp_path / "out/user.conf").read_text()


def test_test_query_count_is_refused_in_a_valid_run(run_args):
    from .test_bad_inputs import assert_bad_input

    assert_bad_input(harness(*run_args(execution_mode="valid", test_query_count=5)), "--test-query-count", "valid")
