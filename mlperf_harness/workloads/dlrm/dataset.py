"""The day-23 multi-hot Criteo files, memory-mapped, and the QSL of aggregated user queries.

DATASET_DIR/day_23_dense.npy            float32 (N, 13)
DATASET_DIR/day_23_labels.npy           (N, 1) 0/1 (any integer or float dtype)
DATASET_DIR/day_23_sparse_multi_hot.npz members "0.npy" .. "25.npy": int32 (N, MULTI_HOT_SIZES[k]), stored
                                        uncompressed so each member maps straight from the zip file
"""

import zipfile
from pathlib import Path

import numpy as np

from ...errors import UsageError
from . import DENSE_FEATURES, DENSE_FILE, LABELS_FILE, QUANTILES, SEED, SPARSE_FILE, TABLE_SIZES

TABLES = len(TABLE_SIZES)


def _load_npy(path: Path) -> np.ndarray:
    if not path.is_file():
        raise UsageError(f"{path} does not exist", "pass --dataset-dir with the day-23 multi-hot Criteo files")
    try:
        return np.load(path, mmap_mode="r")
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same bad input
        raise UsageError(f"{path} is not a readable .npy file ({type(e).__name__})", "replace the file") from None


def npz_member(path: Path, key: str) -> np.ndarray:
    """Member `key` ("0".."25") of an uncompressed .npz as a read-only memmap into the zip file."""
    name = f"{key}.npy"
    with zipfile.ZipFile(path) as zf:
        info = zf.NameToInfo.get(name)
        if info is None:
            raise UsageError(
                f"{path} has no member {name!r} (has {len(zf.namelist())} members)",
                f"write all {TABLES} sparse features 0..{TABLES - 1} with numpy.savez",
            )
        if info.compress_type != zipfile.ZIP_STORED:
            raise UsageError(f"{path}: member {name} is compressed", "write it with numpy.savez, not savez_compressed")
        with zf.open(name) as f:
            version = np.lib.format.read_magic(f)
            read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}
            if version not in read:
                raise UsageError(f"{path}: member {name} is .npy format {version}", "write it with numpy.savez")
            shape, fortran, dtype = read[version](f)
            header = f.tell()
    # the member's data starts after the local file header, whose name/extra lengths sit at bytes 26-29
    with open(path, "rb") as raw:
        raw.seek(info.header_offset + 26)
        n, m = np.frombuffer(raw.read(4), "<u2")
    offset = info.header_offset + 30 + int(n) + int(m) + header
    if dtype != np.int32 or len(shape) != 2:
        raise UsageError(f"{path}: member {name} is {dtype} {shape}, not int32 (N, hotness)", "rewrite it as int32")
    return np.memmap(path, dtype=dtype, shape=shape, order="F" if fortran else "C", mode="r", offset=offset)


def open_day(data_dir: Path, validation_half: bool = True):
    """(dense, labels (N,), sparse list of 26 (N, h)) as memmaps; the reference's evaluation half by default."""
    dense = _load_npy(data_dir / DENSE_FILE)
    labels = _load_npy(data_dir / LABELS_FILE)
    if dense.ndim != 2 or dense.shape[1] != DENSE_FEATURES:
        raise UsageError(f"{data_dir / DENSE_FILE} has shape {dense.shape}", f"it must be (N, {DENSE_FEATURES})")
    if labels.shape[0] != dense.shape[0]:
        raise UsageError(
            f"{data_dir / LABELS_FILE} holds {labels.shape[0]} samples, {data_dir / DENSE_FILE} {dense.shape[0]}",
            "use dense, labels and sparse files of the same day",
        )
    sparse_path = data_dir / SPARSE_FILE
    if not sparse_path.is_file():
        raise UsageError(f"{sparse_path} does not exist", "pass --dataset-dir with the day-23 multi-hot Criteo files")
    try:
        sparse = [npz_member(sparse_path, str(k)) for k in range(TABLES)]
    except zipfile.BadZipFile:
        raise UsageError(f"{sparse_path} is not a zip (.npz) file", "write it with numpy.savez") from None
    for k, s in enumerate(sparse):
        if s.shape[0] != dense.shape[0]:
            raise UsageError(
                f"{sparse_path}: member {k}.npy holds {s.shape[0]} samples, {data_dir / DENSE_FILE} {dense.shape[0]}",
                "use dense, labels and sparse files of the same day",
            )
    n = dense.shape[0]
    if validation_half:
        n = n // 2 + n % 2
    return dense[:n], labels.reshape(labels.shape[0], -1)[:n, 0], [s[:n] for s in sparse]


def query_offsets(rows: int, quantiles=QUANTILES, seed: int = SEED, fixed: int | None = None) -> np.ndarray:
    """Row offsets of the aggregated queries: query q holds rows offsets[q]:offsets[q+1]. Sizes are drawn from
    quantiles by numpy's legacy RNG (seeded as the reference seeds it), or all `fixed` rows."""
    if fixed is not None:
        return np.append(np.arange(0, rows, fixed), rows).astype(np.int64)
    rng = np.random.RandomState(seed)
    offsets = [0]
    while offsets[-1] < rows:
        offsets.append(min(offsets[-1] + int(quantiles[rng.randint(low=0, high=len(quantiles))]), rows))
    return np.array(offsets, dtype=np.int64)


def write_trace(path: Path, offsets: np.ndarray) -> None:
    """The reference's dlrm_trace_of_aggregated_samples.txt: "start, end, size" per query."""
    path.write_text("".join(f"{s}, {e}, {e - s}\n" for s, e in zip(offsets[:-1], offsets[1:], strict=True)))


class Queries:
    """LoadGen's QSL: sample q is query q of the aggregation; load() copies its rows out of the memmaps."""

    def __init__(self, data_dir: Path, count: int | None = None, fixed: int | None = None):
        self.dense, self.labels, self.sparse = open_day(data_dir)
        self.offsets = query_offsets(len(self.dense), fixed=fixed)
        if count is not None:
            if not 0 < count <= len(self.offsets) - 1:
                raise UsageError(f"--count {count} is outside 1..{len(self.offsets) - 1}", "the dataset's query count")
            self.offsets = self.offsets[: count + 1]
        self.loaded: dict[int, tuple] = {}

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def rows(self, index: int) -> int:
        return int(self.offsets[index + 1] - self.offsets[index])

    def read(self, index: int) -> tuple:
        s, e = int(self.offsets[index]), int(self.offsets[index + 1])
        return (
            np.array(self.dense[s:e], np.float32),
            [np.array(t[s:e]) for t in self.sparse],
            np.array(self.labels[s:e], np.float32),
        )

    def load(self, indices) -> None:
        self.loaded = {i: self.read(i) for i in indices}

    def unload(self, indices) -> None:
        self.loaded = {}

    def batch(self, indices) -> tuple[np.ndarray, list[np.ndarray], np.ndarray, list[int]]:
        """(dense (R,13), sparse 26 x (R,h), labels (R,), rows per query) of the loaded queries, concatenated."""
        items = [self.loaded[i] for i in indices]
        if len(items) == 1:
            d, s, lab = items[0]
            return d, s, lab, [len(d)]
        dense = np.concatenate([it[0] for it in items])
        sparse = [np.concatenate([it[1][k] for it in items]) for k in range(TABLES)]
        return dense, sparse, np.concatenate([it[2] for it in items]), [len(it[0]) for it in items]
