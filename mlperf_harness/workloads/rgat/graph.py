"""The IGBH graph read memory-mapped, its in-neighbour index, and the reference's neighbour sampling.

Arrays: every node_feat.npy is opened with np.load(mmap_mode="r") (a headerless file, as IGBH-full's large
paper and author arrays are, is mapped as raw float32 rows of 1024), so only the rows a batch samples are read.
The edge files are read once to build, per relation, an in-neighbour index (CSC: indptr over destinations,
source ids sorted by destination); that index is what the harness holds in memory (bench/rgat_throughput.py
prints its size per million nodes).

Sampling (sample()) follows the reference's PyGSampler (dgl_utilities/pyg_sampler.py), which reproduces
PyG/GLT's sampler: from the output layer down, each layer samples up to `fanout` in-edges per relation,
uniformly without replacement, of the nodes not sampled before; a layer's block holds every edge sampled so far
into its destination nodes, which are the next layer's source nodes (destinations first).
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import UsageError
from . import EDGE_FILES, IN_FEATS, LABEL_FILE, NODE_TYPES, PROCESSED, VAL_FILE, edge_file, feature_file

NPY_MAGIC = b"\x93NUMPY"


def open_array(path: Path, row: int | None, dtype=np.float32) -> np.ndarray:
    """A read-only memory map of a .npy file, or of a headerless one as raw `dtype` rows of `row` values."""
    if not path.is_file():
        raise UsageError(f"{path} is missing (IGBH layout)", "pass the IGBH <size> folder holding processed/")
    with path.open("rb") as f:
        npy = f.read(6) == NPY_MAGIC
    try:
        if npy:
            return np.load(path, mmap_mode="r")
        shape = (-1, row) if row else (-1,)
        return np.memmap(path, dtype=dtype, mode="r").reshape(shape)
    except ValueError as e:
        raise UsageError(
            f"{path} is not a readable array ({e})", "pass the IGBH files as the reference writes them"
        ) from None


def relations() -> tuple[tuple[str, str, str], ...]:
    """The 11 relations of the reference's graph: the six files, and rev_<relation> for those between two types."""
    forward = tuple(tuple(name.split("__")) for name in EDGE_FILES)
    return forward + tuple((d, f"rev_{r}", s) for s, r, d in forward if s != d)


def csc(dst: np.ndarray, src: np.ndarray, n_dst: int) -> tuple[np.ndarray, np.ndarray]:
    """(indptr (n_dst + 1,) int64, sources sorted by destination); int32 sources where they fit."""
    order = np.argsort(dst, kind="stable")
    indptr = np.zeros(n_dst + 1, np.int64)
    np.cumsum(np.bincount(dst, minlength=n_dst), out=indptr[1:])
    out = src[order]
    return indptr, out.astype(np.int32) if out.size == 0 or out.max() < 2**31 else out


@dataclass
class Block:
    """One layer's message-flow graph: per node type the source ids (destinations first) and how many of them
    are destinations; per relation the (2, E) local edge index (row 0 source, row 1 destination)."""

    src: dict[str, np.ndarray]
    num_dst: dict[str, int]
    edges: dict[tuple[str, str, str], np.ndarray]


