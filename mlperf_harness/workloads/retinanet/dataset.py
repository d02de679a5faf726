"""The OpenImages MLPerf validation subset as the reference reads it: annotations/openimages-mlperf.json
(COCO style, read by annotations.py) and validation/data/<file_name>; preprocessing to 800x800 RGB in 0..1,
cached as .npy."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from ...cachefile import write_atomic
from ...errors import UsageError
from . import SIZE
from .annotations import Entry, read_annotations, read_json

__all__ = ["Dataset", "Entry", "cache_dir_for", "preprocess", "read_annotations", "read_json"]

CACHE_FORMAT = 1  # bump when preprocess() changes


def preprocess(path: Path, size: int = SIZE) -> np.ndarray:
    """Reference pre_process_openimages_retinanet: the BGR image as float32, to RGB, bilinear resize
    to size x size, /255, CHW. Mean/std normalisation happens inside the network."""
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)  # always 3-channel BGR, grey images included
    if img is None:
        raise UsageError(f"{path} is not a readable image", "replace it or drop it from the annotations")
    img = cv2.cvtColor(img.astype(np.float32), cv2.COLOR_BGR2RGB)
    img = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    img /= np.float32(255.0)
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def cache_dir_for(cache_root: Path, entries: list[Entry], size: int = SIZE) -> Path:
    """A directory keyed by the format, the input size and the images' paths, sizes and mtimes."""
    h = hashlib.sha256(f"openimages-retinanet:{CACHE_FORMAT}:{size}".encode())
    for e in entries:
        st = e.path.stat()
        h.update(f"{e.path.resolve()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return cache_root / f"openimages-{size}-{h.hexdigest()[:16]}"


class Dataset:
    """Preprocessed samples on disk, loaded on LoadGen's request into one contiguous array; `batch(indices)`
    gives N x 3 x SIZE x SIZE float32."""

    def __init__(self, entries: list[Entry], cache_root: Path, threads: int, size: int = SIZE):
        self.entries = entries
        self.size = size
        self.cache = cache_dir_for(cache_root, entries, size)
        self._preprocess_all(threads)
        self.loaded = np.empty((0, 3, size, size), np.float32)
        self.row = np.full(len(entries), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.entries)

    def _npy(self, i: int) -> Path:
        return self.cache / f"{i:06d}-{self.entries[i].path.name}.npy"

    def _preprocess_all(self, threads: int) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        todo = [i for i in range(len(self.entries)) if not self._npy(i).is_file()]

        def one(i: int) -> None:
            write_atomic(self._npy(i), lambda f: np.save(f, preprocess(self.entries[i].path, self.size)))

        with ThreadPoolExecutor(max(1, threads)) as pool:
            list(pool.map(one, todo))
        self.preprocessed = len(todo)

    def load(self, indices: list[int]) -> None:
        self.loaded = np.empty((len(indices), 3, self.size, self.size), np.float32)
        self.row[:] = -1
        for r, i in enumerate(indices):
            self.loaded[r] = np.load(self._npy(i))
            self.row[i] = r

    def unload(self, indices: list[int]) -> None:
        self.loaded = np.empty((0, 3, self.size, self.size), np.float32)
        self.row[:] = -1

    def batch(self, indices) -> np.ndarray:
        return self.loaded[self.row[indices]]
