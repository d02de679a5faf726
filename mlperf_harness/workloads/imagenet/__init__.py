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
    model_files={
        "onnxruntime": "resnet50_v1.onnx",
        "pytorch": "resnet50-19c8e357.pth",
        "tensorrt": "resnet50_v1.onnx",
        "tf": "resnet50_v1.pb",
    },
    # onnxruntime and pytorch refuse anything but fp32 (backends.require_fp32); TensorRT builds fp16 engines too
    support={
        "cpu": {"onnxruntime": ("fp32",), "pytorch": ("fp32",), "tf": ("fp32",)},
        "cuda": {"onnxruntime": ("fp32",), "pytorch": ("fp32",), "tensorrt": ("fp32", "fp16"), "tf": ("fp32",)},
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
    dataset_check=f"{_HERE}.layout:check_dataset",  # val_map.txt and the images of the first --count lines
    dataset_preparer=f"{_HERE}.prepare:prepare",  # ILSVRC2012_img_val.tar + caffe val.txt -> images, val_map.txt
)


def _classifier(name: str, model_files: dict, tf: bool = False) -> Workload:
    """mobilenet and efficientnet: ImageNet classifiers of the open division (scored like resnet50, run with
    LoadGen's resnet50 settings). The variant (input size, float32 or uint8-quantised) is read from the model file:
    MobileNet v1/v2/v3 at any width multiplier and resolution, EfficientNet-Lite0..4 (224/240/260/280/300)."""
    return Workload(
        names=(name,),
        family="imagenet",
        loadgen_model="resnet50",
        dataset_name="ImageNet 2012 validation",
        dataset_files=("val_map.txt",),
        model_files=model_files,
        # tflite: LiteRT on the CPU, float32 (fp32) or uint8-quantised (int8) files; onnxruntime: float32 NHWC
        # tf (mobilenet): frozen graph .pb, float32
        support={
            "cpu": {"tflite": ("fp32", "int8"), "onnxruntime": ("fp32",), **({"tf": ("fp32",)} if tf else {})},
            "cuda": {"onnxruntime": ("fp32",), **({"tf": ("fp32",)} if tf else {})},
            "rocm": {"onnxruntime": ("fp32",)},
        },
        scenarios=("Offline", "SingleStream", "MultiStream"),
        accuracy_args=RESNET50.accuracy_args,
        demo_writer=f"{_HERE}.demo.tflite_models:write_{name}",
        demo_dataset_dir="datasets/imagenet",
        demo_model_dir="models",
        runner_class=f"{_HERE}.runner:ImageNetRunner",
        scorer=f"{_HERE}.accuracy:command",
        dataset_check=RESNET50.dataset_check,
        dataset_preparer=RESNET50.dataset_preparer,
    )


MOBILENET = _classifier(
    "mobilenet",
    {
        "tflite": "mobilenet_v1_1.0_224.tflite",
        "onnxruntime": "mobilenet_v1_1.0_224.onnx",
        "tf": "mobilenet_v1_1.0_224_frozen.pb",
    },
    tf=True,
)
EFFICIENTNET = _classifier(
    "efficientnet", {"tflite": "efficientnet-lite0-fp32.tflite", "onnxruntime": "efficientnet-lite0.onnx"}
)
