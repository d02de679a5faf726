"""The COCO safe subset as the reference reads it: annotations/instances_val2017.json (annotations.py) and
val2017_safe/<file_name>; each image letterboxed once (process.letterbox) and cached as uint8 .npy."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ...cachefile import write_atomic
from ...errors import UsageError
from . import process
from .annotations import Entry, read_annotations

__all__ = ["Dataset", "Entry", "cache_dir_for", "read_annotations"]

CACHE_FORMAT = 1  # bump when process.letterbox changes


def read_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)  # BGR, 3 channels, as ultralytics reads it
    if img is None:
        raise UsageError(f"{path} is not a readable image", "replace it or drop it from the annotations")
    return img


def cache_dir_for(cache_root: Path, entries: list[Entry], rect: bool) -> Path:
    """A directory keyed by the format, the letterbox kind and the images' paths, sizes and mtimes."""
    h = hashlib.sha256(f"coco-yolo:{CACHE_FORMAT}:{process.SIZE}:{rect}".encode())
    for e in entries:
        st = e.path.stat()
        h.update(f"{e.path.resolve()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return cache_root / f"coco-yolo-{'rect' if rect else 'square'}-{h.hexdigest()[:16]}"


class Dataset:
    """Letterboxed samples on disk, loaded on LoadGen's request as network inputs ([1, 3, H, W] float32 each);
    `batch(indices)` gives them as a list, `boxes[i]` where sample i lies in its input."""

    def __init__(self, entries: list[Entry], cache_root: Path, threads: int, rect: bool):
        self.entries = entries
        self.rect = rect
        self.cache = cache_dir_for(cache_root, entries, rect)
        self.boxes = [process.letterbox_shape(e.height, e.width, rect) for e in entries]
        self._preprocess_all(threads)
        self.loaded: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    def _npy(self, i: int) -> Path:
        return self.cache / f"{i:06d}-{self.entries[i].path.name}.npy"

    def _preprocess_all(self, threads: int) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        todo = [i for i in range(len(self.entries)) if not self._npy(i).is_file()]

        def one(i: int) -> None:
            e = self.entries[i]
            img = read_image(e.path)
            if img.shape[:2] != (e.height, e.width):
                raise UsageError(
                    f"{e.path} is {img.shape[1]}x{img.shape[0]}, its annotation says {e.width}x{e.height}",
                    "use the annotations file that goes with these images",
                )
            write_atomic(self._npy(i), lambda f: np.save(f, process.letterbox(img, self.rect)))

        with ThreadPoolExecutor(max(1, threads)) as pool:
            list(pool.map(one, todo))
        self.preprocessed = len(todo)

    def load(self, indices: list[int]) -> None:
        self.loaded = {i: process.to_input(np.load(self._npy(i))) for i in indices}

    def unload(self, indices: list[int]) -> None:
        self.loaded = {}

    def batch(self, indices) -> list[np.ndarray]:
        return [self.loaded[i] for i in indices]
