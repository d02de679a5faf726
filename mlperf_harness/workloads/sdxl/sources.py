"""Stable Diffusion XL: the official sources `mlperfctl get` fetches (see workloads/sources.py).

The annotations' sha256 is published by the reference (text_to_image/tools/coco.py,
COCO_ANNOTATIONS_TRAINVAL2014_SHA256), which fetches them from this S3 origin. The checkpoint comes through the
MLCommons R2 downloader (stable-diffusion-xl-1-0-fp32-checkpoint.uri), not a plain file, so it is not declared."""

from ..sources import Source

SOURCES = {
    "sdxl": (
        Source(name="COCO 2014 train/val annotations (captions)",
               url="https://s3.amazonaws.com/images.cocodataset.org/annotations/annotations_trainval2014.zip",
               path="datasets/coco2014/annotations_trainval2014.zip", kind="dataset",
               sha256="031296bbc80c45a1d1f76bf9a90ead27e94e99ec629208449507a4917a3bf009",
               checksum_from="mlcommons/inference text_to_image/tools/coco.py", licence="CC-BY-4.0"),
    ),
}
