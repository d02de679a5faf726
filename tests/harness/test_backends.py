"""Backends against each other: the demo ONNX (1001 classes) and .pth (1000) share weights, so after the
label offsets they must name the same ImageNet class for the same input."""

import subprocess

import numpy as np
import pytest

from mlperf_harness.workloads.imagenet import backends

from .conftest import harness


def test_onnxruntime_and_pytorch_agree_after_label_offsets(demo, tmp_path):
    pytest.importorskip("torch", reason="torch is not installed in this environment")
    ort = backends.create("onnxruntime", "cpu", demo / "models/resnet50_v1.onnx", 2, "fp32", tmp_path, 8)
    pt = backends.create("pytorch", "cpu", demo / "models/resnet50-19c8e357.pth", 2, "fp32", tmp_path, 8)
    assert (ort.label_offset, pt.label_offset) == (-1, 0)
    x = np.random.default_rng(0).standard_normal((4, 3, 224, 224), dtype=np.float32) * 60
    assert np.array_equal(ort.predict(x) + ort.label_offset, pt.predict(x) + pt.label_offset)


def _tensorrt_with_gpu() -> bool:
    try:
        import tensorrt  # noqa: F401
    except ImportError:
        return False
    return subprocess.run(["nvidia-smi"], capture_output=True).returncode == 0


@pytest.mark.slow
@pytest.mark.skipif(not _tensorrt_with_gpu(), reason="TensorRT is not importable here or there is no NVIDIA GPU")
def test_tensorrt_offline(run_args, tmp_path):
    proc = harness(*run_args(backend="tensorrt", device="cuda", cache_dir=tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    assert list((tmp_path / "cache").glob("resnet50-*.plan")), "the engine plan should be cached"
