"""LiteRT (ai-edge-litert, the TFLite runtime) on the CPU for TFLite classifiers: MobileNet and EfficientNet-Lite.

The variant comes from the file: its input tensor gives the size (NHWC [1,H,W,3], H == W) and dtype (float32, or
uint8/int8 for quantised models); the model family gives the pixel scaling."""

from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError

from . import check_class_count

TFLITE_MAGIC = b"TFL3"  # the flatbuffer file identifier at bytes 4..8


def check_tflite_file(path: Path) -> None:
    with open(path, "rb") as f:
        head = f.read(8)
    if head[4:8] != TFLITE_MAGIC:
        raise UsageError(f"{path} is not a TFLite flatbuffer (no TFL3 identifier)", "pass a .tflite model file")


def input_spec(details: dict, path: Path) -> tuple[int, str]:
    """(size, dtype name) of a TFLite image classifier's input [1,H,W,3]."""
    shape = [int(d) for d in details["shape"]]
    dtype = np.dtype(details["dtype"]).name
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2] or shape[1] < 32:
        raise UsageError(f"{path} takes input of shape {shape}", "pass a TFLite classifier with NHWC [1,H,H,3] input")
    if dtype not in ("float32", "uint8", "int8"):
        raise UsageError(f"{path} takes {dtype} input", "pass a float32 or uint8-quantised TFLite classifier")
    return shape[1], dtype


class TFLiteBackend:
    name = "tflite"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str, scaling: str, batch: int):
        from ai_edge_litert import interpreter as litert

        from ..dataset import nhwc_name

        if device != "cpu":
            raise UsageError(f"the tflite backend runs on cpu, not {device}", "use --device cpu")
        check_tflite_file(model_path)
        try:
            self.interpreter = litert.Interpreter(model_path=str(model_path), num_threads=max(1, threads))
        except Exception as e:  # LiteRT raises ValueError/RuntimeError with multi-line text
            raise UsageError(
                f"LiteRT cannot load {model_path}: {str(e).splitlines()[0]}", "pass a valid .tflite model"
            ) from None
        inp = self.interpreter.get_input_details()[0]
        out = self.interpreter.get_output_details()[0]
        self.size, dtype = input_spec(inp, model_path)
        quantised = dtype != "float32"
        if quantised != (precision == "int8"):
            kind = "uint8-quantised" if quantised else "float32"
            raise UsageError(
                f"{model_path} is a {kind} model but --precision is {precision}",
                f"use --precision {'int8' if quantised else 'fp32'} or pass the other model file",
            )
        # int8-input models take the uint8 pixels shifted by 128 (their zero point); done in predict
        self.shift = dtype == "int8"
        self.preprocessing = nhwc_name(scaling, self.size, "uint8" if quantised else "float32")
        if len(out["shape"]) != 2:
            raise UsageError(f"{model_path} has output shape {list(out['shape'])}", "pass an ImageNet classifier")
        self.label_offset = check_class_count(int(out["shape"][1]), model_path)
        self.in_index, self.out_index = inp["index"], out["index"]
        self.rows = int(inp["shape"][0])
        self._resize(max(1, batch))
        self.version = getattr(litert, "__version__", None) or _version()
        self.threads = threads

    def _resize(self, rows: int) -> None:
        if rows != self.rows:
            self.interpreter.resize_tensor_input(self.in_index, [rows, self.size, self.size, 3])
            self.rows = rows
        self.interpreter.allocate_tensors()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Top-1 per row. The input tensor is resized only when the batch size changes (SingleStream keeps 1,
        Offline its batch; a short last batch costs one resize)."""
        it = self.interpreter
        if self.shift:
            batch = (batch.astype(np.int16) - 128).astype(np.int8)
        if batch.shape[0] != self.rows:
            self._resize(batch.shape[0])
        it.set_tensor(self.in_index, batch)
        it.invoke()
        return it.get_tensor(self.out_index).argmax(axis=1)


def _version() -> str:
    from importlib.metadata import version

    return version("ai-edge-litert")
