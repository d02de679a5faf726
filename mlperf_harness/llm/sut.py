"""The LLM system under test: LoadGen's fast-issue SUT answered by persistent worker threads.

Offline: the issued samples are ordered by prompt length and cut into batches of at most max_batch (prompts
left-padded within a batch), so a batch wastes little on padding. Server and SingleStream: every query is its own
generation. With token latencies on, each sample's first token goes to LoadGen (FirstTokenComplete) as soon as
the model has produced it; every completed sample carries its generated token ids (int64, the reference's
accuracy-log dtype) and their count.
"""

import queue
import sys
import threading

import numpy as np


class Pool:
    """Worker threads fed by one queue of batches; LoadGen's fast-issue SUT calls issue() and flush()."""

    def __init__(self, generator, samples, workers: int, max_batch: int, batch_offline: bool, first_tokens: bool):
        import mlperf_loadgen as lg

        self.lg = lg
        self.generator = generator
        self.samples = samples
        self.max_batch = max_batch
        self.batch_offline = batch_offline
        self.first_tokens = first_tokens
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.lock = threading.Lock()
        self.generated_tokens = 0
        self.threads = [threading.Thread(target=self._work, daemon=True, name=f"llm-{i}") for i in range(workers)]
        for t in self.threads:
            t.start()

    def issue(self, ids: list[int], indices: list[int]) -> None:
        """LoadGen's fast-issue callback: query ids and sample indices as two lists."""
        if not self.batch_offline or len(ids) == 1:
            for item in zip(ids, indices, strict=True):
                self.queue.put([item])
            return
        order = sorted(range(len(ids)), key=lambda k: -len(self.samples.input_ids[indices[k]]))
        ordered = [(ids[k], indices[k]) for k in order]
        for i in range(0, len(ordered), self.max_batch):
            self.queue.put(ordered[i : i + self.max_batch])

    def flush(self) -> None:
        """Nothing is held back, so there is nothing to flush."""

    def stop(self) -> None:
        for _ in self.threads:
            self.queue.put(None)
        for t in self.threads:
            t.join()

    def _first(self, ids: list[int]):
        lg = self.lg

        def report(tokens: list[int]) -> None:
            data = np.asarray(tokens, np.int64)
            lg.FirstTokenComplete([lg.QuerySampleResponse(q, data.ctypes.data + 8 * k, 8) for k, q in enumerate(ids)])

        return report

    def _work(self) -> None:
        lg = self.lg
        while True:
            batch = self.queue.get()
            if batch is None:
                return
            ids = [q for q, _ in batch]
            try:
                prompts = [self.samples.input_ids[i] for _, i in batch]
                outputs = self.generator.generate(prompts, self._first(ids) if self.first_tokens else None)
                responses = [
                    lg.QuerySampleResponse(q, out.ctypes.data, out.nbytes, len(out))
                    for q, out in zip(ids, outputs, strict=True)
                ]
                with self.lock:
                    self.generated_tokens += sum(map(len, outputs))
            except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answers or it waits forever
                if not self.errors:
                    print(f"error: generation failed: {e!r}", file=sys.stderr)
                self.errors.append(e)
                outputs = []
                responses = [lg.QuerySampleResponse(q, 0, 0) for q in ids]
            lg.QuerySamplesComplete(responses)
            del outputs
