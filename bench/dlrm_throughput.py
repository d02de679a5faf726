"""DLRM-DCNv2 throughput on this machine (figures, not a timed test):

1. the harness's batch path (sut.respond: the loaded queries concatenated, the model, the (prediction, label)
   payload per query) over the demo queries, batch queries per call;
2. the raw framework call on the same inputs: the torch embedding bags and DCN forward on tensors built
   beforehand, nothing else;
3. their ratio (target >= 0.95).

Usage: python bench/dlrm_throughput.py [--workdir DIR] [--rows N] [--batch B] [--rounds R]
"""

import argparse
import sys
import tempfile
import time
from pathlib import Path

import torch

from mlperf_harness.loadgen.lifecycle import cpu_count
from mlperf_harness.workloads.dlrm import dataset, demo, model, runner


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", help="demo data dir (made if missing)")
    p.add_argument("--rows", type=int, default=8000, help="demo rows to write (half are evaluated)")
    p.add_argument("--batch", type=int, default=8, help="queries per forward pass")
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="dlrm-bench-"))
    if not (work / demo.DATASET_DIR / "day_23_dense.npy").is_file():
        demo.write(work, a.rows, 0)
    threads = cpu_count()
    torch.set_num_threads(threads)
    net = model.load(work / demo.MODEL_DIR, mmap=False)
    queries = dataset.Queries(work / demo.DATASET_DIR)
    indices = list(range(len(queries)))
    queries.load(indices)
    groups = [indices[i : i + a.batch] for i in range(0, len(indices), a.batch)]
    inputs = []
    for g in groups:
        dense, sparse, _, _ = queries.batch(g)
        inputs.append((torch.from_numpy(dense), [torch.from_numpy(s) for s in sparse]))
    tables = net.tables.tables

    def raw_call(dense, sparse):
        with torch.inference_mode():
            pooled = torch.stack(
                [torch.nn.functional.embedding_bag(s, t, mode="sum") for s, t in zip(sparse, tables, strict=True)], 1
            )
            return net.dense(dense, pooled)

    raw_call(*inputs[0])
    runner.respond(net, queries, groups[0])  # warm-up
    raw_t, harness_t = [], []
    for _ in range(a.rounds):  # the two paths alternate call by call, so load from other work hits both alike
        raw, harness = 0.0, 0.0
        for n, (g, (dense, sparse)) in enumerate(zip(groups, inputs, strict=True)):
            for which in (0, 1) if n % 2 == 0 else (1, 0):  # each goes first half of the time
                t = time.perf_counter()
                if which == 0:
                    raw_call(dense, sparse)
                    raw += time.perf_counter() - t
                else:
                    runner.respond(net, queries, g)
                    harness += time.perf_counter() - t
        raw_t.append(raw)
        harness_t.append(harness)
    rows = int(queries.offsets[-1])
    raw, harness = min(raw_t), min(harness_t)  # best round of each: the machine is shared
    print(f"{threads} threads, {len(indices)} queries ({rows} rows), {a.batch} per call, best of {a.rounds}")
    print(f"raw framework: {len(indices) / raw:.1f} queries/s ({rows / raw:.0f} rows/s)")
    print(f"harness path:  {len(indices) / harness:.1f} queries/s ({rows / harness:.0f} rows/s)")
    print(f"ratio harness/raw throughput: {raw / harness:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
