"""The system under test: LoadGen's fast-issue SUT and QSL, answered by a persistent worker pool.

Issued queries are cut into batches of at most max_batch samples and queued; each worker takes a batch
(and, when queries arrive one by one, whatever else is queued up to max_batch), runs the backend and
completes all its samples with one QuerySamplesComplete call. Each response carries the predicted ImageNet
label as float32, the format the reference accuracy-imagenet.py reads by default.
"""

import queue
import sys
import threading
from itertools import repeat

import numpy as np


class WorkerPool:
    """Worker threads started once and fed by one queue; LoadGen's fast-issue SUT calls issue() and flush()."""

    def __init__(self, backend, dataset, workers: int, max_batch: int):
        import mlperf_loadgen as lg

        self.lg = lg
        self.backend = backend
        self.dataset = dataset
        self.max_batch = max_batch
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._work, daemon=True, name=f"sut-{i}") for i in range(workers)]
        for t in self.threads:
            t.start()

    def issue(self, ids: list[int], indices: list[int]) -> None:
        """LoadGen's fast-issue callback: ids and sample indices as two lists."""
        bs = self.max_batch
        if len(ids) <= bs:
            self.queue.put((ids, indices))
            return
        for i in range(0, len(ids), bs):
            self.queue.put((ids[i : i + bs], indices[i : i + bs]))

    def flush(self) -> None:
        """Nothing is held back, so there is nothing to flush."""

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join()

    def _take(self, first, pending):
        """first plus queued items while they fit in max_batch; an item that does not fit is returned apart."""
        ids, indices = first
        while len(ids) < self.max_batch:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if item is None or len(ids) + len(item[0]) > self.max_batch:
                pending.append(item)
                break
            ids, indices = ids + item[0], indices + item[1]
        return ids, indices

    def _work(self) -> None:
        lg, qsr = self.lg, self.lg.QuerySampleResponse
        # QuerySamplesComplete copies the responses and their data before it returns, so each worker keeps
        # one label buffer and one response per buffer slot, and per batch only sets the response ids.
        labels = np.empty(self.max_batch, np.float32)
        slots = [qsr(0, labels.ctypes.data + 4 * k, 4) for k in range(self.max_batch)]
        pending: list = []
        while True:
            item = pending.pop() if pending else self.queue.get()
            if item is None:
                return
            ids, indices = self._take(item, pending)
            n = len(ids)
            try:
                top1 = self.backend.predict(self.dataset.batch(indices))
                np.add(top1, self.backend.label_offset, out=labels[:n], casting="unsafe")
                responses = slots[:n]
                for response, sample_id in zip(responses, ids, strict=True):
                    response.id = sample_id
            except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answers or it waits forever
                if not self.errors:
                    print(f"error: inference failed: {e!r}", file=sys.stderr)
                self.errors.append(e)
                responses = list(map(qsr, ids, repeat(0, n), repeat(0, n)))
            lg.QuerySamplesComplete(responses)


def run(pool: WorkerPool, dataset, total: int, performance_count: int, settings, log_settings) -> None:
    """One LoadGen test against pool; LoadGen writes its logs where log_settings say."""
    lg = pool.lg
    sut = lg.ConstructFastSUT(pool.issue, pool.flush)
    qsl = lg.ConstructQSL(total, performance_count, dataset.load, dataset.unload)
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log_settings, "audit.config")
    finally:
        lg.DestroyQSL(qsl)
        lg.DestroyFastSUT(sut)
