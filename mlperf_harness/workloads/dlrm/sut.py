"""The DLRM-v2 SUT: worker threads take up to max_batch queued queries (LoadGen samples, each 100-700 rows),
run them as one batch and answer each query with its rows' float32 (prediction, label) pairs."""

import queue
import sys
import threading

import numpy as np


def respond(model, queries, indices: list[int]) -> list[np.ndarray]:
    """One (rows, 2) float32 payload per query in indices: prediction and label per row."""
    dense, sparse, labels, sizes = queries.batch(indices)
    out = np.empty((len(labels), 2), np.float32)
    out[:, 0] = model.predict(dense, sparse)
    out[:, 1] = labels
    return np.split(out, np.cumsum(sizes)[:-1])


class QueryPool:
    def __init__(self, model, queries, workers: int, max_batch: int):
        import mlperf_loadgen as lg

        self.lg = lg
        self.model = model
        self.queries = queries
        self.max_batch = max_batch
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._work, daemon=True, name=f"dlrm-{i}") for i in range(workers)]
        for t in self.threads:
            t.start()

    def issue(self, ids: list[int], indices: list[int]) -> None:
        bs = self.max_batch
        for i in range(0, len(ids), bs):
            self.queue.put((ids[i : i + bs], indices[i : i + bs]))

    def flush(self) -> None:
        """Nothing is held back."""

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join()

    def _work(self) -> None:
        lg, qsr = self.lg, self.lg.QuerySampleResponse
        while (item := self.queue.get()) is not None:
            ids, indices = item
            try:
                parts = respond(self.model, self.queries, indices)
                # QuerySamplesComplete copies the data before it returns, so `parts` may go afterwards.
                lg.QuerySamplesComplete([qsr(i, p.ctypes.data, p.nbytes) for i, p in zip(ids, parts, strict=True)])
            except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answers or it waits forever
                if not self.errors:
                    print(f"error: inference failed: {e!r}", file=sys.stderr)
                self.errors.append(e)
                lg.QuerySamplesComplete([qsr(i, 0, 0) for i in ids])
