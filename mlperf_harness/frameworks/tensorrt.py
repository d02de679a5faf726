"""TensorRT: which of its two runtimes this image has, and whether a model file is a serialized engine.

The full TensorRT (`tensorrt`, from NVIDIA's index or wheels given with --wheel-dir) builds engines from ONNX and
runs them; TensorRT's lean runtime (`tensorrt_lean`, on PyPI, what the registry-free cuda cell installs) runs
version-compatible plans only. TensorRT itself is imported when runtime_module() runs."""

import importlib
from pathlib import Path

from mlperf_harness.errors import UsageError

# the module names each wheel set installs: the meta package's `tensorrt`, or the bindings wheel's own name
FULL = ("tensorrt", "tensorrt_bindings")
LEAN = ("tensorrt_lean", "tensorrt_lean_bindings")
PLAN_SUFFIXES = (".plan", ".engine", ".trt")


def runtime_module():
    """The TensorRT module in this image: the full one (it has a Builder) before the lean runtime."""
    for name in (*FULL, *LEAN):
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise UsageError("the tensorrt backend needs TensorRT: neither tensorrt nor tensorrt_lean imports",
                     "use the python-tensorrt-cuda-* image (mlperfctl build --backend tensorrt --device cuda)")


def is_plan(path: Path) -> bool:
    """A serialized engine rather than an ONNX model: by its suffix (TensorRT's own tools write .plan/.engine)."""
    return path.suffix.lower() in PLAN_SUFFIXES


def builds_engines(trt) -> bool:
    return hasattr(trt, "Builder") and hasattr(trt, "OnnxParser")


def kind(module) -> str:
    """`full` or `lean`: what `mlperf_harness info` reports as tensorrt_runtime."""
    return "lean" if module.__name__ in LEAN else "full"
