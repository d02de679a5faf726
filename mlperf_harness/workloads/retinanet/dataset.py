"""The OpenImages MLPerf validation subset as the reference reads it: annotations/openimages-mlperf.json
(COCO style) and validation/data/<file_name>; preprocessing to 800x800 RGB in 0..1, cached as .npy.

Sample index i (LoadGen's qsl_idx) is the i-th entry of the JSON's "images" list, the order the reference
accuracy script maps indices back with.
"""

import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...errors import UsageError
from . import ANNOTATIONS, IMAGES, SIZE

CACHE_FORMAT = 1  # bump when preprocess() changes


@dataclass(frozen=True)
class Entry:
    image_id: int
    path: Path
    height: int
    width: int


def read_json(path: Path, what: str) -> dict:
    """A JSON object from `path`, or a one-line UsageError naming it."""
    if not path.is_file():
        raise UsageError(
            f"{what} {path} does not exist",
            "point --dataset-dir at the OpenImages MLPerf directory (annotations/, validation/data/), or make a "
            "demo one with `python -m mlperf_harness demo-data DIR --model retinanet`",
        )
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({str(e).splitlines()[0]})", f"replace the {what}") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{path} is not a COCO-style JSON object", f"replace the {what}")
    return obj


def read_annotations(dataset_dir: Path, count: int | None = None) -> list[Entry]:
    """The first `count` images (all by default) of annotations/openimages-mlperf.json; each must exist in
    validation/data/."""
    path = dataset_dir / ANNOTATIONS
    images = read_json(path, "annotations file").get("images")
    if not isinstance(images, list) or not images:
        raise UsageError(f"{path} lists no images", "pass the OpenImages MLPerf annotations (openimages-mlperf.json)")
    entries = []
    for n, img in enumerate(images):
        try:
            entries.append(
                Entry(int(img["id"]), dataset_dir / IMAGES / img["file_name"], int(img["height"]), int(img["width"]))
            )
        except (KeyError, TypeError, ValueError):
            raise UsageError(
                f"{path}: images[{n}] lacks id, file_name, height or width", "fix or replace the annotations file"
            ) from None
    if count is not None:
        if not 0 < count <= len(entries):
            raise UsageError(f"--count {count} is outside 1..{len(entries)}", f"the dataset has {len(entries)} images")
        entries = entries[:count]
    missing = [e.path for e in entries if not e.path.is_file()]
    if missing:
        raise UsageError(
            f"{missing[0]} is missing ({len(missing)} of {len(entries)} images named in {path} are not in "
            f"{dataset_dir / IMAGES})",
            "complete validation/data/ or use the annotations file that goes with it",
        )
    return entries


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

    def _npy(self, i: int) -> Path:
        return self.cache / f"{i:06d}-{self.entries[i].path.name}.npy"

    def _preprocess_all(self, threads: int) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        todo = [i for i in range(len(self.entries)) if not self._npy(i).is_file()]

        def one(i: int) -> None:
            tmp = self._npy(i).with_suffix(f".{os.getpid()}.tmp")
            with open(tmp, "wb") as f:
                np.save(f, preprocess(self.entries[i].path, self.size))
            tmp.replace(self._npy(i))

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
