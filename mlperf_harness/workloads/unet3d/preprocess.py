"""KiTS19 raw NIfTI -> the reference's preprocessed layout.

RAW_DIR/case_XXXXX/imaging.nii.gz and segmentation.nii.gz become, per case, OUT_DIR/case_XXXXX.pkl (a pickled
[image, label] pair: float32 and uint8, both (1, D, H, W)) and OUT_DIR/nifti/case_XXXXX/{imaging,segmentation}
.nii.gz at the new spacing, plus OUT_DIR/preprocessed_files.pkl: {"file_list": [case names],
"cases": {case: {"case", "image_shape", "original_affine", "reshaped_affine", "zoom_factor"}}}.

Steps, as the reference does them: resample to TARGET_SPACING (linear for the image, nearest for the label,
scipy.ndimage.zoom), clip and standardise the intensities, edge-pad every axis up to the 128 window, crop an
axis whose length exceeds a multiple of the 64 stride by less than 32 (else pad it with PAD_VALUE, label 0).
"""

import pickle
from pathlib import Path

import numpy as np

from ...errors import UsageError
from . import CLIP_MAX, CLIP_MIN, FILE_LIST, MEAN, OVERLAP, PAD_VALUE, ROI, STD, TARGET_SPACING

STRIDE = int(ROI * (1 - OVERLAP))


def raw_cases(raw_dir: Path) -> list[str]:
    if not raw_dir.is_dir():
        raise UsageError(f"raw data dir {raw_dir} does not exist", "pass the KiTS19 data dir holding case_XXXXX/")
    cases = sorted(p.name for p in raw_dir.iterdir() if p.name.startswith("case_") and p.is_dir())
    if not cases:
        raise UsageError(f"{raw_dir} holds no case_XXXXX directories", "pass the KiTS19 data dir")
    return cases


def _load_nifti(path: Path):
    import nibabel

    if not path.is_file():
        raise UsageError(f"{path} does not exist", "every case needs imaging.nii.gz and segmentation.nii.gz")
    try:
        return nibabel.load(path)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same bad input
        raise UsageError(f"{path} is not a readable NIfTI file ({type(e).__name__})", "replace the file") from None


def load_and_resample(raw_dir: Path, case: str):
    """(image (1,D,H,W) float32, label (1,D,H,W) uint8, aux) at TARGET_SPACING."""
    from scipy.ndimage import zoom

    img = _load_nifti(raw_dir / case / "imaging.nii.gz")
    seg = _load_nifti(raw_dir / case / "segmentation.nii.gz")
    spacing = img.header["pixdim"][1:4].tolist()
    affine = img.affine
    image = img.get_fdata().astype(np.float32)
    label = seg.get_fdata().astype(np.uint8)
    if image.ndim != 3 or image.shape != label.shape:
        raise UsageError(
            f"{raw_dir / case}: imaging {image.shape} and segmentation {label.shape} differ or are not 3-D",
            "use the case's matching imaging/segmentation pair",
        )
    target = np.array(TARGET_SPACING)
    factor = np.array(spacing) / target
    reshaped = affine.copy()
    for row in range(3):
        col = np.where(affine[row][:-1] != 0)
        reshaped[row][col] = target[col] * (-1 if affine[row][col] < 0 else 1)
    if spacing != list(TARGET_SPACING):  # the header's float32 spacing: nearly always resampled, as the reference
        image = zoom(image, factor, order=1, mode="constant", cval=image.min(), grid_mode=False)
        label = zoom(label, factor, order=0, mode="constant", cval=label.min(), grid_mode=False)
    aux = {"original_affine": affine, "reshaped_affine": reshaped, "zoom_factor": factor, "case": case}
    return image[None], label[None], aux


def normalize(image: np.ndarray) -> np.ndarray:
    return (np.clip(image, CLIP_MIN, CLIP_MAX) - MEAN) / STD


def pad_to_window(image: np.ndarray, label: np.ndarray):
    """Edge-pad each axis shorter than the window, the extra split in half (the larger half after)."""
    short = [max(0, ROI - n) for n in image.shape[1:]]
    pads = [(0, 0)] + [(s // 2, s - s // 2) for s in short]
    return np.pad(image, pads, mode="edge"), np.pad(label, pads, mode="edge")


def fit_to_stride(image: np.ndarray, label: np.ndarray):
    """Crop the remainder modulo the stride when it is under half a stride, then pad with constants to a
    multiple of the stride that is at least the window."""
    shape = image.shape[1:]
    cut = [n % STRIDE if n % STRIDE < STRIDE // 2 else 0 for n in shape]
    box = (Ellipsis, *(slice(c // 2, n - (c - c // 2)) for c, n in zip(cut, shape, strict=True)))
    image, label = image[box], label[box]
    extra = [(STRIDE - n % STRIDE) % STRIDE for n in image.shape[1:]]
    extra = [e if n + e >= ROI else e + STRIDE for e, n in zip(extra, image.shape[1:], strict=True)]
    pads = [(0, 0)] + [(e // 2, e - e // 2) for e in extra]
    image = np.pad(image, pads, mode="constant", constant_values=PAD_VALUE)
    label = np.pad(label, pads, mode="constant", constant_values=0)
    return image, label


def preprocess_case(raw_dir: Path, case: str) -> tuple[np.ndarray, np.ndarray, dict]:
    image, label, aux = load_and_resample(raw_dir, case)
    image, label = pad_to_window(normalize(image), label)
    image, label = fit_to_stride(image, label)
    image, label = image.astype(np.float32), label.astype(np.uint8)
    aux["image_shape"] = image.shape
    return image, label, aux


def _write_nifti(out_dir: Path, case: str, image, label, affine) -> None:
    import nibabel

    d = out_dir / "nifti" / case
    d.mkdir(parents=True, exist_ok=True)
    nibabel.save(nibabel.Nifti1Image(image[0], affine=affine), d / "imaging.nii.gz")
    nibabel.save(nibabel.Nifti1Image(label[0], affine=affine), d / "segmentation.nii.gz")


def preprocess(raw_dir: Path, out_dir: Path, cases: list[str] | None = None, nifti: bool = True) -> dict:
    """Preprocess `cases` (default: every case_* dir) into out_dir; returns preprocessed_files.pkl's dict."""
    cases = cases or raw_cases(raw_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info: dict = {"file_list": list(cases), "cases": {}}
    for case in cases:
        image, label, aux = preprocess_case(raw_dir, case)
        with open(out_dir / f"{case}.pkl", "wb") as f:
            pickle.dump([image, label], f)
        if nifti:
            _write_nifti(out_dir, case, image, label, aux["reshaped_affine"])
        info["cases"][case] = aux
        print(f"{case}: {tuple(image.shape)} mean {image.mean():.2f} std {image.std():.2f}")
    with open(out_dir / FILE_LIST, "wb") as f:
        pickle.dump(info, f)
    return info


def command(a) -> int:
    """`preprocess --model 3d-unet-99 --raw-data-dir RAW --results-dir OUT [--cases ...] [--no-nifti]`."""
    info = preprocess(Path(a.raw_data_dir), Path(a.results_dir), a.cases, not a.no_nifti)
    print(f"wrote {len(info['file_list'])} cases and {FILE_LIST} to {a.results_dir}")
    return 0
