"""RetinaNet: the official sources `mlperfctl get` fetches (see workloads/sources.py).

URLs: mlcommons/inference vision/classification_and_detection/README.md and tools/openimages.py. No checksum is
published for these files (get refuses them unless --no-verify, then records the sha256 it computed)."""

from ..sources import Source

_OPENIMAGES = "CC-BY-4.0 (annotations, Open Images)"

SOURCES = {
    "retinanet": (
        # the reference's openimages_mlperf.sh fetches the images themselves (about 24 800) by id: `prepare`'s work
        Source(name="Open Images v5 validation box annotations",
               url="https://storage.googleapis.com/openimages/v5/validation-annotations-bbox.csv",
               path="datasets/openimages/annotations/validation-annotations-bbox.csv", kind="dataset",
               licence=_OPENIMAGES),
        Source(name="Open Images v5 boxable class descriptions",
               url="https://storage.googleapis.com/openimages/v5/class-descriptions-boxable.csv",
               path="datasets/openimages/annotations/class-descriptions-boxable.csv", kind="dataset",
               licence=_OPENIMAGES),
        Source(name="RetinaNet ResNeXt50-FPN 800x800 ONNX",
               url="https://zenodo.org/record/6617879/files/resnext50_32x4d_fpn.onnx",
               path="models/resnext50_32x4d_fpn.onnx", backends=("onnxruntime",), licence="Apache-2.0 (MLCommons)"),
    ),
}
