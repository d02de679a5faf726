"""`info`: what this image can run, as JSON for the host."""

import importlib
import platform

from . import __version__


def _version(module: str) -> str | None:
    try:
        return importlib.import_module(module).__version__
    except Exception:  # noqa: BLE001 - a broken framework install counts as absent
        return None


def _dist_version(module: str, *dists: str) -> str | None:
    """The installed version of the first of these distributions when `module` is importable, found without
    importing it (tensorflow takes seconds)."""
    from importlib.metadata import PackageNotFoundError, version
    from importlib.util import find_spec

    try:
        if find_spec(module) is None:
            return None
    except (ImportError, ValueError):  # ValueError: blocked (sys.modules[module] is None)
        return None
    for dist in dists:
        try:
            return version(dist)
        except PackageNotFoundError:
            continue
    return None


def loadgen_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("mlcommons-loadgen")
    except PackageNotFoundError:
        return "unknown"


def collect() -> dict:
    import mlperf_loadgen  # noqa: F401 - its absence is an error the caller must see

    info = {
        "harness_version": __version__,
        "python": platform.python_version(),
        "loadgen_version": loadgen_version(),
        "frameworks": {
            **{m: v for m in ("onnxruntime", "torch") if (v := _version(m))},
            **{
                m: v
                for m, d in (("ai_edge_litert", ("ai-edge-litert",)), ("tensorflow", ("tensorflow-cpu", "tensorflow")))
                if (v := _dist_version(m, *d))
            },
        },
        "onnxruntime_providers": [],
    }
    # TensorRT: the full one (builds engines from ONNX) or its lean runtime (runs plans)
    from .frameworks import tensorrt

    try:
        trt = tensorrt.runtime_module()
        info["frameworks"]["tensorrt"] = trt.__version__
        info["tensorrt_runtime"] = tensorrt.kind(trt)
    except Exception:  # noqa: BLE001 - absent, or a broken install, counts as absent (as _version does)
        pass
    if "onnxruntime" in info["frameworks"]:
        import onnxruntime

        info["onnxruntime_providers"] = onnxruntime.get_available_providers()
    if "torch" in info["frameworks"]:
        import torch

        info["torch_accelerator"] = "rocm" if torch.version.hip else ("cuda" if torch.version.cuda else None)
    return info
