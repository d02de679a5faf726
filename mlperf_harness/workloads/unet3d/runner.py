"""`run --model 3d-unet-99|3d-unet-99.9`: the KiTS19 3D-UNet hooks of the run skeleton.

--dataset-dir is the preprocessed dir (preprocessed_files.pkl + case_XXXXX.pkl); LoadGen loads only the
performance-sample-count cases at once (dataset.Cases). One worker segments one case at a time by the sliding
window (a 128^3 window already keeps every core, or the GPU, busy) and answers with the case's uint8
segmentation (D*H*W bytes, C order), as the reference logs it. --max-batchsize is the windows per model call."""

from pathlib import Path

import numpy as np

from ..base import Runner, insert_before
from . import PERFORMANCE_SAMPLE_COUNT, ROI, accuracy, dataset, inference
from .inference import sliding_window

# test execution mode: a case takes seconds to minutes on a small CPU
TEST_MIN_QUERIES = {"Offline": 1, "SingleStream": 1}


def respond(backend, cases, index: int, batch: int = 1) -> np.ndarray:
    """The response payload for one sample: the segmentation of case `index` (D*H*W uint8, C order)."""
    seg, _ = sliding_window(cases.volume(index), backend.predict, batch=batch)
    return seg


class UnetRunner(Runner):
    test_min_queries = TEST_MIN_QUERIES
    combine = False
    what = "segmentation"

    def check(self) -> None:
        # LoadGen's mlperf.conf leaves 3d-unet's count 0; the rules' count is every inference case
        if self.a.performance_sample_count is None:
            self.a.performance_sample_count = PERFORMANCE_SAMPLE_COUNT

    def prepare(self) -> None:
        self.cases = dataset.Cases(Path(self.a.dataset_dir), self.a.count)
        path = Path(self.a.model_path)
        if not path.is_file():
            inference.create(self.a.backend, self.a.device, path, 1)  # the one-line error

    def defaults(self) -> tuple[int, int, int]:
        from mlperf_harness.loadgen.lifecycle import cpu_count

        return self.a.threads or cpu_count(), self.a.max_batchsize or 1, 1

    def load(self, out: Path):
        a = self.a
        self.backend = inference.create(a.backend, a.device, Path(a.model_path), self.threads)
        return self.cases

    def banner(self) -> str:
        return (
            f"{super().banner()}: {len(self.cases)} cases, {ROI}^3 windows, threads={self.threads}, "
            f"window batch={self.batch}"
        )

    def warm_up(self) -> None:
        self.backend.predict(np.zeros((1, 1, ROI, ROI, ROI), np.float32))

    def splitter(self):
        return lambda ids, indices: (([i], [x]) for i, x in zip(ids, indices, strict=True))

    def answerer(self):
        import mlperf_loadgen as lg

        qsr, backend, cases, batch = lg.QuerySampleResponse, self.backend, self.cases, self.batch

        def answer(ids, indices):
            segs = [respond(backend, cases, index, batch) for index in indices]
            return [qsr(i, s.ctypes.data, s.nbytes) for i, s in zip(ids, segs, strict=True)], segs

        return answer

    def facts(self, facts: dict) -> dict:
        return insert_before(facts, "threads", {"window": ROI})

    def framework(self) -> dict:
        return {"name": self.backend.name, "version": self.backend.version}

    def score(self, out: Path, result: dict) -> None:
        """Mean DICE of the logged segmentations into accuracy.txt (the reference's line)."""
        s = accuracy.score(out / "mlperf_log_accuracy.json", Path(self.a.dataset_dir))
        line = accuracy.format_line(s)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "DICE", "value": round(s["mean"], 5), "unit": ""}
        result["accuracy"] = {"mean": s["mean"], "kidney": s["kidney"], "tumor": s["tumor"], "cases": len(s["cases"])}
