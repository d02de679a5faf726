"""The KiTS19 QSL: the preprocessed case list up front, the case volumes only while LoadGen has them loaded."""

import pickle
from pathlib import Path

import numpy as np

from ...errors import UsageError
from . import FILE_LIST, ROI


def _unpickle(path: Path, what: str):
    if not path.is_file():
        raise UsageError(f"{path} does not exist", f"preprocess the raw data into the {what} layout first")
    try:
        with open(path, "rb") as f:
            return pickle.load(f)
    except Exception as e:  # noqa: BLE001 - any unreadable pickle is the same bad input
        raise UsageError(f"{path} is not a readable pickle ({type(e).__name__})", "preprocess it again") from None


def read_file_list(preprocessed_dir: Path) -> tuple[list[str], dict]:
    """(case names in QSL order, per-case aux) from preprocessed_files.pkl."""
    info = _unpickle(preprocessed_dir / FILE_LIST, "preprocessed KiTS19")
    if not isinstance(info, dict) or not isinstance(info.get("file_list"), list) or "cases" not in info:
        raise UsageError(f"{preprocessed_dir / FILE_LIST} lacks file_list/cases", "preprocess the raw data again")
    if not info["file_list"]:
        raise UsageError(f"{preprocessed_dir / FILE_LIST} lists no cases", "preprocess at least one case")
    return info["file_list"], info["cases"]


def check_case(path: Path, obj, expected_shape) -> tuple[np.ndarray, np.ndarray]:
    """[image float32 (1,D,H,W), label uint8 (1,D,H,W)] with D,H,W >= the window and = the listed shape."""
    ok = isinstance(obj, (list, tuple)) and len(obj) == 2 and all(isinstance(x, np.ndarray) for x in obj)
    if ok:
        image, label = obj
        ok = (
            image.ndim == 4
            and image.shape[0] == 1
            and all(n >= ROI for n in image.shape[1:])
            and image.shape == label.shape
            and (expected_shape is None or tuple(image.shape) == tuple(expected_shape))
        )
    if not ok:
        got = [getattr(x, "shape", type(x).__name__) for x in obj] if isinstance(obj, (list, tuple)) else obj
        got = type(obj).__name__ if not isinstance(obj, (list, tuple)) else got
        raise UsageError(
            f"{path} holds {got}, not [image, label] of shape {tuple(expected_shape or ('1', 'D', 'H', 'W'))} "
            f"with D, H, W >= {ROI}",
            "preprocess the case again",
        )
    return image.astype(np.float32, copy=False), label.astype(np.uint8, copy=False)


class Cases:
    """LoadGen's QSL over preprocessed_dir: load() reads the asked cases' images, unload() drops them."""

    def __init__(self, preprocessed_dir: Path, count: int | None = None):
        self.dir = preprocessed_dir
        self.names, self.aux = read_file_list(preprocessed_dir)
        if count is not None:
            if not 0 < count <= len(self.names):
                raise UsageError(f"--count {count} is outside 1..{len(self.names)}", "the dataset's case count")
            self.names = self.names[:count]
        missing = [n for n in self.names if not (preprocessed_dir / f"{n}.pkl").is_file()]
        if missing:
            raise UsageError(
                f"{len(missing)} listed cases are missing from {preprocessed_dir} (first: {missing[0]}.pkl)",
                "preprocess the raw data again",
            )
        self.loaded: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.names)

    def path(self, index: int) -> Path:
        return self.dir / f"{self.names[index]}.pkl"

    def shape(self, index: int) -> tuple:
        return tuple(self.aux.get(self.names[index], {}).get("image_shape") or ())

    def read(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        path = self.path(index)
        return check_case(path, _unpickle(path, "preprocessed KiTS19"), self.shape(index) or None)

    def load(self, indices) -> None:
        for i in indices:
            self.loaded[i] = self.read(i)[0]

    def unload(self, indices) -> None:
        for i in indices:
            self.loaded.pop(i, None)

    def volume(self, index: int) -> np.ndarray:
        return self.loaded[index]
