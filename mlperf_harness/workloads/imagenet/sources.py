"""ImageNet classifiers: the official sources `mlperfctl get` fetches (see workloads/sources.py).

URLs: mlcommons/inference vision/classification_and_detection/README.md (the model table). Zenodo's record pages
show the model files' md5s, but the reference does not publish them, so they are None here (get refuses them
unless --no-verify, then records the sha256 it computed)."""

from ..sources import Source

IMAGENET_VAL = Source(
    name="ImageNet 2012 validation images",
    url="https://image-net.org/data/ILSVRC/2012/ILSVRC2012_img_val.tar",
    path="datasets/imagenet/ILSVRC2012_img_val.tar",
    kind="dataset",
    md5="29b22e2961454d5413ddabcf34fc5622",
    checksum_from="torchvision/datasets/imagenet.py ARCHIVE_META['val'] (the reference publishes none)",
    licence="ImageNet terms of access (non-commercial research and education)",
    needs="agreement",
    agreement_url="https://image-net.org/download-images.php",
)

_RESNET50_ZENODO = "Apache-2.0 (MLCommons, zenodo)"

SOURCES = {
    "resnet50": (
        IMAGENET_VAL,
        Source(name="ResNet50-v1.5 ONNX (opset 11)", url="https://zenodo.org/record/4735647/files/resnet50_v1.onnx",
               path="models/resnet50_v1.onnx", backends=("onnxruntime", "tensorrt"), licence=_RESNET50_ZENODO),
        Source(name="ResNet50-v1.5 PyTorch (TorchVision weights)",
               url="https://zenodo.org/record/4588417/files/resnet50-19c8e357.pth",
               path="models/resnet50-19c8e357.pth", backends=("pytorch",), licence="BSD-3-Clause (TorchVision)"),
        Source(name="ResNet50-v1.5 TensorFlow frozen graph", url="https://zenodo.org/record/2535873/files/resnet50_v1.pb",
               path="models/resnet50_v1.pb", backends=("tf",), licence=_RESNET50_ZENODO),
    ),
    "mobilenet": (
        IMAGENET_VAL,
        Source(name="MobileNet-v1 1.0 224 ONNX (opset 11)",
               url="https://zenodo.org/record/4735651/files/mobilenet_v1_1.0_224.onnx",
               path="models/mobilenet_v1_1.0_224.onnx", backends=("onnxruntime",), licence="Apache-2.0 (TensorFlow)"),
        # the archive holds mobilenet_v1_1.0_224.tflite and mobilenet_v1_1.0_224_frozen.pb; unpacking is `prepare`'s
        Source(name="MobileNet-v1 1.0 224 TensorFlow/TFLite archive",
               url="https://zenodo.org/record/2269307/files/mobilenet_v1_1.0_224.tgz",
               path="models/mobilenet_v1_1.0_224.tgz", backends=("tflite", "tf"), licence="Apache-2.0 (TensorFlow)"),
    ),
}

UNDECLARED = {
    "efficientnet": "the MLCommons reference publishes no EfficientNet-Lite file (open division; bring your own "
                    "and pass it with --model-path)",
}
