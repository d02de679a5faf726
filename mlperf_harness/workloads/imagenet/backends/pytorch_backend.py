"""PyTorch on cpu, cuda or rocm (torch.cuda on a HIP build), loading a torchvision ResNet50 state_dict."""

from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError

from . import check_class_count, require_fp32


def torch_device(torch, device: str):
    """The torch device for --device, or a one-line UsageError when this torch build or host cannot give it."""
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


class PyTorchBackend:
    name = "pytorch"
    preprocessing = "pytorch"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str):
        import torch

        from ..models.resnet50_torch import ResNet50

        require_fp32(self.name, precision)
        self.torch = torch
        self.device = torch_device(torch, device)
        torch.set_num_threads(threads)
        try:
            state = torch.load(model_path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several unpickling error types
            raise UsageError(
                f"torch cannot load {model_path}: {str(e).splitlines()[0]}", "pass a torchvision state_dict"
            ) from None
        if not isinstance(state, dict) or "fc.weight" not in state:
            raise UsageError(
                f"{model_path} is not a torchvision ResNet50 state_dict", "pass e.g. resnet50-19c8e357.pth"
            )
        classes = int(state["fc.weight"].shape[0])
        self.label_offset = check_class_count(classes, model_path)
        model = ResNet50(num_classes=classes)
        try:
            model.load_state_dict(state)
        except RuntimeError as e:
            raise UsageError(
                f"{model_path} does not fit ResNet50 v1.5: {' '.join(str(e).split())[:300]}",
                "pass a torchvision resnet50 state_dict",
            ) from None
        self.model = model.eval().to(self.device)
        self.version = torch.__version__
        self.threads = threads

    def predict(self, batch: np.ndarray) -> np.ndarray:
        torch = self.torch
        with torch.inference_mode():
            x = torch.from_numpy(batch).to(self.device, non_blocking=True)
            return self.model(x).argmax(dim=1).cpu().numpy()
