"""The SUT for sdxl: one persistent worker thread fed by a queue, answering each sample with its image.

LoadGen's fast-issue callback puts each sample (Server and SingleStream queries hold one) on the queue, an
Offline query cut into batches of max_batch; the worker generates the images and completes them with one
QuerySamplesComplete per batch, each response the uint8 HWC RGB bytes the reference logs. One worker, because
the diffusers pipeline keeps its scheduler's state between calls (the reference serializes calls with a lock).
"""

import queue
import sys
import threading


class ImagePool:
    def __init__(self, generator, prompts, latents, max_batch: int):
        import mlperf_loadgen as lg

        self.lg = lg
        self.generator = generator
        self.prompts = prompts
        self.latents = latents
        self.max_batch = max_batch
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._work, daemon=True, name="sdxl-sut")
        self.thread.start()

    def issue(self, ids: list[int], indices: list[int]) -> None:
        for i in range(0, len(ids), self.max_batch):
            self.queue.put((ids[i : i + self.max_batch], indices[i : i + self.max_batch]))

    def flush(self) -> None:
        """Nothing is held back."""

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def _work(self) -> None:
        lg = self.lg
        while (item := self.queue.get()) is not None:
            ids, indices = item
            try:
                images = self.generator.generate(self.prompts.batch(indices), self.latents)
                # QuerySamplesComplete copies the data before it returns, so `images` may go afterwards.
                responses = [
                    lg.QuerySampleResponse(i, img.ctypes.data, img.nbytes) for i, img in zip(ids, images, strict=True)
                ]
                lg.QuerySamplesComplete(responses)
            except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answers or it waits forever
                if not self.errors:
                    print(f"error: generation failed: {e!r}", file=sys.stderr)
                self.errors.append(e)
                lg.QuerySamplesComplete([lg.QuerySampleResponse(i, 0, 0) for i in ids])
