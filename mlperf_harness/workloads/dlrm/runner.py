"""`run --model dlrm-v2-99|dlrm-v2-99.9`: the DLRM-DCNv2 hooks of the run skeleton, on the day-23 multi-hot
Criteo set read memory-mapped.

A LoadGen sample is one aggregated user query (100-700 rows); the aggregation trace is written next to the
logs as the reference writes it. A worker takes up to --max-batchsize queued queries, runs them as one
batch and answers each query with its rows' float32 (prediction, label) pairs."""

from pathlib import Path

import numpy as np

from ..base import Runner, insert_before
from . import TRACE_FILE, accuracy, dataset, model

CPU_BATCH = 8  # queries (about 2200 rows) per forward pass on a CPU
GPU_BATCH = 64
# test execution mode: a DLRM-DCNv2 query (about 270 rows) takes about 0.25 s on two cores
TEST_MIN_QUERIES = {"Offline": 16, "Server": 8}


def respond(net, queries, indices: list[int]) -> list[np.ndarray]:
    """One (rows, 2) float32 payload per query in indices: prediction and label per row."""
    dense, sparse, labels, sizes = queries.batch(indices)
    out = np.empty((len(labels), 2), np.float32)
    out[:, 0] = net.predict(dense, sparse)
    out[:, 1] = labels
    return np.split(out, np.cumsum(sizes)[:-1])


class DlrmRunner(Runner):
    test_min_queries = TEST_MIN_QUERIES

    def prepare(self) -> None:
        a = self.a
        self.queries = dataset.Queries(Path(a.dataset_dir), a.count)
        path = Path(a.model_path)
        if not path.exists():
            model.load(path, a.device)  # the one-line error

    def defaults(self) -> tuple[int, int, int]:
        from mlperf_harness.loadgen.lifecycle import cpu_count

        batch = self.a.max_batchsize or (CPU_BATCH if self.a.device == "cpu" else GPU_BATCH)
        return self.a.threads or cpu_count(), batch, 1

    def load(self, out: Path):
        import torch

        torch.set_num_threads(self.threads)
        self.net = model.load(Path(self.a.model_path), self.a.device)
        dataset.write_trace(out / TRACE_FILE, self.queries.offsets)
        return self.queries

    def banner(self) -> str:
        return (
            f"{super().banner()}: {len(self.queries)} queries ({int(self.queries.offsets[-1])} rows), "
            f"threads={self.threads}, batch={self.batch} queries"
        )

    def warm_up(self) -> None:
        q = self.queries
        q.load([0])
        self.net.predict(*q.batch([0])[:2])
        q.unload([0])

    def answerer(self):
        import mlperf_loadgen as lg

        qsr, net, queries = lg.QuerySampleResponse, self.net, self.queries

        def answer(ids, indices):
            parts = respond(net, queries, indices)
            return [qsr(i, p.ctypes.data, p.nbytes) for i, p in zip(ids, parts, strict=True)], parts

        return answer

    def facts(self, facts: dict) -> dict:
        return insert_before(facts, "threads", {"rows": int(self.queries.offsets[-1])})

    def framework(self) -> dict:
        import torch

        return {"name": "pytorch", "version": torch.__version__}

    def score(self, out: Path, result: dict) -> None:
        """ROC AUC of the logged (prediction, label) pairs into accuracy.txt (the reference's line)."""
        s = accuracy.score(out / "mlperf_log_accuracy.json")
        line = accuracy.format_line(s)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "AUC", "value": round(100.0 * s["auc"], 3), "unit": "%"}
        result["accuracy"] = s
