"""`prepare` for 3D-UNet: the KiTS19 raw NIfTI cases (the kits19 repository's data/case_XXXXX/imaging.nii.gz and
segmentation.nii.gz) -> the reference's preprocessed layout, by preprocess.py (also the `preprocess` command)."""

import pickle
from pathlib import Path

from ...errors import UsageError
from ...prepare import progress
from . import FILE_LIST
from .preprocess import preprocess, raw_cases


def data_dir(raw: Path) -> Path:
    """The folder holding case_XXXXX/: raw itself, or the kits19 checkout's data/ below it."""
    for d in (raw, raw / "data", raw / "kits19" / "data", *sorted(raw.glob("*/data"))):
        if d.is_dir() and any(p.name.startswith("case_") and p.is_dir() for p in d.iterdir()):
            return d
    raise UsageError(f"{raw} holds no case_XXXXX/ folders (KiTS19 data/case_XXXXX/imaging.nii.gz)",
                     "pass the kits19 checkout (or its data/ folder) with the cases downloaded")


def prepare(raw: Path, dest: Path, model: str, count: int | None) -> dict:
    """Every case (the first `count`, in name order) resampled, normalised and padded into dest."""
    src = data_dir(raw)
    cases = raw_cases(src)
    if count is not None:
        if count > len(cases):
            raise UsageError(f"--count {count} exceeds the {len(cases)} cases in {src}", f"pass at most {len(cases)}")
        cases = cases[:count]
    for case in cases:
        for name in ("imaging.nii.gz", "segmentation.nii.gz"):
            if not (src / case / name).is_file():
                raise UsageError(f"{src / case / name} does not exist", "every case needs imaging.nii.gz and "
                                 "segmentation.nii.gz (the kits19 repository's get_imaging script)")
    info = {"file_list": [], "cases": {}}
    for n, case in enumerate(cases, start=1):
        one = preprocess(src, dest, [case])
        info["file_list"] += one["file_list"]
        info["cases"].update(one["cases"])
        progress(n, len(cases), "cases")
    with open(dest / FILE_LIST, "wb") as f:
        pickle.dump(info, f)
    return {"samples": len(cases), "layout": FILE_LIST, "source": str(src.relative_to(raw))}
