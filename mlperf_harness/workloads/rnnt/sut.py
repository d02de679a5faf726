"""The SUT for rnnt: one persistent worker thread fed by a queue, answering each sample with its label ids.

LoadGen's fast-issue callback cuts each query into batches of max_batch (SingleStream queries hold one
sample); the worker takes a batch plus whatever else is queued up to max_batch, computes the features,
encodes and greedy-decodes the batch, and completes it with one QuerySamplesComplete, each response the
utterance's label ids as int64 (the reference's array('q')). One worker: on a CPU it owns every core, and
the greedy decoder is sequential per batch anyway.
"""

import queue
import sys
import threading

from .model import response


class TranscriptPool:
    def __init__(self, recognizer, utterances, max_batch: int):
        import mlperf_loadgen as lg

        self.lg = lg
        self.recognizer = recognizer
        self.utterances = utterances
        self.max_batch = max_batch
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._work, daemon=True, name="rnnt-sut")
        self.thread.start()

    def issue(self, ids: list[int], indices: list[int]) -> None:
        for i in range(0, len(ids), self.max_batch):
            self.queue.put((ids[i : i + self.max_batch], indices[i : i + self.max_batch]))

    def flush(self) -> None:
        """Nothing is held back."""

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def _take(self, first, pending):
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
        lg = self.lg
        pending: list = []
        while True:
            item = pending.pop() if pending else self.queue.get()
            if item is None:
                return
            ids, indices = self._take(item, pending)
            try:
                labels = self.recognizer.transcribe(self.utterances.batch(indices))
                # QuerySamplesComplete copies the data before it returns, so `arrays` may go afterwards.
                arrays = [response(x) for x in labels]
                responses = [
                    lg.QuerySampleResponse(i, a.ctypes.data, a.nbytes) for i, a in zip(ids, arrays, strict=True)
                ]
            except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answers or it waits forever
                if not self.errors:
                    print(f"error: recognition failed: {e!r}", file=sys.stderr)
                self.errors.append(e)
                responses = [lg.QuerySampleResponse(i, 0, 0) for i in ids]
            lg.QuerySamplesComplete(responses)