class Graph:
    """The processed/ folder of one IGBH size: features (memory-mapped), labels, val_idx, in-neighbour index."""

    def __init__(self, dataset_dir: Path, with_edges: bool = True):
        base = Path(dataset_dir)
        self.dir = base
        self.features = {t: open_array(base / feature_file(t), IN_FEATS) for t in NODE_TYPES}
        for t, f in self.features.items():
            if f.ndim != 2 or f.shape[1] != IN_FEATS:
                raise UsageError(
                    f"{base / feature_file(t)} has shape {f.shape}", f"IGBH features are (nodes, {IN_FEATS})"
                )
        self.num_nodes = {t: int(f.shape[0]) for t, f in self.features.items()}
        self.index: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
        if with_edges:
            self._build_index()

    def _edges(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        path = self.dir / edge_file(name)
        e = open_array(path, 2, np.int64)
        if e.ndim != 2 or e.shape[1] != 2 or e.dtype.kind not in "iu":
            raise UsageError(f"{path} has shape {e.shape} and dtype {e.dtype}", "edge_index.npy is (E, 2) integers")
        src, dst = np.asarray(e[:, 0], np.int64), np.asarray(e[:, 1], np.int64)
        s, _, d = name.split("__")
        for ids, t in ((src, s), (dst, d)):
            if ids.size and (ids.min() < 0 or ids.max() >= self.num_nodes[t]):
                raise UsageError(
                    f"{path} names {t} {int(ids.max())}, past its {self.num_nodes[t]} nodes",
                    f"edges and {feature_file(t)} must come from the same IGBH size",
                )
        return src, dst

    def _build_index(self) -> None:
        for name in EDGE_FILES:
            s, r, d = name.split("__")
            src, dst = self._edges(name)
            if s == d:  # cites: both directions, self-loops removed, then one per node
                keep = src != dst
                loops = np.arange(self.num_nodes[s], dtype=np.int64)
                src, dst = (
                    np.concatenate((src[keep], dst[keep], loops)),
                    np.concatenate((dst[keep], src[keep], loops)),
                )
                self.index[(s, r, d)] = csc(dst, src, self.num_nodes[d])
            else:
                self.index[(s, r, d)] = csc(dst, src, self.num_nodes[d])
                self.index[(d, f"rev_{r}", s)] = csc(src, dst, self.num_nodes[s])
            del src, dst

    def index_bytes(self) -> int:
        return sum(p.nbytes + i.nbytes for p, i in self.index.values())

    def labels(self) -> np.ndarray:
        """paper/node_label_2K.npy (float32 class ids in IGBH; memory-mapped)."""
        return open_array(self.dir / PROCESSED / LABEL_FILE, None)

    def gather(self, ntype: str, ids: np.ndarray) -> np.ndarray:
        """float32 features of ids, read in ascending order from the map."""
        if ids.size == 0:
            return np.zeros((0, IN_FEATS), np.float32)
        order = np.argsort(ids, kind="stable")
        out = np.empty((ids.size, IN_FEATS), np.float32)
        out[order] = self.features[ntype][ids[order]]
        return out


def read_val_idx(dataset_dir: Path) -> np.ndarray:
    """processed/val_idx.pt: the validation paper ids (a 1-D integer tensor, torch.save'd)."""
    import torch

    path = Path(dataset_dir) / PROCESSED / VAL_FILE
    if not path.is_file():
        raise UsageError(f"{path} is missing (IGBH layout)", "run the reference's tools/split_seeds.py")
    try:
        t = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unreadable file is the same user error
        raise UsageError(
            f"{path} is not a torch tensor file ({str(e).splitlines()[0][:120]})",
            "pass val_idx.pt as split_seeds.py writes it",
        ) from None
    if not isinstance(t, torch.Tensor) or t.dim() != 1 or t.dtype.is_floating_point:
        raise UsageError(f"{path} holds {type(t).__name__} {getattr(t, 'shape', '')}", "val_idx.pt is 1-D paper ids")
    return t.numpy().astype(np.int64)


def _pick(deg: np.ndarray, fanout: int, rng: np.random.Generator) -> np.ndarray:
    """(m, fanout) distinct positions in [0, deg) per row (every deg > fanout), uniformly without replacement."""
    r = (rng.random((deg.size, fanout)) * deg[:, None]).astype(np.int64)
    while True:
        r.sort(axis=1)
        dup = np.zeros(r.shape, bool)
        dup[:, 1:] = r[:, 1:] == r[:, :-1]
        if not dup.any():
            return r
        r[dup] = (rng.random(int(dup.sum())) * np.broadcast_to(deg[:, None], r.shape)[dup]).astype(np.int64)


def sample_in_edges(index, seeds: np.ndarray, fanout: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Up to `fanout` in-edges of each seed (all of them when it has no more): (sources, destinations)."""
    indptr, indices = index
    start = indptr[seeds]
    deg = indptr[seeds + 1] - start
    few = deg <= fanout
    # every in-edge of the seeds with few
    f_deg = deg[few]
    f_dst = np.repeat(seeds[few], f_deg)
    f_pos = np.repeat(start[few] - np.cumsum(f_deg) + f_deg, f_deg) + np.arange(int(f_deg.sum()))
    many = ~few
    m_pos = (start[many][:, None] + _pick(deg[many], fanout, rng)).reshape(-1)
    m_dst = np.repeat(seeds[many], fanout)
    pos = np.concatenate((f_pos, m_pos))
    return indices[pos].astype(np.int64), np.concatenate((f_dst, m_dst))


def _local(ids: np.ndarray, nodes: np.ndarray) -> np.ndarray:
    """Positions of ids in nodes (every id is there)."""
    order = np.argsort(nodes, kind="stable")
    return order[np.searchsorted(nodes[order], ids)]


def sample(graph: Graph, seeds: np.ndarray, fanouts=None, rng=None) -> list[Block]:
    """The blocks for unique paper `seeds`, input layer first (the reference's PyGSampler)."""
    from . import FANOUTS

    fanouts = FANOUTS if fanouts is None else fanouts
    rng = rng if rng is not None else np.random.default_rng()
    empty = np.zeros(0, np.int64)
    frontier = {"paper": np.asarray(seeds, np.int64)}
    sampled = {t: empty for t in NODE_TYPES}
    dst_nodes = {t: empty for t in NODE_TYPES} | {"paper": frontier["paper"]}
    edges = {rel: (empty, empty) for rel in graph.index}
    blocks: list[Block] = []
    for fanout in reversed(fanouts):
        for t, ids in frontier.items():
            sampled[t] = np.union1d(sampled[t], ids)
        new_src = {t: [] for t in NODE_TYPES}
        for rel, index in graph.index.items():
            s, _, d = rel
            if frontier.get(d, empty).size == 0:
                continue
            src, dst = sample_in_edges(index, frontier[d], fanout, rng)
            edges[rel] = (np.concatenate((edges[rel][0], src)), np.concatenate((edges[rel][1], dst)))
            new_src[s].append(src)
        # the next frontier: sources of this layer's new edges not sampled before
        frontier = {}
        for t in NODE_TYPES:
            ids = np.unique(np.concatenate(new_src[t])) if new_src[t] else empty
            frontier[t] = ids[~np.isin(ids, sampled[t])]
        # the block: destinations first, then every other source of the edges accumulated so far
        src_nodes = {}
        for t in NODE_TYPES:
            others = [edges[rel][0] for rel in edges if rel[0] == t]
            extra = np.unique(np.concatenate(others)) if others else empty
            extra = extra[~np.isin(extra, dst_nodes[t])]
            src_nodes[t] = np.concatenate((dst_nodes[t], extra))
        local = {rel: np.stack((_local(s_ids, src_nodes[rel[0]]), _local(d_ids, dst_nodes[rel[2]])))
                 for rel, (s_ids, d_ids) in edges.items()}  # fmt: skip
        blocks.insert(0, Block(src_nodes, {t: int(v.size) for t, v in dst_nodes.items()}, local))
        dst_nodes = src_nodes
    return blocks
