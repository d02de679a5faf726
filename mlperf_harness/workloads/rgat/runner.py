"""`run --model rgat`: the R-GAT hooks of the run skeleton, on the IGBH graph read memory-mapped.

A LoadGen sample is one validation paper (val_idx.pt[qsl_idx]). A worker takes up to --max-batchsize queued
papers, samples their neighbourhoods together (fan-outs 5/10/15, the reference's PyGSampler semantics), runs the
model once and answers each paper with its predicted class as one int64 (its first byte is the reference's
uint8 answer). The graph's in-neighbour index is built in load(); features stay memory-mapped, so the QSL's
load/unload have nothing to do."""

from pathlib import Path

import numpy as np

from ..base import Runner, insert_before
from . import accuracy, graph, model

CPU_BATCH = 64  # papers per sampled batch on a CPU
GPU_BATCH = 512
TEST_MIN_QUERIES = {"Offline": 1}
SAMPLER_SEED = 0  # the sampler's numpy seed (the reference leaves DGL's unseeded)


class Papers:
    """The QSL: the first `count` validation papers; nothing to load (features are memory-mapped)."""

    def __init__(self, dataset_dir: Path, count: int | None):
        val = graph.read_val_idx(dataset_dir)
        self.ids = val[:count] if count else val

    def __len__(self) -> int:
        return len(self.ids)

    def load(self, indices) -> None:
        pass

    def unload(self, indices) -> None:
        pass


class RgatRunner(Runner):
    test_min_queries = TEST_MIN_QUERIES
    what = "node classification"

    def prepare(self) -> None:
        a = self.a
        self.workload.check_dataset(Path(a.dataset_dir))  # every file of the layout
        self.papers = Papers(Path(a.dataset_dir), a.count)
        self.net = model.load(Path(a.model_path), a.device)  # a missing or foreign checkpoint: the one-line error
        graph.Graph(Path(a.dataset_dir), with_edges=False)  # every feature file there and (nodes, 1024)

    def defaults(self) -> tuple[int, int, int]:
        from mlperf_harness.loadgen.lifecycle import cpu_count

        batch = self.a.max_batchsize or (CPU_BATCH if self.a.device == "cpu" else GPU_BATCH)
        return self.a.threads or cpu_count(), batch, 1

    def load(self, out: Path):
        import torch

        from ...frameworks import torch as framework

        torch.set_num_threads(self.threads)
        self.device = framework.device(self.a.device)
        self.graph = graph.Graph(Path(self.a.dataset_dir))
        self.rng = np.random.default_rng(SAMPLER_SEED)
        return self.papers

    def banner(self) -> str:
        n = self.graph.num_nodes
        return (
            f"{super().banner()}: {len(self.papers)} papers of a graph of {sum(n.values())} nodes "
            f"(index {self.graph.index_bytes() / 2**20:.1f} MiB), threads={self.threads}, batch={self.batch}"
        )

    def warm_up(self) -> None:
        model.predict(self.net, self.graph, self.papers.ids[:1], np.random.default_rng(SAMPLER_SEED), self.device)

    def answerer(self):
        import mlperf_loadgen as lg

        qsr, net, g, ids = lg.QuerySampleResponse, self.net, self.graph, self.papers.ids
        rng, device = self.rng, self.device

        def answer(qids, indices):
            classes = model.predict(net, g, ids[np.asarray(indices)], rng, device)
            parts = [classes[i : i + 1] for i in range(len(classes))]
            return [qsr(q, p.ctypes.data, p.nbytes) for q, p in zip(qids, parts, strict=True)], parts

        return answer

    def facts(self, facts: dict) -> dict:
        return insert_before(
            facts, "threads", {"graph_nodes": sum(self.graph.num_nodes.values()), "fanouts": list(model.FANOUTS)}
        )

    def framework(self) -> dict:
        import torch
        import torch_geometric

        return {"name": "pytorch", "version": f"{torch.__version__} (torch_geometric {torch_geometric.__version__})"}

    def score(self, out: Path, result: dict) -> None:
        """Node-classification accuracy of the logged classes into accuracy.txt (the reference's line)."""
        s = accuracy.score(out / "mlperf_log_accuracy.json", Path(self.a.dataset_dir))
        line = accuracy.format_line(s)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "accuracy", "value": round(100.0 * s["accuracy"], 3), "unit": "%"}
        result["accuracy"] = s
