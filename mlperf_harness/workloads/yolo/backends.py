"""The YOLO ONNX model on onnxruntime (the one backend: the ultralytics export of the reference's yolo11l.pt).

A runner has name, version, threads, rect (whether the model takes any height/width: the reference's
rectangular letterbox; a fixed 640x640 export gets the square one, as ultralytics gives it) and
predict(list of [1, 3, H, W] float32) -> list of output0 [84, anchors] per image (one session call per image:
their shapes differ)."""

from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...frameworks import onnxruntime, require_fp32
from . import ONNX_FILE, ONNX_INPUT, ONNX_OUTPUT, OUTPUT_ROWS, SIZE

BACKENDS = ("onnxruntime",)
EXPECTED = f"{ONNX_INPUT} [N,3,H,W] in, {ONNX_OUTPUT} [N,{OUTPUT_ROWS},anchors] out"


def model_head(path: Path) -> bytes:
    """The first bytes of an existing model file (UsageError naming it when there is none)."""
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", f"pass --model-path to the YOLO ONNX export {ONNX_FILE}")
    with open(path, "rb") as f:
        return f.read(4)


class OnnxRuntimeRunner:
    name = "onnxruntime"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str = "fp32"):
        require_fp32(self.name, precision)
        if model_head(model_path).startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip or a bare pickle
            raise UsageError(
                f"{model_path} is a PyTorch checkpoint (yolo11l.pt?), not an ONNX model",
                f"export it once with ultralytics (`yolo export model=yolo11l.pt format=onnx dynamic=True`) and "
                f"pass {ONNX_FILE}",
            )
        self.session = onnxruntime.session(model_path, device, threads, f"pass the YOLO ONNX export {ONNX_FILE}")
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        out = {o.name: list(o.shape) for o in outputs}
        ok = len(shape) == 4 and shape[1] == 3 and len(out.get(ONNX_OUTPUT, [])) == 3
        ok = ok and out[ONNX_OUTPUT][1] == OUTPUT_ROWS
        fixed = ok and all(isinstance(d, int) for d in shape[2:])
        if not ok or (fixed and shape[2:] != [SIZE, SIZE]):
            raise UsageError(
                f"{model_path} is not a YOLO detection model of 80 COCO classes: it takes "
                f"{[(i.name, i.shape) for i in inputs]} and gives {[(o.name, o.shape) for o in outputs]}",
                f"pass the ultralytics ONNX export of yolo11l ({EXPECTED}, H=W={SIZE} or dynamic)",
            )
        self.input_name = inputs[0].name
        self.rect = not fixed
        self.version = onnxruntime.version()
        self.threads = threads

    def predict(self, images: list[np.ndarray]) -> list[np.ndarray]:
        run, name, out = self.session.run, self.input_name, [ONNX_OUTPUT]
        return [run(out, {name: x})[0][0] for x in images]


def create(name: str, device: str, model_path: Path, threads: int, precision: str = "fp32"):
    if name == "onnxruntime":
        return OnnxRuntimeRunner(model_path, device, threads, precision)
    raise UsageError(f"the yolo model has no {name!r} backend", f"use one of {', '.join(BACKENDS)}")
