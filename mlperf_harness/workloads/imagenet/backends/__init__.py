"""Inference backends. Each is imported only when asked for, so an image needs just its own framework.

A backend exposes: name, version, preprocessing ("vgg" or "pytorch"), label_offset (added to the model's
top-1 index to get an ImageNet label: -1 for 1001-class models with a background class), threads, and
predict(batch NCHW float32) -> top-1 indices.
"""

from pathlib import Path

from mlperf_harness.errors import UsageError

BACKENDS = ("onnxruntime", "pytorch", "tensorrt", "tflite", "tf")
# Pixel scaling of the TF-trained classifiers (dataset.NHWC_SCALING); resnet50 uses its own preprocessing
SCALING = {"mobilenet": "inception", "efficientnet": "lite"}


def check_model_file(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", "pass --model-path to the model file")


def check_class_count(classes: int, path: Path) -> int:
    """The label offset for a classifier head: 1001 classes carry a background class 0."""
    if classes not in (1000, 1001):
        raise UsageError(f"{path} has {classes} output classes", "pass an ImageNet model with 1000 or 1001 classes")
    return -1 if classes == 1001 else 0


def check_input_shape(shape, path: Path) -> None:
    """[N,3,224,224] with any (or symbolic) batch dimension."""
    if len(shape) != 4 or list(shape[1:]) != [3, 224, 224]:
        raise UsageError(
            f"{path} takes input of shape {list(shape)}",
            "pass a ResNet50 v1.5 model with NCHW float32 input [N,3,224,224]",
        )


def check_nhwc_shape(shape, path: Path) -> int:
    """The size H of an NHWC [N,H,H,3] input (any or symbolic batch dimension)."""
    if len(shape) != 4 or shape[3] != 3 or shape[1] != shape[2] or not isinstance(shape[1], int):
        raise UsageError(
            f"{path} takes input of shape {list(shape)}", "pass a classifier with NHWC float32 input [N,H,H,3]"
        )
    return int(shape[1])


def create(
    name: str,
    device: str,
    model_path: Path,
    threads: int,
    precision: str,
    cache_dir: Path,
    batch: int,
    model: str = "resnet50",
):
    check_model_file(model_path)
    scaling = SCALING.get(model)
    if name == "onnxruntime":
        from .onnxruntime_backend import OnnxRuntimeBackend

        return OnnxRuntimeBackend(model_path, device, threads, precision, scaling)
    if name == "tflite":
        from .tflite_backend import TFLiteBackend

        if scaling is None:
            raise UsageError(f"{model} has no TFLite model", "use --backend onnxruntime, pytorch or tf")
        return TFLiteBackend(model_path, device, threads, precision, scaling, batch)
    if name == "tf":
        from .tf_backend import TFBackend

        return TFBackend(model_path, device, threads, precision, scaling)
    if name == "pytorch":
        from .pytorch_backend import PyTorchBackend

        return PyTorchBackend(model_path, device, threads, precision)
    if name == "tensorrt":
        from .tensorrt_backend import TensorRTBackend

        return TensorRTBackend(model_path, device, threads, precision, cache_dir, batch)
    raise UsageError(f"unknown backend {name!r}", f"use one of {', '.join(BACKENDS)}")
