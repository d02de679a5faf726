"""Sliding-window segmentation of a whole preprocessed volume, and the two model backends.

Windows of ROI^3 start every ROI*(1-OVERLAP) voxels along each axis (the preprocessing made every axis a
multiple of that stride and at least ROI long). Each window's class logits are weighted by a Gaussian
importance map, summed into the volume, divided by the summed map, and the argmax over the classes is the
uint8 segmentation the accuracy log carries (D*H*W bytes per case, C order).
"""

from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...frameworks import onnxruntime
from ...frameworks import torch as framework
from . import CLASSES, OVERLAP, ROI


def gaussian_kernel(n: int, sigma: float) -> np.ndarray:
    """The reference's importance map: the cube root of a 3-D Gaussian (n points, std sigma), peak 1."""
    x = np.arange(n, dtype=np.float64) - (n - 1) / 2.0
    g = np.exp(-0.5 * (x / sigma) ** 2)
    g3 = np.cbrt(g[:, None, None] * g[None, :, None] * g[None, None, :])
    return (g3 / g3.max()).astype(np.float32)


def window_starts(shape, roi: int = ROI, overlap: float = OVERLAP) -> list[tuple[int, int, int]]:
    stride = int(roi * (1 - overlap))
    axes = [range(0, stride * ((n - roi) // stride + 1), stride) for n in shape]
    return [(i, j, k) for i in axes[0] for j in axes[1] for k in axes[2]]


def accumulate(volume: np.ndarray, predict, roi: int = ROI, overlap: float = OVERLAP, batch: int = 1):
    """volume (1, D, H, W) float32 -> (Gaussian-weighted mean logits (CLASSES, D, H, W), windows run).
    predict maps (B, 1, roi, roi, roi) float32 to (B, CLASSES, roi, roi, roi) logits."""
    shape = volume.shape[1:]
    if volume.ndim != 4 or any(n < roi for n in shape):
        raise ValueError(f"volume of shape {volume.shape} is not (1, D, H, W) with every edge >= {roi}")
    result = np.zeros((CLASSES, *shape), np.float32)
    norm = np.zeros(shape, np.float32)
    patch = gaussian_kernel(roi, 0.125 * roi)
    starts = window_starts(shape, roi, overlap)
    for b in range(0, len(starts), batch):
        boxes = [(slice(i, i + roi), slice(j, j + roi), slice(k, k + roi)) for i, j, k in starts[b : b + batch]]
        x = np.stack([volume[(slice(None), *box)] for box in boxes])
        logits = predict(np.ascontiguousarray(x, dtype=np.float32))
        for box, out in zip(boxes, logits, strict=True):
            result[(slice(None), *box)] += out * patch
            norm[box] += patch
    result /= norm
    return result, len(starts)


def sliding_window(volume: np.ndarray, predict, roi: int = ROI, overlap: float = OVERLAP, batch: int = 1):
    """volume (1, D, H, W) -> (segmentation (D, H, W) uint8: argmax of accumulate()'s logits, windows run)."""
    logits, windows = accumulate(volume, predict, roi, overlap, batch)
    return np.argmax(logits, axis=0).astype(np.uint8), windows


class OnnxUnet:
    """The reference's 3dunet_kits19_128x128x128(.onnx / _dynbatch.onnx): input "input", output "output"."""

    name = "onnxruntime"

    def __init__(self, path: Path, device: str, threads: int):
        self.sess = onnxruntime.session(path, device, threads, "pass the 3D-UNet ONNX")
        inp = self.sess.get_inputs()[0]
        dims = list(inp.shape)
        if len(dims) != 5 or dims[1:] != [1, ROI, ROI, ROI]:
            raise UsageError(f"{path} takes input {dims}", f"pass a 3D-UNet ONNX taking [N,1,{ROI},{ROI},{ROI}]")
        self.input = inp.name
        self.max_batch = dims[0] if isinstance(dims[0], int) else None
        self.version = onnxruntime.version()

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self.max_batch is not None and len(x) != self.max_batch:
            return np.concatenate([self.sess.run(None, {self.input: x[i : i + 1]})[0] for i in range(len(x))])
        return self.sess.run(None, {self.input: x})[0]


class TorchUnet:
    """The reference's PyTorch checkpoint (a dict with best_model_state_dict) or its TorchScript .ptc."""

    name = "pytorch"

    def __init__(self, path: Path, device: str, threads: int):
        import torch

        from .model import Unet3D

        torch.set_num_threads(threads)
        self.torch = torch
        self.device = framework.device(device)
        try:
            if path.suffix == ".ptc":
                self.model = torch.jit.load(str(path), map_location=self.device)
            else:
                state = torch.load(path, map_location="cpu", weights_only=True)
                state = state.get("best_model_state_dict", state) if isinstance(state, dict) else state
                self.model = Unet3D()
                self.model.load_state_dict(state)
                self.model.to(self.device)
        except Exception as e:  # noqa: BLE001 - any unreadable checkpoint is the same bad input
            raise UsageError(
                f"{path} is not a 3D-UNet checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:120]})",
                "pass the reference's 3dunet_kits19_pytorch_checkpoint.pth or 3dunet_kits19_pytorch.ptc",
            ) from None
        self.model.eval()
        self.version = torch.__version__

    def predict(self, x: np.ndarray) -> np.ndarray:
        with self.torch.inference_mode():
            return self.model(self.torch.from_numpy(x).to(self.device)).float().cpu().numpy()


def create(backend: str, device: str, path: Path, threads: int):
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", "pass --model-path to a 3D-UNet .onnx/.pth/.ptc")
    if backend == "onnxruntime":
        return OnnxUnet(path, device, threads)
    if backend == "pytorch":
        return TorchUnet(path, device, threads)
    raise UsageError(f"3d-unet has no {backend} backend", "use --backend onnxruntime or pytorch")
