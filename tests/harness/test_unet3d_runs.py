"""3d-unet end to end on the demo data: LoadGen runs in a subprocess, as the container runs them. Slow: one
128^3 window takes about 35 s on two cores."""

import json
import re
import subprocess
from pathlib import Path

import pytest

from mlperf_harness.workloads.unet3d import demo

from .conftest import flags, harness

CHECKER_DICE = r"Accuracy\:\s*mean\s*=\s*([\d\.]+).*"


def run(*args) -> subprocess.CompletedProcess:
    return harness("run", *args)


@pytest.fixture(scope="module")
def unet_demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("unet3d-demo")
    demo.write(root, 2, 5)
    return root


def args(root: Path, out: Path, **over) -> list[str]:
    opts = {
        "model": "3d-unet-99",
        "backend": "onnxruntime",
        "device": "cpu",
        "scenario": "Offline",
        "mode": "accuracy",
        "execution-mode": "test",
        "dataset-dir": root / demo.PREPROCESSED_DIR,
        "model-path": root / demo.ONNX_FILE,
        "output-dir": out,
    }
    return flags(opts, over)


def test_demo_has_reference_files(unet_demo):
    assert (unet_demo / demo.ONNX_FILE).stat().st_size > 100e6  # 31M float32 parameters
    import torch

    ckpt = torch.load(unet_demo / demo.PTH_FILE, map_location="cpu", weights_only=True)
    assert "input_block.conv1.0.weight" in ckpt["best_model_state_dict"]
    for case in ("case_00000", "case_00001"):
        assert (unet_demo / demo.RAW_DIR / case / "imaging.nii.gz").is_file()
        assert (unet_demo / demo.PREPROCESSED_DIR / f"{case}.pkl").is_file()


def test_missing_dataset_is_one_line_exit_2(unet_demo, tmp_path):
    proc = run(*args(unet_demo, tmp_path / "out", dataset_dir=tmp_path / "nowhere"))
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "nowhere/preprocessed_files.pkl does not exist" in proc.stderr


@pytest.mark.slow
def test_onnxruntime_accuracy_run_scores_dice(unet_demo, tmp_path):
    out = tmp_path / "out"
    proc = run(*args(unet_demo, out))
    assert proc.returncode == 0, proc.stderr
    line = (out / "accuracy.txt").read_text().strip()
    dice = float(re.match(CHECKER_DICE, line).group(1))
    result = json.loads((out / "result.json").read_text())
    assert result["metric"]["name"] == "DICE" and result["metric"]["value"] == pytest.approx(dice, abs=1e-5)
    assert result["accuracy"]["cases"] == 2 and result["peak_rss_mib"] > 0
    logged = json.loads((out / "mlperf_log_accuracy.json").read_text())
    sizes = sorted(len(e["data"]) // 2 for e in logged)
    assert sizes == [128**3, 192 * 128 * 128]  # one uint8 per voxel of each case


@pytest.mark.slow
def test_pytorch_checkpoint_performance_run(unet_demo, tmp_path):
    out = tmp_path / "out"
    proc = run(
        *args(
            unet_demo,
            out,
            backend="pytorch",
            model_path=unet_demo / demo.PTH_FILE,
            mode="performance",
            count=1,
        )
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["framework"]["name"] == "pytorch" and result["sample_count"] == 1
    assert result["metric"]["value"] > 0
    assert "3d-unet.Offline.min_query_count = 1" in (out / "user.conf").read_text()
