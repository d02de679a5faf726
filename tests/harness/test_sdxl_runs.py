"""sdxl end to end on the demo pipeline: test-mode performance runs of each scenario, and an accuracy run.

Each run is its own process, as the host starts them: LoadGen applies its embedded mlperf.conf only on the
first FromConfig(..., conf_type=1) of a process, so a second in-process run would lose the round's settings."""

import ast
import json
import math
import re

import pytest

from mlperf_harness.cli import main

from .conftest import harness

pytestmark = pytest.mark.slow


def _run(demo, out, scenario, mode="performance", *extra):
    proc = harness(
        "run", "--model", "sdxl", "--backend", "pytorch", "--device", "cpu", "--scenario", scenario,
        "--mode", mode, "--execution-mode", "test", "--dataset-dir", demo / "datasets/coco2014",
        "--model-path", demo / "models/stable_diffusion_fp32", "--output-dir", out, *extra,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "result.json").read_text())


@pytest.mark.parametrize("scenario,extra", [("Offline", ("--target-qps", "8")), ("Server", ("--target-qps", "1")),
                                            ("SingleStream", ())])
def test_performance_run(sdxl_demo, tmp_path, scenario, extra):
    result = _run(sdxl_demo, tmp_path, scenario, "performance", *extra)
    summary = (tmp_path / "mlperf_log_summary.txt").read_text()
    assert f"Scenario : {scenario}" in summary
    assert (tmp_path / "mlperf_log_detail.txt").is_file()
    conf = (tmp_path / "user.conf").read_text()
    assert f"stable-diffusion-xl.{scenario}.min_query_count = 4" in conf
    assert result["model"] == "sdxl" and result["scenario"] == scenario and result["image_size"] == 64
    assert result["steps"] == 20 and result["guidance_scale"] == 8.0
    assert result["metric"]["value"] > 0
    notes = " ".join(result["validity_notes"])
    assert "test execution mode" in notes
    if result["result_validity"] != "VALID":
        assert "INVALID only because the shortened run was too short" in notes
    if scenario == "Offline":  # 8 samples (target_qps x min_duration) take over the 1 s minimum here
        assert result["result_validity"] == "VALID"
        assert re.search(r"samples_per_query : 8\b", summary)


def test_accuracy_run_writes_clip_and_fid(sdxl_demo, tmp_path, capsys):
    result = _run(sdxl_demo, tmp_path, "Offline", "accuracy", "--count", "4")
    lines = (tmp_path / "accuracy.txt").read_text().splitlines()
    assert [line.split("'")[1] for line in lines] == ["CLIP_SCORE", "FID_SCORE"]
    log = json.loads((tmp_path / "mlperf_log_accuracy.json").read_text())
    assert sorted({r["qsl_idx"] for r in log}) == [0, 1, 2, 3]
    assert len(bytes.fromhex(log[0]["data"])) == 64 * 64 * 3
    assert result["accuracy"]["samples"] == 4
    assert result["accuracy_verdict"]["pass"] is False  # random weights
    assert result["metric"]["name"] == "CLIP_SCORE"
    assert -100 <= result["accuracy"]["CLIP_SCORE"] <= 100 and result["accuracy"]["FID_SCORE"] >= 0
    assert set(result["accuracy_verdict"]["values"]) == {"CLIP_SCORE", "FID_SCORE"}
    assert main(["accuracy-coco", "--mlperf-accuracy-file", str(tmp_path / "mlperf_log_accuracy.json"),
                 "--dataset-dir", str(sdxl_demo / "datasets/coco2014"), "--output", str(tmp_path / "acc.txt")]) == 0
    captured = capsys.readouterr()
    out = captured.out.splitlines()
    # the same images score the same (up to float32 summation order under another thread count)
    rescored = [ast.literal_eval(line) for line in out[-2:]]
    for got, want in zip(rescored, map(ast.literal_eval, lines), strict=True):
        assert got.keys() == want.keys()
        assert all(math.isclose(got[k], want[k], rel_tol=1e-4) for k in got), (got, want)
    last = captured.err.splitlines()[-1]
    assert last.startswith("accuracy verdict (v6.1): CLIP_SCORE=") and last.endswith("FAIL")
