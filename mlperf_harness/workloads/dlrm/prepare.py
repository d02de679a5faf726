"""`prepare` for DLRM-v2: Criteo 1TB day 23 -> the multi-hot files dataset.py reads, and the published
torchsnapshot checkpoint -> the weight folder model.py reads. numpy and torch only (the dlrm image's packages).

Dataset, the reference's steps (MLCommons training recommendation_v2/torchrec_dlrm, which the inference README
points to): (1) each raw TSV day -> dense log(x + 3) float32 (N, 13), sparse int(hex, 16) (N, 26), labels
int32 (N, 1), a missing value read as 0 (torchrec's npy_preproc_criteo); (2) each sparse column's values ->
contiguous ids from 2 in order of first appearance over days 0..23, column by column (contiguous_preproc_criteo,
frequency threshold 0); day 23 is not shuffled; (3) each id modulo its table size looked up in a one-hot to
multi-hot table: row i is [i, then hotness - 1 ids drawn by numpy's legacy RNG seeded 0, uniform in the table,
table after table] (materialize_synthetic_multihot_dataset.py, uniform). The tables are drawn here in row chunks
(the same random stream; the reference holds them whole, ~25 GB) and only the rows day 23 uses are kept.

Raw (under --raw, at any depth), the first found:
  day_23_sparse.npy, day_23_dense.npy, day_23_labels.npy   torchrec's preprocessed day (steps 1-2 done), or
  day_0 .. day_23 (or day_N.gz)                             the Criteo 1TB click logs; all 24 days, since the
                                                            contiguous ids of day 23 depend on the days before it.
Written: day_23_dense.npy, day_23_labels.npy, day_23_sparse_multi_hot.npz (members "0.npy".."25.npy", stored).
--count N keeps the first N rows of day 23 (exact: an id depends only on the rows before it).

Checkpoint: the torchsnapshot folder (.snapshot_metadata: a JSON, or YAML, manifest "<rank>/model/<state key>"
-> Tensor {location, serializer buffer_protocol | torch_save, dtype, shape, byte_range}, ShardedTensor {shards:
offsets, sizes, tensor} or ChunkedTensor {chunks}; locations relative to the folder) -> dense.pt (every tensor
but the tables, reference names) and embedding_bags/t_cat_<k>.npy (float32, shards placed at their offsets).
"""

import gzip
import io
import json
import re
import shutil
import zipfile
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from ...errors import UsageError
from ...prepare import find, progress
from . import DAY, DENSE_FEATURES, DENSE_FILE, LABELS_FILE, MULTI_HOT_SIZES, SPARSE_FILE, TABLE_SIZES

DAYS = DAY + 1
MULTI_HOT_SEED = 0
CHUNK_DRAWS = 1 << 23  # random ids drawn at a time (64 MiB of int64)
PARSE_ROWS = 1 << 20  # TSV rows parsed at a time
TABLES = len(TABLE_SIZES)
COLUMNS = 1 + DENSE_FEATURES + TABLES
_FIX = "pass --raw with Criteo 1TB days day_0..day_23 (TSV or .gz) or torchrec's preprocessed day_23_*.npy"


# -- step 1: a TSV day -> dense, sparse, labels --------------------------------------------------------------
def _open_day(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="ascii", newline="\n")
    return open(path, encoding="ascii", newline="\n")


