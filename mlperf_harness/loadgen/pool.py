"""The one worker pool every workload's SUT is answered by, and the LoadGen SUT/QSL wiring around it.

LoadGen's fast-issue callback hands issue() the query ids and sample indices of a query; they are cut into
work items (by default batches of at most max_batch samples; a workload may split them its own way) and
queued. Each worker takes an item (and, when the workload allows combining, whatever else is queued up to
max_batch: queries that arrive one by one still fill a batch), asks the workload's answer function for the
responses and completes all of them with one QuerySamplesComplete call. A failed item is completed with
empty responses, so LoadGen never waits forever; the first failure is printed and all are kept in errors.
"""

import queue
import sys
import threading
from collections.abc import Callable, Iterable
from itertools import repeat

# (query ids, sample indices) -> (responses, what must stay alive until QuerySamplesComplete has returned)
Answer = Callable[[list, list], tuple[list, object]]


class WorkerPool:
    """Worker threads started once and fed by one queue; LoadGen's fast-issue SUT calls issue() and flush().

    answerer: called once per worker, here, before any worker starts; returns that worker's Answer (so each
    worker may own preallocated buffers). split: (ids, indices) -> work items, instead of max_batch slices.
    combine: let a worker add queued items to the one it took, up to max_batch samples. what: the word for
    the work in the first-failure line ("inference", "generation")."""

    def __init__(
        self,
        answerer: Callable[[], Answer],
        workers: int,
        max_batch: int,
        *,
        split: Callable[[list, list], Iterable[tuple[list, list]]] | None = None,
        combine: bool = True,
        what: str = "inference",
    ):
        import mlperf_loadgen as lg

        self.lg = lg
        self.max_batch = max_batch
        self.split = split
        self.combine = combine
        self.what = what
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        answers = [answerer() for _ in range(workers)]
        self.threads = [
            threading.Thread(target=self._work, args=(answer,), daemon=True, name=f"sut-{i}")
            for i, answer in enumerate(answers)
        ]
        for t in self.threads:
            t.start()

    def issue(self, ids: list[int], indices: list[int]) -> None:
        """LoadGen's fast-issue callback: ids and sample indices as two lists."""
        if self.split is not None:
            for item in self.split(ids, indices):
                self.queue.put(item)
            return
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

    def _work(self, answer: Answer) -> None:
        lg = self.lg
        complete, qsr = lg.QuerySamplesComplete, lg.QuerySampleResponse
        take = self._take if self.combine else None
        pending: list = []
        while True:
            item = pending.pop() if pending else self.queue.get()
            if item is None:
                return
            ids, indices = take(item, pending) if take is not None else item
            try:
                responses, keep = answer(ids, indices)
            except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answers or it waits forever
                if not self.errors:
                    print(f"error: {self.what} failed: {e!r}", file=sys.stderr)
                self.errors.append(e)
                n = len(ids)
                responses, keep = list(map(qsr, ids, repeat(0, n), repeat(0, n))), None
            complete(responses)
            del responses, keep  # LoadGen has copied the answers: their buffers may go before the next wait


def run(pool: WorkerPool, qsl, total: int, performance_count: int, settings, log_settings) -> None:
    """One LoadGen test against pool, qsl giving LoadGen's load/unload callbacks; LoadGen writes its logs
    where log_settings say."""
    lg = pool.lg
    sut = lg.ConstructFastSUT(pool.issue, pool.flush)
    qsl_handle = lg.ConstructQSL(total, performance_count, qsl.load, qsl.unload)
    try:
        lg.StartTestWithLogSettings(sut, qsl_handle, settings, log_settings, "audit.config")
    finally:
        lg.DestroyQSL(qsl_handle)
        lg.DestroyFastSUT(sut)
