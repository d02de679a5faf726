"""R-GAT on this machine (figures, not a timed test): throughput of the harness path against the raw calls, and
the memory the harness holds per million graph nodes.

A synthetic graph in the IGBH layout is written first: the six node types in IGBH-full's proportions, random
edges at IGBH-full's density (5.81e9 edges over 5.47e8 nodes, most of them citations) and zero features in
sparse files (the harness memory-maps them, as it maps the real 2 TB of features).

1. memory: a child process builds the graph's in-neighbour index (graph.Graph); its resident memory after the
   build, less before, and its peak, per million nodes (the features are mapped, not counted: the page cache
   holds what a run touches);
2. raw: the reference's predict as direct calls on the same seeds and draws -- sample the blocks, gather the
   features, the RGAT forward, argmax;
3. harness: the runner's answer path for the same batches (model.predict: unique seeds, sampling, gather,
   forward, the int64 class per sample and its LoadGen response);
4. their ratio, median of rounds (target >= 0.95).

Usage: python bench/rgat_throughput.py [--workdir DIR] [--nodes N] [--batch B] [--batches K] [--rounds R]
"""

import argparse
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlperf_harness.workloads.rgat import EDGE_FILES, IN_FEATS, NODE_TYPES, PROCESSED, edge_file, feature_file

# IGBH-full: nodes per type, and the share of its edges per file (citations dominate)
FULL_NODES = {"paper": 269346174, "author": 277220883, "institute": 26918, "fos": 712960, "journal": 49052,
              "conference": 4547}  # fmt: skip
EDGES_PER_NODE = 5812005639 / 547360534
EDGE_SHARE = {"paper__cites__paper": 0.68, "paper__written_by__author": 0.12,
              "author__affiliated_to__institute": 0.01, "paper__topic__fos": 0.17, "paper__published__journal": 0.01,
              "paper__venue__conference": 0.01}  # fmt: skip


def synth(root: Path, nodes: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    total = sum(FULL_NODES.values())
    n = {t: max(8, round(nodes * c / total)) for t, c in FULL_NODES.items()}
    for t in NODE_TYPES:
        (root / PROCESSED / t).mkdir(parents=True, exist_ok=True)
        np.lib.format.open_memmap(root / feature_file(t), "w+", np.float32, (n[t], IN_FEATS)).flush()  # sparse
    edges = 0
    for name in EDGE_FILES:
        s, _, d = name.split("__")
        e = round(EDGE_SHARE[name] * EDGES_PER_NODE * sum(n.values()))
        # skewed destinations (a few popular fos/journals/papers), uniform sources
        dst = np.minimum((rng.pareto(1.5, e) * n[d] / 20).astype(np.int64), n[d] - 1)
        pairs = np.stack((rng.integers(0, n[s], e), dst), axis=1)
        (root / PROCESSED / name).mkdir(parents=True, exist_ok=True)
        np.save(root / edge_file(name), pairs)
        edges += e
    return {"nodes": n, "edges": edges}


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _measure(root: str, out) -> None:
    from mlperf_harness.workloads.rgat import graph

    before = rss_mib()
    g = graph.Graph(Path(root))
    out.put((rss_mib() - before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - before,
             g.index_bytes() / 2**20, sum(g.num_nodes.values())))  # fmt: skip


def memory(root: Path) -> tuple[float, float, float, int]:
    q = multiprocessing.get_context("spawn").Queue()
    p = multiprocessing.get_context("spawn").Process(target=_measure, args=(str(root), q))
    p.start()
    res = q.get()
    p.join()
    return res


def main() -> int:
    import torch

    from mlperf_harness.loadgen.lifecycle import cpu_count
    from mlperf_harness.workloads.rgat import graph, model

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", help="graph dir (made if missing)")
    p.add_argument("--nodes", type=int, default=1_000_000, help="graph nodes (all types)")
    p.add_argument("--batch", type=int, default=64, help="papers per call (the runner's CPU default)")
    p.add_argument("--batches", type=int, default=2, help="calls per round")
    p.add_argument("--rounds", type=int, default=5)
    a = p.parse_args()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="rgat-bench-"))
    if not (work / edge_file(EDGE_FILES[0])).is_file():
        facts = synth(work, a.nodes)
        print(f"wrote a synthetic IGBH-layout graph: {sum(facts['nodes'].values())} nodes, {facts['edges']} edges")
    held, peak, index, nodes = memory(work)
    per = 1e6 / nodes
    print(f"memory: index {index:.1f} MiB; resident after build {held:.1f} MiB, peak {peak:.1f} MiB for {nodes} nodes")
    print(
        f"memory per million nodes: {held * per:.1f} MiB held ({index * per:.1f} MiB index), "
        f"{peak * per:.1f} MiB peak while building (IGBH-full, 547M nodes: ~{held * per * 547 / 1024:.0f} GiB held)"
    )

    threads = cpu_count()
    torch.set_num_threads(threads)
    g = graph.Graph(work)
    net = model.seeded(0)
    seeds = np.random.default_rng(1).choice(g.num_nodes["paper"], (a.batches, a.batch), replace=False)

    def raw_call(ids, rng):
        blocks = graph.sample(g, np.sort(ids), model.FANOUTS, rng)
        x = {t: torch.from_numpy(g.gather(t, v)) for t, v in blocks[0].src.items()}
        with torch.inference_mode():
            return net(blocks, x).argmax(1).numpy()

    import mlperf_loadgen as lg

    def harness_call(ids, rng):
        classes = model.predict(net, g, ids, rng, "cpu")
        parts = [classes[i : i + 1] for i in range(len(classes))]
        return [lg.QuerySampleResponse(q, p.ctypes.data, p.nbytes) for q, p in enumerate(parts)], parts

    raw_call(seeds[0], np.random.default_rng(0))
    harness_call(seeds[0], np.random.default_rng(0))  # warm-up
    ratios, raw_rates, harness_rates = [], [], []
    for r in range(a.rounds):  # the two paths alternate call by call, on the same seeds and draws
        raw = harness = 0.0
        for n, ids in enumerate(seeds):
            for which in (0, 1) if n % 2 == 0 else (1, 0):
                rng = np.random.default_rng(100 * r + n)
                t = time.perf_counter()
                (raw_call if which == 0 else harness_call)(ids, rng)
                if which == 0:
                    raw += time.perf_counter() - t
                else:
                    harness += time.perf_counter() - t
        papers = seeds.size
        raw_rates.append(papers / raw)
        harness_rates.append(papers / harness)
        ratios.append(raw / harness)
    print(
        f"{threads} threads, {a.batches} x {a.batch} papers per round, fan-outs {model.FANOUTS}, "
        f"median of {a.rounds} rounds"
    )
    print(f"raw calls:    {statistics.median(raw_rates):.1f} papers/s")
    print(f"harness path: {statistics.median(harness_rates):.1f} papers/s")
    print(f"ratio harness/raw throughput: {statistics.median(ratios):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