def read_day(path: Path, rows: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dense float32 (N, 13), sparse uint32 (N, 26), labels int32 (N, 1)) of a raw TSV day, torchrec's way."""
    dense, sparse, labels = [], [], []
    parts: list[tuple] = []

    def flush():
        if labels:
            parts.append((np.array(dense, np.int64), np.array(sparse, np.uint32), np.array(labels, np.int32)))
            dense.clear(), sparse.clear(), labels.clear()

    n = 0
    try:
        with _open_day(path) as f:
            for n, line in enumerate(f, start=1):
                if rows is not None and n > rows:
                    n -= 1
                    break
                row = line.rstrip("\n").split("\t")
                if len(row) != COLUMNS:
                    raise UsageError(f"{path}:{n}: {len(row)} tab-separated fields, not Criteo's {COLUMNS}", _FIX)
                try:
                    labels.append(int(row[0] or "0"))
                    dense.append([int(v or "0") for v in row[1 : 1 + DENSE_FEATURES]])
                    sparse.append([int(v or "0", 16) for v in row[1 + DENSE_FEATURES :]])
                except ValueError:
                    raise UsageError(f"{path}:{n}: a field is not an integer (dense) or hex (categorical)",
                                     _FIX) from None
                if len(labels) == PARSE_ROWS:
                    flush()
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not a readable Criteo TSV day ({type(e).__name__}: {e})", _FIX) from None
    flush()
    if not parts:
        raise UsageError(f"{path} holds no rows", _FIX)
    d, s, lab = (np.concatenate([p[i] for p in parts]) for i in range(3))
    if (s > 0xFFFFFFFF).any():
        raise UsageError(f"{path}: a categorical value exceeds 32 bits", _FIX)
    with np.errstate(divide="ignore", invalid="ignore"):
        dense_log = np.log((d + 3).astype(np.int32), dtype=np.float32)
    return dense_log, s, lab.reshape(-1, 1)


# -- step 2: contiguous ids over days 0..23 ----------------------------------------------------------------------
class Contiguous:
    """Per column: the values seen so far (sorted) and their ids, from 2 in order of first appearance."""

    def __init__(self, columns: int = TABLES):
        self.keys = [np.empty(0, np.uint32) for _ in range(columns)]
        self.ids = [np.empty(0, np.int64) for _ in range(columns)]
        self.next = [2] * columns

    def map(self, sparse: np.ndarray) -> np.ndarray:
        """sparse (N, columns) -> ids (N, columns) int32, adding this day's new values in row order."""
        out = np.empty(sparse.shape, np.int32)
        for c in range(sparse.shape[1]):
            uniq, first, inverse = np.unique(sparse[:, c], return_index=True, return_inverse=True)
            keys, ids = self.keys[c], self.ids[c]
            pos = np.minimum(np.searchsorted(keys, uniq), max(len(keys) - 1, 0))
            known = (keys[pos] == uniq) if len(keys) else np.zeros(len(uniq), bool)
            uid = np.empty(len(uniq), np.int64)
            uid[known] = ids[pos[known]]
            new = np.flatnonzero(~known)
            new = new[np.argsort(first[new], kind="stable")]
            uid[new] = np.arange(self.next[c], self.next[c] + len(new))
            self.next[c] += len(new)
            if len(new):
                merged = np.concatenate([keys, uniq[new]])
                order = np.argsort(merged, kind="stable")
                self.keys[c], self.ids[c] = merged[order], np.concatenate([ids, uid[new]])[order]
            out[:, c] = uid[inverse.reshape(-1)]
        return out


