"""The workloads the harness runs, one folder per family, and the one registry: model name -> Workload.

Standard library only: the host (mlperfctl) imports this for preflight and planning. API:
  get(model) -> Workload      (UsageError listing the names when unknown)
  names() -> tuple of every model name;  declarations() -> each Workload once
A Workload (base.py) declares names, family, dataset_name, dataset_files, model_files / model_file(backend),
devices(), backends(device), precisions(device, backend), supports(device, backend, precision), scenarios,
accuracy_argv(...), demo_dataset_dir, demo_model_dir, check(model, device, backend, precision, scenario),
check_dataset(dir, count) and check_model(path, backend) (the host's preflight).
A new benchmark: a declaration in its family's __init__.py (a new family: a folder with __init__.py and
runner.py) and its line below.
"""

from mlperf_harness.errors import UsageError

from .base import BACKENDS, DEVICES, SCENARIOS, Runner, Workload
from .bert import BERT
from .dlrm import DLRM_V2
from .imagenet import EFFICIENTNET, MOBILENET, RESNET50
from .llm import GPTJ, LLAMA2_70B, LLAMA31_8B, LLAMA31_8B_EDGE
from .retinanet import RETINANET
from .rgat import RGAT
from .rnnt import RNNT
from .sdxl import SDXL
from .unet3d import UNET3D
from .whisper import WHISPER
from .yolo import YOLO

__all__ = ["BACKENDS", "DEVICES", "SCENARIOS", "WORKLOADS", "Runner", "Workload", "declarations", "get", "names"]

WORKLOADS: dict[str, Workload] = {
    "resnet50": RESNET50,
    "retinanet": RETINANET,
    "sdxl": SDXL,
    "gptj-99": GPTJ,
    "gptj-99.9": GPTJ,
    "llama2-70b-99": LLAMA2_70B,
    "llama2-70b-99.9": LLAMA2_70B,
    "llama3.1-8b": LLAMA31_8B,
    "llama3.1-8b-edge": LLAMA31_8B_EDGE,
    "bert-99": BERT,
    "bert-99.9": BERT,
    "rnnt": RNNT,
    "3d-unet-99": UNET3D,
    "3d-unet-99.9": UNET3D,
    "dlrm-v2-99": DLRM_V2,
    "dlrm-v2-99.9": DLRM_V2,
    "mobilenet": MOBILENET,
    "efficientnet": EFFICIENTNET,
    "rgat": RGAT,
    "yolo-99": YOLO,
    "yolo-95": YOLO,
    "whisper": WHISPER,
}


def names() -> tuple[str, ...]:
    return tuple(WORKLOADS)


def declarations() -> tuple[Workload, ...]:
    """Each Workload once, in registry order."""
    return tuple(dict.fromkeys(WORKLOADS.values()))


def get(model: str) -> Workload:
    try:
        return WORKLOADS[model]
    except KeyError:
        raise UsageError(f"unknown model {model!r}", f"use one of {', '.join(WORKLOADS)}") from None
