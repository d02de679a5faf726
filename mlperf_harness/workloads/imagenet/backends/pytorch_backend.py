"""PyTorch on cpu, cuda or rocm (device: mlperf_harness.frameworks.torch), loading a torchvision ResNet50 state_dict."""

from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.frameworks import require_fp32
from mlperf_harness.frameworks import torch as framework

from . import check_class_count


class PyTorchBackend:
    name = "pytorch"
    preprocessing = "pytorch"

    def __init__(self, model_path: Path, device: str, threads: int, precision: str):
        import torch

        from ..models.resnet50_torch import ResNet50

        require_fp32(self.name, precision)
        self.torch = torch
        self.device = framework.device(device)
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
