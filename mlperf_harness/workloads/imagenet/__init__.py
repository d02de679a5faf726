"""ImageNet classification (MLPerf resnet50; mobilenet and efficientnet belong here too): the declaration.

Standard library only (the host imports it); the runner, dataset, backends and scorer are imported by the
hooks that use them."""

from ..base import Workload

_HERE = __name__

RESNET50 = Workload(
    names=("resnet50",),
    family="imagenet",
    loadgen_model="resnet50",
    dataset_name="ImageNet 2012 validation",
    dataset_files=("val_map.txt",),
    model_files={"onnxruntime": "resnet50_v1.onnx", "pytorch": "resnet50-19c8e357.pth", "tensorrt": "resnet50_v1.onnx"},
    # onnxruntime and pytorch refuse anything but fp32 (backends.require_fp32); TensorRT builds fp16 engines too
    support={
        "cpu": {"onnxruntime": ("fp32",), "pytorch": ("fp32",)},
        "cuda": {"onnxruntime": ("fp32",), "pytorch": ("fp32",), "tensorrt": ("fp32", "fp16")},
        "rocm": {"onnxruntime": ("fp32",), "pytorch": ("fp32",)},
    },
    scenarios=("Offline", "Server", "SingleStream", "MultiStream"),
    accuracy_args=(
        "accuracy",
        "--model",
        "{model}",
        "--mlperf-accuracy-file",
        "{accuracy_log}",
        "--dataset-dir",
        "{dataset_dir}",
    ),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/imagenet",
    demo_model_dir="models",
    runner_class=f"{_HERE}.runner:ImageNetRunner",
    scorer=f"{_HERE}.accuracy:command",
)
