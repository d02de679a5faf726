"""RetinaNet runners for onnxruntime and pytorch, and the detections -> LoadGen response encoding.

A runner has name, version, threads and predict(batch N x 3 x 800 x 800 float32) -> one Detections per image:
boxes [D, 4] float32 (x1, y1, x2, y2 in input pixels), scores [D] float32, labels [D] int64, best first.
The session setup, torch device checks and the fp32 rule are the framework layer's (mlperf_harness.frameworks).
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ...errors import UsageError
from ...frameworks import onnxruntime, require_fp32
from ...frameworks import torch as framework
from . import NUM_CLASSES, ONNX_FILE, ONNX_INPUT, ONNX_OUTPUTS, PTH_FILE, SCORE_THRESH, SIZE

BACKENDS = ("onnxruntime", "pytorch")


class Detections(NamedTuple):
    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray


def response(index: int, det: Detections, size: int = SIZE) -> np.ndarray:
    """The reference's accuracy-log payload for one sample: per detection scoring at least SCORE_THRESH,
    (index, ymin, xmin, ymax, xmax, score, label) as float32, coordinates divided by the input size (0..1)."""
    keep = det.scores >= SCORE_THRESH
    b = det.boxes[keep].astype(np.float32) / np.float32(size)
    out = np.empty((b.shape[0], 7), np.float32)
    out[:, 0] = index
    out[:, 1:5] = b[:, [1, 0, 3, 2]]
    out[:, 5] = det.scores[keep]
    out[:, 6] = det.labels[keep]
    return out.reshape(-1)


def model_head(path: Path, expected: str) -> bytes:
    """The first bytes of an existing model file (UsageError naming it when it is not one)."""
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", f"pass --model-path to the RetinaNet {expected}")
    with open(path, "rb") as f:
        return f.read(4)


class OnnxRuntimeRunner:
    """The reference ONNX model (batch 1, NMS in-graph) run once per image of a batch."""

    name = "onnxruntime"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str):
        require_fp32(self.name, precision)
        head = model_head(model_path, ONNX_FILE)
        if head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip or a bare pickle
            raise UsageError(
                f"{model_path} is a PyTorch checkpoint, not an ONNX model",
                f"give the onnxruntime backend {ONNX_FILE}, or run it with --backend pytorch",
            )
        fix = f"pass a valid ONNX model ({ONNX_FILE})"
        self.session = onnxruntime.session(model_path, device, threads, fix)
        inputs = self.session.get_inputs()
        outputs = {o.name for o in self.session.get_outputs()}
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        if len(inputs) != 1 or len(shape) != 4 or shape[1:] != [3, SIZE, SIZE] or not set(ONNX_OUTPUTS) <= outputs:
            raise UsageError(
                f"{model_path} takes {[(i.name, i.shape) for i in inputs]} and gives {sorted(outputs)}",
                f"pass the RetinaNet ONNX model: {ONNX_INPUT} [1,3,{SIZE},{SIZE}] in, {','.join(ONNX_OUTPUTS)} out",
            )
        self.input_name = inputs[0].name
        self.version = onnxruntime.version()
        self.threads = threads

    def predict(self, batch: np.ndarray) -> list[Detections]:
        run, name, out = self.session.run, self.input_name, list(ONNX_OUTPUTS)
        dets = []
        for i in range(batch.shape[0]):
            boxes, scores, labels = run(out, {name: batch[i : i + 1]})
            dets.append(Detections(boxes, scores, labels))
        return dets


class PyTorchRunner:
    """The MLPerf training checkpoint in model.RetinaNet; a whole batch through the network at once."""

    name = "pytorch"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str):
        import torch

        from . import model

        require_fp32(self.name, precision)
        head = model_head(model_path, PTH_FILE)
        if not head.startswith((b"PK\x03\x04", b"\x80")):
            raise UsageError(
                f"{model_path} is not a PyTorch checkpoint"
                + (" (it is an ONNX model)" if model_path.suffix == ".onnx" else ""),
                f"give the pytorch backend {PTH_FILE}, or run an ONNX model with --backend onnxruntime",
            )
        self.torch = torch
        self.device = framework.device(device)
        torch.set_num_threads(threads)
        self.model = model.load(model_path).to(self.device)
        if self.model.head.classification_head.per_anchor != NUM_CLASSES:
            raise UsageError(
                f"{model_path} predicts {self.model.head.classification_head.per_anchor} classes",
                f"pass the OpenImages MLPerf RetinaNet ({NUM_CLASSES} classes)",
            )
        self.version = torch.__version__
        self.threads = threads

    def predict(self, batch: np.ndarray) -> list[Detections]:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device, non_blocking=True)
            return [Detections(*(t.cpu().numpy() for t in det)) for det in self.model.detect(x)]


def model_file(name: str) -> str:
    """The reference's file name for a backend."""
    return PTH_FILE if name == "pytorch" else ONNX_FILE


def create(name: str, device: str, model_path: Path, threads: int, precision: str = "fp32"):
    if name == "onnxruntime":
        return OnnxRuntimeRunner(model_path, device, threads, precision)
    if name == "pytorch":
        return PyTorchRunner(model_path, device, threads, precision)
    raise UsageError(f"the retinanet model has no {name!r} backend", f"use one of {', '.join(BACKENDS)}")
