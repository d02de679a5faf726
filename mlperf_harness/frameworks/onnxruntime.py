"""ONNX Runtime: one InferenceSession per model on the execution provider of --device; never a silent CPU
fallback (a missing provider, or a session that started on another one, is a one-line UsageError)."""

from pathlib import Path

from mlperf_harness.errors import UsageError

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "rocm": "ROCMExecutionProvider"}


def version() -> str:
    import onnxruntime as ort

    return ort.__version__


def session(model: Path | bytes, device: str, threads: int, fix: str = "pass a valid ONNX model", name=None):
    """An InferenceSession of `model` (a file, or the serialized model as bytes; `name` is then the file named
    in messages) on the device's provider alone, `threads` intra-op threads, one inter-op thread and all graph
    optimisations; or a one-line UsageError: the provider missing from this build, the model unloadable (`fix`
    says what to pass), or the session not on the provider asked for."""
    import onnxruntime as ort

    if device not in PROVIDERS:
        raise UsageError(f"--device {device} has no onnxruntime provider", f"use --device {' or '.join(PROVIDERS)}")
    provider = PROVIDERS[device]
    available = ort.get_available_providers()
    if provider not in available:
        raise UsageError(
            f"--device {device}: onnxruntime {ort.__version__} here has no {provider} "
            f"(available: {', '.join(available)})",
            f"run in an image built for --device {device}, or pick --device from what is available",
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    shown = name if name is not None else model
    try:
        sess = ort.InferenceSession(model if isinstance(model, bytes) else str(model), opts, providers=[provider])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UsageError(f"onnxruntime cannot load {shown}: {first[:300]}", fix) from None
    started = sess.get_providers()
    if not started or started[0] != provider:
        raise UsageError(
            f"--device {device}: onnxruntime could not start {provider} (the session uses {', '.join(started)})",
            "check the GPU driver and runtime libraries in this image",
        )
    return sess
