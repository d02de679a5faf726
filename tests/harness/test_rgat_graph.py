"""The IGBH graph and the reference's neighbour sampling (PyGSampler semantics) on small hand-made graphs."""

from pathlib import Path

import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.rgat import EDGE_FILES, IN_FEATS, NODE_TYPES, PROCESSED, demo, edge_file, feature_file
from mlperf_harness.workloads.rgat import graph as g


def write_graph(root: Path, nodes: dict, edges: dict) -> Path:
    """An IGBH layout with zero features; edges: file name -> list of (src, dst)."""
    for t in NODE_TYPES:
        (root / PROCESSED / t).mkdir(parents=True, exist_ok=True)
        np.save(root / feature_file(t), np.zeros((nodes.get(t, 1), IN_FEATS), np.float32))
    for name in EDGE_FILES:
        (root / PROCESSED / name).mkdir(parents=True, exist_ok=True)
        np.save(root / edge_file(name), np.array(edges.get(name, []), np.int64).reshape(-1, 2))
    return root


def in_neighbours(graph, rel, node) -> list[int]:
    indptr, idx = graph.index[rel]
    return sorted(idx[indptr[node] : indptr[node + 1]].tolist())


def test_the_reference_graph_has_11_relations_symmetric_cites_with_one_self_loop(tmp_path):
    root = write_graph(
        tmp_path,
        {"paper": 4, "author": 2},
        {"paper__cites__paper": [(0, 1), (2, 2), (3, 0)], "paper__written_by__author": [(0, 1), (2, 1)]},
    )
    graph = g.Graph(root)
    assert len(graph.index) == 11 and ("author", "rev_written_by", "paper") in graph.index
    cites = ("paper", "cites", "paper")
    assert in_neighbours(graph, cites, 0) == [0, 1, 3]  # cited by 3, cites 1, itself once
    assert in_neighbours(graph, cites, 2) == [2]  # the file's self-loop replaced by the one added
    assert in_neighbours(graph, ("paper", "written_by", "author"), 1) == [0, 2]
    assert in_neighbours(graph, ("author", "rev_written_by", "paper"), 2) == [1]
    assert graph.index[cites][1].dtype == np.int32  # ids below 2**31 are held in 4 bytes


def test_features_are_memory_mapped_and_headerless_files_read_as_raw_rows(tmp_path):
    root = write_graph(tmp_path, {"paper": 3}, {})
    raw = np.arange(2 * IN_FEATS, dtype=np.float32).reshape(2, IN_FEATS)
    raw.tofile(root / feature_file("author"))  # IGBH-full's large arrays have no .npy header
    graph = g.Graph(root)
    assert isinstance(graph.features["paper"], np.memmap) and isinstance(graph.features["author"], np.memmap)
    assert graph.num_nodes["author"] == 2
    np.testing.assert_array_equal(graph.gather("author", np.array([1, 0, 1])), raw[[1, 0, 1]])


def test_bad_arrays_are_usage_errors_naming_the_file(tmp_path):
    root = write_graph(tmp_path, {"paper": 3}, {"paper__cites__paper": [(0, 5)]})
    with pytest.raises(UsageError, match=r"paper__cites__paper/edge_index.npy names paper 5, past its 3 nodes"):
        g.Graph(root)
    np.save(root / edge_file("paper__cites__paper"), np.zeros((4, 3), np.int64))
    with pytest.raises(UsageError, match=r"has shape \(4, 3\).*edge_index.npy is \(E, 2\)"):
        g.Graph(root)
    np.save(root / feature_file("fos"), np.zeros((3, 8), np.float32))
    with pytest.raises(UsageError, match=r"fos/node_feat.npy has shape \(3, 8\)"):
        g.Graph(root, with_edges=False)


def test_sampling_takes_fanout_distinct_in_edges_uniformly_or_all_of_fewer():
    rng = np.random.default_rng(1)
    deg = np.array([20, 3, 6])
    indptr = np.concatenate(([0], np.cumsum(deg)))
    indices = np.arange(indptr[-1]) + 100
    counts = np.zeros(indptr[-1])
    for _ in range(2000):
        src, dst = g.sample_in_edges((indptr, indices), np.array([0, 1, 2]), 5, rng)
        assert (dst == 0).sum() == 5 and (dst == 1).sum() == 3 and (dst == 2).sum() == 5
        for node in (0, 1, 2):
            picked = src[dst == node] - 100
            assert len(set(picked)) == len(picked)  # without replacement
            assert ((picked >= indptr[node]) & (picked < indptr[node + 1])).all()  # its own in-edges
        counts[src - 100] += 1
    np.testing.assert_allclose(counts[:20] / 2000, 5 / 20, atol=0.04)  # uniform over the 20
    assert (counts[20:23] == 2000).all()
    np.testing.assert_allclose(counts[23:] / 2000, 5 / 6, atol=0.04)


def test_blocks_follow_the_pyg_sampler():
    """A citation chain 0-1-2-3-4 (symmetric, self-loops): from seed 0 with fan-outs large enough to take all,
    the output layer's block holds 0's edges, each lower block adds the next hop's, destinations come first and
    a block's sources are the next lower block's destinations; a node's in-edges are sampled once."""

    class Chain:
        index = {
            ("paper", "cites", "paper"): g.csc(
                np.array([1, 0, 2, 1, 3, 2, 4, 3, 0, 1, 2, 3, 4]), np.array([0, 1, 1, 2, 2, 3, 3, 4, 0, 1, 2, 3, 4]), 5
            )
        }

    blocks = g.sample(Chain, np.array([0]), (10, 10, 10), np.random.default_rng(0))
    out, mid, first = blocks[2], blocks[1], blocks[0]
    assert out.num_dst["paper"] == 1 and list(out.src["paper"]) == [0, 1]
    assert list(mid.src["paper"][: mid.num_dst["paper"]]) == [0, 1] and sorted(mid.src["paper"]) == [0, 1, 2]
    assert list(first.src["paper"][:3]) == list(mid.src["paper"]) and sorted(first.src["paper"]) == [0, 1, 2, 3]
    rel = ("paper", "cites", "paper")
    assert [b.edges[rel].shape[1] for b in blocks] == [2 + 3 + 3, 2 + 3, 2]  # accumulated: 0's, then 1's, then 2's
    # every block's edges point at its destinations, from its sources
    for b in blocks:
        assert b.edges[rel][1].max() < b.num_dst["paper"] and b.edges[rel][0].max() < len(b.src["paper"])


def test_demo_graph_keeps_every_in_degree_within_the_smallest_fanout(tmp_path):
    val = demo.write_data(tmp_path, 20, 0)
    assert len(val) == 20 and len(set(val.tolist())) == 20
    graph = g.Graph(tmp_path)
    for indptr, _ in graph.index.values():
        assert np.diff(indptr).max() <= 5
    assert sorted(graph.num_nodes) == sorted(NODE_TYPES) and graph.num_nodes["paper"] == 40
