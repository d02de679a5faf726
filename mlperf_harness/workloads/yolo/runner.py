"""`run --model yolo-99|yolo-95`: the object-detection hooks of the run skeleton, and its hot path.

A worker answers up to max_batch samples per call, one onnxruntime call per image (the reference's letterbox
gives each image its own input shape); each response carries the reference's accuracy-log payload
(process.response): per detection (index, ymin, xmin, ymax, xmax, score, COCO category id) as float32."""

from pathlib import Path

import numpy as np

from ..base import Runner, insert_before
from . import ANNOTATIONS, SIZE, accuracy, backends, dataset, process

# test execution mode: a few queries (Offline: samples) instead of settings.TEST_MIN_QUERIES; one 640-pixel image
# takes about a second on a small CPU, and a MultiStream query is 8 of them
TEST_MIN_QUERIES = {"Offline": 8, "SingleStream": 4, "MultiStream": 1}


def detection_answerer(runner, data):
    """Per worker: an Answer running the model on each sample of a batch, post-processing its output and answering
    with the payload (kept alive until QuerySamplesComplete has copied it)."""
    import mlperf_loadgen as lg

    def make():
        qsr, predict, batch, boxes, entries = lg.QuerySampleResponse, runner.predict, data.batch, data.boxes, \
            data.entries
        post, response = process.postprocess, process.response

        def answer(ids, indices):
            payloads = [
                response(i, post(out, boxes[i]), entries[i].height, entries[i].width)
                for i, out in zip(indices, predict(batch(indices)), strict=True)
            ]
            return [qsr(q, p.ctypes.data, p.nbytes) for q, p in zip(ids, payloads, strict=True)], payloads

        return answer

    return make


class YoloRunner(Runner):
    test_min_queries = TEST_MIN_QUERIES

    def prepare(self) -> None:
        a = self.a
        backends.model_head(Path(a.model_path))
        self.entries = dataset.read_annotations(Path(a.dataset_dir), a.count)

    def defaults(self) -> tuple[int, int, int]:
        threads, batch, workers = super().defaults()
        return threads, 1 if self.a.scenario == "SingleStream" else batch, workers

    def load(self, out: Path):
        a = self.a
        cache_root = Path(a.cache_dir).resolve() if a.cache_dir else out / "cache"
        self.runner = backends.create(a.backend, a.device, Path(a.model_path), self.threads, a.precision)
        self.dataset = dataset.Dataset(self.entries, cache_root, self.threads, self.runner.rect)
        return self.dataset

    def banner(self) -> str:
        kind = "rectangular" if self.runner.rect else "square"
        return (
            f"{super().banner()}: {len(self.entries)} images ({self.dataset.preprocessed} newly preprocessed), "
            f"{kind} letterbox to {SIZE}, threads={self.threads}, batch={self.batch}, workers={self.workers}"
        )

    def warm_up(self) -> None:
        """One image (none in accuracy mode, whose timing nobody reads)."""
        if self.a.mode == "accuracy":
            return
        box = self.dataset.boxes[0]
        self.runner.predict([np.zeros((1, 3, box.in_h, box.in_w), np.float32)])

    def answerer(self):
        return detection_answerer(self.runner, self.dataset)()

    def facts(self, facts: dict) -> dict:
        return insert_before(facts, "duration_s", {"input_size": SIZE, "letterbox": "rect" if self.runner.rect
                                                   else "square"})

    def framework(self) -> dict:
        return {"name": self.runner.name, "version": self.runner.version}

    def score(self, out: Path, result: dict) -> None:
        """COCO mAP of the accuracy log into accuracy.txt (the `mAP=` line the checker reads, then COCOeval's
        table); the skeleton judges it against the round's target."""
        s = accuracy.score(out / "mlperf_log_accuracy.json", Path(self.a.dataset_dir) / ANNOTATIONS)
        line = accuracy.format_line(s)
        (out / "accuracy.txt").write_text(accuracy.accuracy_txt(s))
        print(line)
        result["metric"] = {"name": "mAP", "value": round(100.0 * s.map, 3), "unit": "%"}
        result["accuracy"] = {"images": s.images, "detections": s.detections, "no_results": s.no_results}
