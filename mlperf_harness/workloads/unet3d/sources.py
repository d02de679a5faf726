"""3D-UNet (KiTS19): the official sources `mlperfctl get` fetches (see workloads/sources.py).

URLs: mlcommons/inference vision/medical_imaging/3d-unet-kits19/README.md (zenodo 5597155). No checksum is
published for the model files (the reference's meta/checksum_*.json cover its preprocessed cases, which
`prepare` will check). The KiTS19 scans come from the kits19 git repository's own script, not a plain file."""

from ..sources import Source

_ZENODO = "Apache-2.0 (MLCommons, zenodo)"

SOURCES = {
    model: (
        Source(name="3D-UNet KiTS19 ONNX 128x128x128",
               url="https://zenodo.org/record/5597155/files/3dunet_kits19_128x128x128.onnx",
               path="models/3dunet_kits19_128x128x128.onnx", backends=("onnxruntime",), licence=_ZENODO),
        Source(name="3D-UNet KiTS19 PyTorch checkpoint",
               url="https://zenodo.org/record/5597155/files/3dunet_kits19_pytorch_checkpoint.pth",
               path="models/3dunet_kits19_pytorch_checkpoint.pth", backends=("pytorch",), licence=_ZENODO),
    )
    for model in ("3d-unet-99", "3d-unet-99.9")
}
