"""`demo-data --model 3d-unet`: the reference 3D-UNet with seeded random weights (ONNX and PyTorch checkpoint)
and a few small synthetic KiTS19-like cases, raw NIfTI and preprocessed.

Case k is a CT-like volume (air, a soft-tissue body, two kidneys with a tumour in one) whose resampled size is
128^3, or 192x128x128 for every second case: one and two 128^3 windows, small enough for CI on two cores
(one window takes about 35 s there).
"""

import sys
from pathlib import Path

import numpy as np

from . import ROI
from .onnx_export import build
from .preprocess import preprocess

ONNX_FILE = "models/3dunet_kits19_128x128x128.onnx"
PTH_FILE = "models/3dunet_kits19_pytorch_checkpoint.pth"
RAW_DIR = "datasets/kits19/data"
PREPROCESSED_DIR = "datasets/kits19/preprocessed"
SPACING = (3.2, 1.5, 1.5)  # raw (z, y, x) spacing in mm: zoom factors 2, 1.25, 1.25 to the target spacing


def synthetic_case(rng: np.random.Generator, depth: int) -> tuple[np.ndarray, np.ndarray]:
    """(imaging in HU as int16, segmentation uint8) of shape (depth, 100, 100)."""
    z, y, x = np.meshgrid(*(np.linspace(-1, 1, n) for n in (depth, 100, 100)), indexing="ij")
    hu = np.full(z.shape, -1000.0)
    hu[(y / 0.8) ** 2 + (x / 0.9) ** 2 < 1] = 40.0  # body
    seg = np.zeros(z.shape, np.uint8)
    for side in (-0.45, 0.45):
        c = rng.uniform(-0.05, 0.05, 3)
        kidney = ((z - c[0]) / 0.5) ** 2 + ((y - 0.2 - c[1]) / 0.18) ** 2 + ((x - side - c[2]) / 0.15) ** 2 < 1
        hu[kidney] = 180.0
        seg[kidney] = 1
    tumour = (z / 0.2) ** 2 + ((y - 0.2) / 0.1) ** 2 + ((x - 0.45) / 0.1) ** 2 < 1
    hu[tumour] = 90.0
    seg[tumour] = 2
    hu += rng.normal(0, 15, hu.shape)
    return hu.astype(np.int16), seg


def write_raw(raw_dir: Path, count: int, seed: int) -> list[str]:
    import nibabel

    rng = np.random.default_rng(seed)
    affine = np.zeros((4, 4))  # array axis 0 is z, as KiTS19 stores it
    affine[0, 2], affine[1, 1], affine[2, 0], affine[3, 3] = -SPACING[2], -SPACING[1], -SPACING[0], 1.0
    names = []
    for k in range(count):
        depth = 60 if k % 2 == 0 else 100  # -> 120 (padded to 128) or 200 (cropped to 192) slices
        image, label = synthetic_case(rng, depth)
        case = f"case_{k:05d}"
        d = raw_dir / case
        d.mkdir(parents=True, exist_ok=True)
        for name, data in (("imaging.nii.gz", image), ("segmentation.nii.gz", label)):
            img = nibabel.Nifti1Image(data, affine)
            img.header.set_zooms(SPACING)
            nibabel.save(img, d / name)
        names.append(case)
    return names


def write_models(models: Path, seed: int) -> None:
    import torch

    from .model import seeded

    models.mkdir(parents=True, exist_ok=True)
    state = seeded(seed).state_dict()
    torch.save({"best_model_state_dict": state}, models / Path(PTH_FILE).name)
    onnx_model = build({k: v.numpy() for k, v in state.items()})
    (models / Path(ONNX_FILE).name).write_bytes(onnx_model.SerializeToString())


def write(out_dir: Path, count: int, seed: int) -> None:
    write_models(out_dir / "models", seed)
    print(f"wrote {out_dir / ONNX_FILE} and {out_dir / PTH_FILE}")
    cases = write_raw(out_dir / RAW_DIR, count, seed)
    info = preprocess(out_dir / RAW_DIR, out_dir / PREPROCESSED_DIR, cases)
    windows = sum(
        ((s[1] - ROI) // (ROI // 2) + 1) * ((s[2] - ROI) // (ROI // 2) + 1) * ((s[3] - ROI) // (ROI // 2) + 1)
        for s in (info["cases"][c]["image_shape"] for c in cases)
    )
    print(
        f"wrote {count} raw cases to {out_dir / RAW_DIR} and preprocessed them into {out_dir / PREPROCESSED_DIR} "
        f"({windows} windows of {ROI}^3 in all)"
    )
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the cases synthetic: DICE on this data is meaningless; "
        "it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