# -- step 3: one-hot -> multi-hot ---------------------------------------------------------------------------------
def multi_hot(ids: np.ndarray, table_sizes=TABLE_SIZES, hotness=MULTI_HOT_SIZES, seed: int = MULTI_HOT_SEED,
              out=None):
    """ids (N, 26) contiguous -> 26 arrays int32 (N, hotness[k]): row r of table k is [i, draws of row i of the
    reference's lookup table k], i = ids[r, k] % table_sizes[k]. `out(k, shape)` gives the array to fill."""
    rng = np.random.RandomState(seed)
    results = []
    for k, (rows, hot) in enumerate(zip(table_sizes, hotness, strict=True)):
        idx = ids[:, k].astype(np.int64) % rows
        arr = out(k, (len(idx), hot)) if out else np.empty((len(idx), hot), np.int32)
        arr[:, 0] = idx
        if hot > 1:
            order = np.argsort(idx, kind="stable")
            ordered = idx[order]
            chunk_rows = max(1, CHUNK_DRAWS // (hot - 1))
            for start in range(0, rows, chunk_rows):
                stop = min(start + chunk_rows, rows)
                draws = rng.randint(0, rows, size=(stop - start, hot - 1))
                a, b = np.searchsorted(ordered, [start, stop])
                if b > a:
                    arr[order[a:b], 1:] = draws[ordered[a:b] - start]
        else:
            rng.randint(0, rows, size=(rows, 0))  # the reference draws an empty block here: nothing consumed
        results.append(arr)
        progress(k + 1, TABLES, "multi-hot tables")
    return results


def _write_npz(dest: Path, ids: np.ndarray, table_sizes) -> None:
    """day_23_sparse_multi_hot.npz as numpy.savez writes it (stored members), built member by member on disk."""
    work = dest / ".multi-hot"
    work.mkdir(exist_ok=True)
    try:
        def out(k, shape):
            return np.lib.format.open_memmap(work / f"{k}.npy", mode="w+", dtype=np.int32, shape=shape)

        arrays = multi_hot(ids, table_sizes, out=out)
        with zipfile.ZipFile(dest / SPARSE_FILE, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for k, arr in enumerate(arrays):
                arr.flush()
                del arr
                zf.write(work / f"{k}.npy", arcname=f"{k}.npy")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _raw_days(raw: Path) -> list[Path]:
    days = []
    for d in range(DAYS):
        path = find(raw, f"day_{d}", f"day_{d}.gz", what=f"Criteo 1TB day {d}", fix=_FIX, required=False)
        if path is None:
            raise UsageError(f"{raw} holds no day_{d} (or day_{d}.gz): the contiguous ids of day {DAY} are "
                             f"assigned over days 0..{DAY}, so all {DAYS} days are needed", _FIX)
        days.append(path)
    return days


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r")
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same bad input
        raise UsageError(f"{path} is not a readable .npy file ({type(e).__name__})", _FIX) from None


def prepare(raw: Path, dest: Path, model: str, count: int | None, table_sizes=None) -> dict:
    table_sizes = tuple(table_sizes or TABLE_SIZES)
    pre = find(raw, f"day_{DAY}_sparse.npy", what="torchrec's preprocessed day", fix=_FIX, required=False)
    if pre is not None:
        dense, labels, sparse = (_load(pre.parent / f"day_{DAY}_{p}.npy") for p in ("dense", "labels", "sparse"))
        if sparse.ndim != 2 or sparse.shape[1] != TABLES:
            raise UsageError(f"{pre} has shape {sparse.shape}, not (N, {TABLES})", _FIX)
        if dense.ndim != 2 or dense.shape[1] != DENSE_FEATURES or len(dense) != len(sparse):
            raise UsageError(f"{pre.parent / DENSE_FILE} has shape {dense.shape}, not ({len(sparse)}, "
                             f"{DENSE_FEATURES})", _FIX)
        if len(labels) != len(sparse):
            raise UsageError(f"{pre.parent / LABELS_FILE} holds {len(labels)} rows, {pre} {len(sparse)}", _FIX)
        n = len(sparse) if count is None else min(count, len(sparse))
        ids, source = np.asarray(sparse[:n]), str(pre.parent.relative_to(raw) / pre.name)
        dense, labels = np.asarray(dense[:n], np.float32), np.asarray(labels[:n]).reshape(n, -1)
    else:
        days = _raw_days(raw)
        contiguous = Contiguous()
        for d, path in enumerate(days[:-1]):
            contiguous.map(read_day(path)[1])
            progress(d + 1, DAYS, "days")
        dense, sparse, labels = read_day(days[-1], count)
        ids, source = contiguous.map(sparse), str(days[-1].relative_to(raw))
        progress(DAYS, DAYS, "days")
        n = len(ids)
    if count is not None and n < count:
        raise UsageError(f"--count {count} exceeds the {n} rows of day {DAY} in {raw / source}",
                         f"pass at most {n}")
    np.save(dest / DENSE_FILE, dense)
    np.save(dest / LABELS_FILE, labels.astype(np.int32))
    _write_npz(dest, ids, table_sizes)
    return {"samples": int(n), "layout": [DENSE_FILE, LABELS_FILE, SPARSE_FILE], "source": source}


# -- the checkpoint ------------------------------------------------------------------------------------------------
METADATA = ".snapshot_metadata"
_CKPT_FIX = "pass --raw with the published dlrm-v2 torchsnapshot folder (model_weights/, with .snapshot_metadata)"
_TABLE = re.compile(r"model\.sparse_arch\.embedding_bag_collection\.embedding_bags\.t_cat_(\d+)\.weight$")


def _metadata(path: Path) -> dict:
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        meta = json.loads(text)  # torchsnapshot writes its "yaml" as JSON
    except json.JSONDecodeError:
        try:
            import yaml
        except ImportError:
            raise UsageError(f"{path} is not JSON and this image has no YAML reader",
                             "rewrite it as JSON (yaml.safe_load, then json.dump) and prepare again") from None
        try:
            meta = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise UsageError(f"{path} is neither JSON nor YAML ({str(e).splitlines()[0]})", _CKPT_FIX) from None
    if not isinstance(meta, dict) or not isinstance(meta.get("manifest"), dict):
        raise UsageError(f"{path} has no 'manifest' mapping (not a torchsnapshot metadata file)", _CKPT_FIX)
    return meta


def _dtype(name: str, where: str):
    import torch

    dtype = getattr(torch, str(name).removeprefix("torch."), None)
    if not isinstance(dtype, torch.dtype):
        raise UsageError(f"{where}: unknown dtype {name!r}", _CKPT_FIX)
    return dtype


def _tensor(root: Path, entry: dict, where: str):
    """The tensor a torchsnapshot Tensor entry describes, read from its file (and byte range)."""
    import torch

    try:
        path = root / entry["location"]
        serializer, byte_range = entry["serializer"], entry.get("byte_range")
        dtype, shape = _dtype(entry["dtype"], where), [int(s) for s in entry["shape"]]
    except (KeyError, TypeError, ValueError):
        raise UsageError(f"{root / METADATA}: entry {where} lacks location, serializer, dtype or shape",
                         _CKPT_FIX) from None
    if not path.is_file():
        raise UsageError(f"{path} does not exist (entry {where} of {root / METADATA})", "fetch the checkpoint again")
    with open(path, "rb") as f:
        if byte_range:
            f.seek(int(byte_range[0]))
            data = f.read(int(byte_range[1]) - int(byte_range[0]))
        else:
            data = f.read()
    if serializer == "buffer_protocol":
        expected = int(np.prod(shape)) * torch.empty((), dtype=dtype).element_size()
        if len(data) != expected:
            raise UsageError(f"{path}: {len(data)} bytes for {where}, {expected} expected ({shape} {dtype})",
                             "fetch the checkpoint again")
        if not data:
            return torch.empty(shape, dtype=dtype)
        return torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape)
    if serializer == "torch_save":
        try:
            t = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001 - any unreadable blob is the same bad input
            raise UsageError(f"{path}: {where} is not a readable torch.save tensor ({type(e).__name__})",
                             "fetch the checkpoint again") from None
        return t.reshape(shape)
    raise UsageError(f"{root / METADATA}: entry {where} uses serializer {serializer!r}",
                     "only buffer_protocol and torch_save (unquantized) checkpoints are converted")


def _pieces(root: Path, entry: dict, where: str) -> list[tuple[list[int], list[int], dict]]:
    kind = entry.get("type")
    items = entry.get("shards") if kind == "ShardedTensor" else entry.get("chunks")
    if not isinstance(items, list):
        raise UsageError(f"{root / METADATA}: {kind} entry {where} has no shard list", _CKPT_FIX)
    return [(list(map(int, s["offsets"])), list(map(int, s["sizes"])), s["tensor"]) for s in items]


def prepare_checkpoint(raw: Path, dest: Path, model: str, count: int | None) -> dict:
    import torch

    from .model import DENSE_FILE as CKPT_DENSE
    from .model import TABLE_DIR, load

    meta_path = find(raw, METADATA, what="torchsnapshot metadata", fix=_CKPT_FIX)
    root = meta_path.parent
    manifest = _metadata(meta_path)["manifest"]
    dense: dict[str, torch.Tensor] = {}
    tables: dict[int, list] = {}
    for path, entry in manifest.items():
        if not isinstance(entry, dict):
            raise UsageError(f"{meta_path}: entry {path!r} is not a mapping", _CKPT_FIX)
        rank, _, logical = str(path).partition("/")
        app, _, key = logical.partition("/")
        key = unquote(key)
        if not rank.isdigit() or app != "model" or not key:
            continue  # another app state (optimizer, progress, ...)
        table = _TABLE.search(key)
        kind = entry.get("type")
        if kind == "Tensor":
            if table:
                tables.setdefault(int(table.group(1)), []).append(([0] * len(entry["shape"]), entry["shape"], entry))
            elif key not in dense:  # replicated tensors are listed once (rank 0)
                dense[key] = _tensor(root, entry, key).clone()
        elif kind in ("ShardedTensor", "ChunkedTensor"):
            if table:
                tables.setdefault(int(table.group(1)), []).extend(_pieces(root, entry, key))
            elif key not in dense:
                pieces = _pieces(root, entry, key)
                shape = [max(o[d] + s[d] for o, s, _ in pieces) for d in range(len(pieces[0][0]))]
                full = torch.empty(shape, dtype=_dtype(pieces[0][2]["dtype"], key))
                for o, s, t in pieces:
                    full[tuple(slice(a, a + b) for a, b in zip(o, s, strict=True))] = _tensor(root, t, key)
                dense[key] = full
    missing = [k for k in range(TABLES) if k not in tables]
    if missing:
        raise UsageError(f"{meta_path} lists no embedding table t_cat_{missing[0]} ({len(missing)} of {TABLES} "
                         f"missing)", "pass the complete snapshot (every rank's manifest)")
    (dest / TABLE_DIR).mkdir(parents=True, exist_ok=True)
    for k in range(TABLES):
        pieces = tables[k]
        rows = max(o[0] + s[0] for o, s, _ in pieces)
        cols = max(o[1] + s[1] for o, s, _ in pieces)
        out = np.lib.format.open_memmap(dest / TABLE_DIR / f"t_cat_{k}.npy", mode="w+", dtype=np.float32,
                                        shape=(rows, cols))
        filled, seen = 0, set()
        for o, s, t in pieces:
            if tuple(o) in seen:  # a replicated shard listed by several ranks
                continue
            seen.add(tuple(o))
            out[o[0] : o[0] + s[0], o[1] : o[1] + s[1]] = _tensor(root, t, f"t_cat_{k}").float().numpy()
            filled += s[0] * s[1]
        out.flush()
        del out
        if filled != rows * cols:
            raise UsageError(f"{meta_path}: the shards of t_cat_{k} cover {filled} of {rows * cols} values",
                             "pass the complete snapshot (every rank's shards)")
        progress(k + 1, TABLES, "embedding tables")
    torch.save(dense, dest / CKPT_DENSE)
    load(dest)  # the family's own loader accepts it (the model's shapes, every table present)
    return {"tensors": len(dense), "tables": TABLES, "layout": [CKPT_DENSE, f"{TABLE_DIR}/t_cat_<k>.npy"],
            "source": str(root.relative_to(raw)) or "."}
