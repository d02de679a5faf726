"""RetinaNet runners for onnxruntime and pytorch, and the detections -> LoadGen response encoding.

A runner has name, version, threads and predict(batch N x 3 x 800 x 800 float32) -> one Detections per image:
boxes [D, 4] float32 (x1, y1, x2, y2 in input pixels), scores [D] float32, labels [D] int64, best first.
"""

from pathlib import Path
from typing import NamedTuple

import numpy as np

from ...errors import UsageError
from . import NUM_CLASSES, ONNX_FILE, ONNX_INPUT, ONNX_OUTPUTS, PTH_FILE, SCORE_THRESH, SIZE

BACKENDS = ("onnxruntime", "pytorch")
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "rocm": "ROCMExecutionProvider"}


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


def _require_fp32(backend: str, precision: str) -> None:
    if precision != "fp32":
        raise UsageError(f"--precision {precision} is not supported by the {backend} backend", "use --precision fp32")


def _check_file(path: Path, expected: str) -> bytes:
    """The first bytes of an existing model file."""
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", f"pass --model-path to the RetinaNet {expected}")
    with open(path, "rb") as f:
        return f.read(4)


class OnnxRuntimeRunner:
    """The reference ONNX model (batch 1, NMS in-graph) run once per image of a batch."""

    name = "onnxruntime"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str):
        import onnxruntime as ort

        _require_fp32(self.name, precision)
        head = _check_file(model_path, ONNX_FILE)
        if head.startswith((b"PK\x03\x04", b"\x80")):  # torch.save's zip or a bare pickle
            raise UsageError(
                f"{model_path} is a PyTorch checkpoint, not an ONNX model",
                f"give the onnxruntime backend {ONNX_FILE}, or run it with --backend pytorch",
            )
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
            self.session = ort.InferenceSession(str(model_path), opts, providers=[provider])
        except Exception as e:  # onnxruntime raises its own Fail/InvalidGraph types
            raise UsageError(
                f"onnxruntime cannot load {model_path}: {str(e).strip().splitlines()[0][:200]}",
                f"pass a valid ONNX model ({ONNX_FILE})",
            ) from None
        if self.session.get_providers()[0] != provider:
            raise UsageError(
                f"onnxruntime could not start {provider} (session uses {self.session.get_providers()})",
                "check the GPU driver and runtime libraries in this image",
            )
        inputs = self.session.get_inputs()
        outputs = {o.name for o in self.session.get_outputs()}
        shape = list(inputs[0].shape) if len(inputs) == 1 else []
        if len(inputs) != 1 or len(shape) != 4 or shape[1:] != [3, SIZE, SIZE] or not set(ONNX_OUTPUTS) <= outputs:
            raise UsageError(
                f"{model_path} takes {[(i.name, i.shape) for i in inputs]} and gives {sorted(outputs)}",
                f"pass the RetinaNet ONNX model: {ONNX_INPUT} [1,3,{SIZE},{SIZE}] in, {','.join(ONNX_OUTPUTS)} out",
            )
        self.input_name = inputs[0].name
        self.version = ort.__version__
        self.threads = threads

    def predict(self, batch: np.ndarray) -> list[Detections]:
        run, name, out = self.session.run, self.input_name, list(ONNX_OUTPUTS)
        dets = []
        for i in range(batch.shape[0]):
            boxes, scores, labels = run(out, {name: batch[i : i + 1]})
            dets.append(Detections(boxes, scores, labels))
        return dets


def _torch_device(torch, device: str):
    if device == "cpu":
        return torch.device("cpu")
    hip = getattr(torch.version, "hip", None)
    if device == "rocm" and not hip:
        raise UsageError(
            f"torch {torch.__version__} is not a ROCm build", "run in a ROCm image or use --device cuda/cpu"
        )
    if device == "cuda" and hip:
        raise UsageError(f"torch {torch.__version__} is a ROCm build", "use --device rocm")
    if not torch.cuda.is_available():
        raise UsageError(
            f"torch sees no {device} GPU", "check the GPU is passed into the container, or use --device cpu"
        )
    return torch.device("cuda")


class PyTorchRunner:
    """The MLPerf training checkpoint in model.RetinaNet; a whole batch through the network at once."""

    name = "pytorch"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str):
        import torch

        from . import model

        _require_fp32(self.name, precision)
        head = _check_file(model_path, PTH_FILE)
        if not head.startswith((b"PK\x03\x04", b"\x80")):
            raise UsageError(
                f"{model_path} is not a PyTorch checkpoint"
                + (" (it is an ONNX model)" if model_path.suffix == ".onnx" else ""),
                f"give the pytorch backend {PTH_FILE}, or run an ONNX model with --backend onnxruntime",
            )
        self.torch = torch
        self.device = _torch_device(torch, device)
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


def create(name: str, device: str, model_path: Path, threads: int, precision: str = "fp32"):
    if name == "onnxruntime":
        return OnnxRuntimeRunner(model_path, device, threads, precision)
    if name == "pytorch":
        return PyTorchRunner(model_path, device, threads, precision)
    raise UsageError(f"the retinanet model has no {name!r} backend", f"use one of {', '.join(BACKENDS)}")
