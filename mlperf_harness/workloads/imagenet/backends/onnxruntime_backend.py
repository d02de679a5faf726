"""ONNX Runtime on the CPU, CUDA or ROCm execution provider; never a silent CPU fallback."""

from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError

from . import check_class_count, check_input_shape, check_nhwc_shape, require_fp32

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "rocm": "ROCMExecutionProvider"}


def session(model_path: Path, device: str, threads: int, fix: str = "pass a valid ONNX model"):
    """An InferenceSession on the device's provider (threads intra-op, all graph optimisations), or a one-line
    UsageError: the provider missing from this build, the file unloadable (`fix` says what to pass), or the
    provider failing to start."""
    import onnxruntime as ort

    provider = PROVIDERS[device]
    available = ort.get_available_providers()
    if provider not in available:
        raise UsageError(
            f"onnxruntime {ort.__version__} here has no {provider} (available: {', '.join(available)})",
            f"run in an image built for --device {device}, or pick --device from what is available",
        )
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    try:
        sess = ort.InferenceSession(str(model_path), opts, providers=[provider])
    except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
        first = (str(e).strip().splitlines() or [type(e).__name__])[0]
        raise UsageError(f"onnxruntime cannot load {model_path}: {first[:300]}", fix) from None
    if sess.get_providers()[0] != provider:
        raise UsageError(
            f"onnxruntime could not start {provider} (session uses {sess.get_providers()})",
            "check the GPU driver and runtime libraries in this image",
        )
    return sess


class OnnxRuntimeBackend:
    name = "onnxruntime"
    preprocessing = "vgg"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str, scaling: str | None = None):
        import onnxruntime as ort

        require_fp32(self.name, precision)
        self.session = session(model_path, device, threads)
        inp = self.session.get_inputs()[0]
        if scaling is None:
            check_input_shape(inp.shape, model_path)
        else:  # mobilenet / efficientnet-lite: NHWC float32 at the variant's size, TF-style scaling
            from ..dataset import nhwc_name

            self.preprocessing = nhwc_name(scaling, check_nhwc_shape(inp.shape, model_path), "float32")
        self.input_name = inp.name
        outputs = self.session.get_outputs()
        scores = next((o for o in outputs if len(o.shape) == 2), None)
        if scores is None:
            raise UsageError(f"{model_path} has no [N, classes] output", "pass an ImageNet classifier")
        self.label_offset = check_class_count(scores.shape[1], model_path)
        argmax = next((o for o in outputs if len(o.shape) == 1 and o.type == "tensor(int64)"), None)
        self.output_name = (argmax or scores).name
        self.needs_argmax = argmax is None
        self.version = ort.__version__
        self.threads = threads

    def predict(self, batch: np.ndarray) -> np.ndarray:
        out = self.session.run([self.output_name], {self.input_name: batch})[0]
        return out.argmax(axis=1) if self.needs_argmax else out
