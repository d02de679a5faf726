"""Backends against each other: the demo ONNX (1001 classes) and .pth (1000) share weights, so after the
label offsets they must name the same ImageNet class for the same input."""

import subprocess
import sys
import types
from pathlib import Path

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


def _fake_trt(name: str, full: bool):
    """A stand-in TensorRT module (pure logic: which runtime the backend takes, and what it refuses)."""
    module = types.ModuleType(name)
    module.__version__ = "11.4.0.106"
    module.Runtime = module.Logger = object
    if full:
        module.Builder = module.OnnxParser = object
    return module


def test_tensorrt_takes_the_full_runtime_before_the_lean_one_and_lean_refuses_onnx(tmp_path, monkeypatch):
    from mlperf_harness.errors import UsageError
    from mlperf_harness.frameworks import tensorrt as tensorrt_backend
    from mlperf_harness.workloads.imagenet.backends import create

    for name in ("tensorrt", "tensorrt_bindings", "tensorrt_lean"):
        monkeypatch.setitem(sys.modules, name, None)  # None: ImportError on import
    monkeypatch.setitem(sys.modules, "tensorrt_lean_bindings", _fake_trt("tensorrt_lean_bindings", full=False))
    assert tensorrt_backend.runtime_module().__name__ == "tensorrt_lean_bindings"
    onnx = tmp_path / "resnet50_v1.onnx"
    onnx.write_bytes(b"x")
    with pytest.raises(UsageError, match="lean runtime.*--versionCompatible"):
        create("tensorrt", "cuda", onnx, 1, "fp32", tmp_path / "cache", 8)
    assert tensorrt_backend.is_plan(tmp_path / "resnet50.plan") and tensorrt_backend.is_plan(Path("a.ENGINE"))
    assert not tensorrt_backend.is_plan(onnx)

    monkeypatch.setitem(sys.modules, "tensorrt_bindings", _fake_trt("tensorrt_bindings", full=True))
    trt = tensorrt_backend.runtime_module()
    assert trt.__name__ == "tensorrt_bindings" and tensorrt_backend.builds_engines(trt)

    for name in ("tensorrt_bindings", "tensorrt_lean_bindings"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(UsageError, match="needs TensorRT"):
        create("tensorrt", "cuda", onnx, 1, "fp32", tmp_path / "cache", 8)
