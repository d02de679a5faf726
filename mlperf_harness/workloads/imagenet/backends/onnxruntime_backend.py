"""ONNX Runtime on the CPU, CUDA or ROCm execution provider (the session: mlperf_harness.frameworks.onnxruntime)."""

from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.frameworks import onnxruntime, require_fp32

from . import check_class_count, check_input_shape, check_nhwc_shape


class OnnxRuntimeBackend:
    name = "onnxruntime"
    preprocessing = "vgg"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str, scaling: str | None = None):
        require_fp32(self.name, precision)
        self.session = onnxruntime.session(model_path, device, threads)
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
        self.version = onnxruntime.version()
        self.threads = threads

    def predict(self, batch: np.ndarray) -> np.ndarray:
        out = self.session.run([self.output_name], {self.input_name: batch})[0]
        return out.argmax(axis=1) if self.needs_argmax else out
