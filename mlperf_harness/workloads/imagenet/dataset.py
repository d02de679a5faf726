"""ImageNet validation set as the MLPerf reference reads it: val_map.txt, preprocessing, and an .npy cache."""

import hashlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from mlperf_harness.cachefile import write_atomic
from mlperf_harness.errors import UsageError

from .layout import val_map_entries

SIZE = 224
RESIZE = 256  # the reference's resize_with_aspectratio: 224 / 0.875
VGG_MEANS = np.array([123.68, 116.78, 103.94], dtype=np.float32)
TORCH_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
TORCH_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
CACHE_FORMAT = 1  # bump when a preprocessing function changes


@dataclass(frozen=True)
class Entry:
    path: Path
    label: int


def read_val_map(dataset_dir: Path, count: int | None) -> list[Entry]:
    """The first `count` entries of val_map.txt (all by default); every image they list must exist."""
    return [Entry(path, label) for path, label in val_map_entries(dataset_dir, count)]


def _load_rgb(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise UsageError(f"{path} is not a readable image", "replace or remove it from val_map.txt")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def preprocess_vgg(path: Path) -> np.ndarray:
    """Reference pre_process_vgg: shorter side to 256 with INTER_AREA, centre crop 224, minus means, CHW."""
    img = _load_rgb(path)
    h, w = img.shape[:2]
    if h > w:
        size = (RESIZE, int(RESIZE * h / w))
    else:
        size = (int(RESIZE * w / h), RESIZE)
    img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    h, w = img.shape[:2]
    top, left = int((h - SIZE) / 2), int((w - SIZE) / 2)
    img = img[top : top + SIZE, left : left + SIZE].astype(np.float32) - VGG_MEANS
    return np.ascontiguousarray(img.transpose(2, 0, 1))


def preprocess_pytorch(path: Path) -> np.ndarray:
    """Reference pre_process_imagenet_pytorch without PIL/torchvision: antialiased bilinear resize of the
    shorter side to 256 rounded to uint8 (what PIL does), centre crop 224, /255, ImageNet mean/std, CHW."""
    import torch
    import torch.nn.functional as F

    img = _load_rgb(path)
    h, w = img.shape[:2]
    size = (RESIZE, int(RESIZE * w / h)) if h <= w else (int(RESIZE * h / w), RESIZE)
    x = torch.from_numpy(img).permute(2, 0, 1)[None].float()
    x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False).round_().clamp_(0, 255)
    h, w = size
    top, left = int(round((h - SIZE) / 2.0)), int(round((w - SIZE) / 2.0))
    img = x[0, :, top : top + SIZE, left : left + SIZE].numpy() / np.float32(255.0)
    return np.ascontiguousarray((img - TORCH_MEAN[:, None, None]) / TORCH_STD[:, None, None], dtype=np.float32)


PREPROCESSORS = {"vgg": preprocess_vgg, "pytorch": preprocess_pytorch}
# TFLite-style models (mobilenet, efficientnet-lite): NHWC, their own input size and dtype. The name is
# "<scaling>-<size>-<dtype>": scaling "inception" maps pixels to [-1, 1] (MobileNet), "lite" to (x-127)/128
# (EfficientNet-Lite); dtype uint8 keeps the raw pixels for quantised models (their input quantisation does the rest).
NHWC_SCALING = {"inception": (127.5, 127.5), "lite": (127.0, 128.0)}
CROP = 0.875  # central fraction kept before the resize, as the TF/MLPerf references


def preprocess_nhwc(path: Path, size: int, scaling: str, dtype: str) -> np.ndarray:
    """Reference pre_process_mobilenet: shorter side to size/0.875 (bilinear), centre crop size x size, HWC;
    float32 input scaled by NHWC_SCALING[scaling], uint8 input left as pixels."""
    img = _load_rgb(path)
    h, w = img.shape[:2]
    short = int(round(size / CROP))
    new = (short, int(short * w / h)) if h <= w else (int(short * h / w), short)  # (h, w)
    img = cv2.resize(img, (new[1], new[0]), interpolation=cv2.INTER_LINEAR)
    top, left = (new[0] - size) // 2, (new[1] - size) // 2
    img = img[top : top + size, left : left + size]
    if dtype == "uint8":
        return np.ascontiguousarray(img)
    mean, std = NHWC_SCALING[scaling]
    return np.ascontiguousarray((img.astype(np.float32) - np.float32(mean)) / np.float32(std))


def nhwc_name(scaling: str, size: int, dtype: str) -> str:
    return f"{scaling}-{size}-{dtype}"


def preprocess_vgg_nhwc(path: Path) -> np.ndarray:
    """The reference's VGG preprocessing for TensorFlow (no transpose): HWC."""
    return np.ascontiguousarray(preprocess_vgg(path).transpose(1, 2, 0))


def spec(preprocessing: str):
    """(function(path) -> sample, sample shape, dtype) for a preprocessing name."""
    if preprocessing == "vgg_nhwc":
        return preprocess_vgg_nhwc, (SIZE, SIZE, 3), np.float32
    if preprocessing in PREPROCESSORS:
        return PREPROCESSORS[preprocessing], (3, SIZE, SIZE), np.float32
    scaling, size, dtype = preprocessing.split("-")
    if scaling not in NHWC_SCALING or dtype not in ("float32", "uint8") or not size.isdigit():
        raise ValueError(f"unknown preprocessing {preprocessing!r}")
    n = int(size)
    return (lambda p: preprocess_nhwc(p, n, scaling, dtype)), (n, n, 3), np.dtype(dtype).type


def cache_dir_for(cache_root: Path, entries: list[Entry], preprocessing: str) -> Path:
    """A directory keyed by preprocessing, format and the images' names, sizes and mtimes."""
    h = hashlib.sha256(f"{preprocessing}:{CACHE_FORMAT}:{SIZE}".encode())
    for e in entries:
        st = e.path.stat()
        h.update(f"{e.path.resolve()}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return cache_root / f"imagenet-{preprocessing}-{h.hexdigest()[:16]}"


class Dataset:
    """Preprocessed samples on disk, loaded on LoadGen's request into one contiguous array."""

    def __init__(self, entries: list[Entry], preprocessing: str, cache_root: Path, threads: int):
        self.entries = entries
        self.labels = np.array([e.label for e in entries], dtype=np.int64)
        self.cache = cache_dir_for(cache_root, entries, preprocessing)
        fn, self.shape, self.dtype = spec(preprocessing)
        self._preprocess_all(fn, threads)
        self.loaded = np.empty((0, *self.shape), self.dtype)
        self.row = np.full(len(entries), -1, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.entries)

    def _npy(self, i: int) -> Path:
        return self.cache / (self.entries[i].path.name + ".npy")

    def _preprocess_all(self, fn, threads: int) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        todo = [i for i in range(len(self.entries)) if not self._npy(i).is_file()]

        def one(i: int) -> None:
            write_atomic(self._npy(i), lambda f: np.save(f, fn(self.entries[i].path)))

        with ThreadPoolExecutor(max(1, threads)) as pool:
            list(pool.map(one, todo))
        self.preprocessed = len(todo)

    def load(self, indices: list[int]) -> None:
        self.loaded = np.empty((len(indices), *self.shape), self.dtype)
        self.row[:] = -1
        for r, i in enumerate(indices):
            self.loaded[r] = np.load(self._npy(i))
            self.row[i] = r

    def unload(self, indices: list[int]) -> None:
        self.loaded = np.empty((0, *self.shape), self.dtype)
        self.row[:] = -1

    def batch(self, indices) -> np.ndarray:
        return self.loaded[self.row[indices]]
