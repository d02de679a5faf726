"""The 3D-UNet SUT: one worker thread segments each queued case by the sliding window and answers LoadGen with
the case's uint8 segmentation. One worker, because a window already keeps every core (or the GPU) busy."""

import queue
import sys
import threading

from .inference import sliding_window


def respond(backend, cases, index: int, batch: int = 1):
    """The response payload for one sample: the segmentation of case `index` (D*H*W uint8, C order)."""
    seg, _ = sliding_window(cases.volume(index), backend.predict, batch=batch)
    return seg


class SegmentationPool:
    def __init__(self, backend, cases, batch: int = 1):
        import mlperf_loadgen as lg

        self.lg = lg
        self.backend = backend
        self.cases = cases
        self.batch = batch
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.errors: list[BaseException] = []
        self.thread = threading.Thread(target=self._work, daemon=True, name="unet3d-sut")
        self.thread.start()

    def issue(self, ids: list[int], indices: list[int]) -> None:
        for item in zip(ids, indices, strict=True):
            self.queue.put(item)

    def flush(self) -> None:
        """Nothing is held back."""

    def stop(self) -> None:
        self.queue.put(None)
        self.thread.join()

    def _work(self) -> None:
        lg = self.lg
        while (item := self.queue.get()) is not None:
            sample_id, index = item
            try:
                seg = respond(self.backend, self.cases, index, self.batch)
                # QuerySamplesComplete copies the data before it returns, so `seg` may go afterwards.
                lg.QuerySamplesComplete([lg.QuerySampleResponse(sample_id, seg.ctypes.data, seg.nbytes)])
            except BaseException as e:  # noqa: BLE001 - LoadGen must still get its answers or it waits forever
                if not self.errors:
                    print(f"error: segmentation failed: {e!r}", file=sys.stderr)
                self.errors.append(e)
                lg.QuerySamplesComplete([lg.QuerySampleResponse(sample_id, 0, 0)])
