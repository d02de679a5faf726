"""`run --model retinanet`: the object-detection hooks of the run skeleton, and its hot path.

Offline, Server and MultiStream queries are answered in batches of up to max_batch images (the onnxruntime model
takes one image per call, the pytorch model the whole batch); SingleStream runs batch 1. Each response carries
the reference's accuracy-log payload (backends.response): per detection (index, ymin, xmin, ymax, xmax, score,
label) as float32."""

from pathlib import Path

import numpy as np

from ..base import Runner, insert_before
from . import ANNOTATIONS, SIZE, accuracy, backends, dataset

# test execution mode: a few queries (Offline: samples) instead of settings.TEST_MIN_QUERIES; one 800x800 image
# takes seconds on a CPU
TEST_MIN_QUERIES = {"Offline": 8, "Server": 4, "SingleStream": 4, "MultiStream": 2}


def detection_answerer(runner, data):
    """Per worker: an Answer that runs the model on a batch and answers each sample with its detections' payload
    (kept alive until QuerySamplesComplete has copied it)."""
    import mlperf_loadgen as lg

    def make():
        qsr, predict, batch, response = lg.QuerySampleResponse, runner.predict, data.batch, backends.response

        def answer(ids, indices):
            payloads = [response(i, det) for i, det in zip(indices, predict(batch(indices)), strict=True)]
            return [qsr(q, p.ctypes.data, p.nbytes) for q, p in zip(ids, payloads, strict=True)], payloads

        return answer

    return make


class RetinaNetRunner(Runner):
    test_min_queries = TEST_MIN_QUERIES

    def prepare(self) -> None:
        a = self.a
        backends.model_head(Path(a.model_path), backends.model_file(a.backend))
        self.entries = dataset.read_annotations(Path(a.dataset_dir), a.count)

    def defaults(self) -> tuple[int, int, int]:
        threads, batch, workers = super().defaults()
        return threads, 1 if self.a.scenario == "SingleStream" else batch, workers

    def load(self, out: Path):
        a = self.a
        cache_root = Path(a.cache_dir).resolve() if a.cache_dir else out / "cache"
        self.runner = backends.create(a.backend, a.device, Path(a.model_path), self.threads, a.precision)
        self.dataset = dataset.Dataset(self.entries, cache_root, self.threads)
        return self.dataset

    def banner(self) -> str:
        return (
            f"{super().banner()}: {len(self.entries)} images ({self.dataset.preprocessed} newly preprocessed), "
            f"{SIZE}x{SIZE}, threads={self.threads}, batch={self.batch}, workers={self.workers}"
        )

    def warm_up(self) -> None:
        """One image on a CPU (seconds each); a full batch on a GPU, whose kernels are picked per shape. None in
        accuracy mode, whose timing nobody reads."""
        if self.a.mode == "accuracy":
            return
        n = 1 if self.a.device == "cpu" else self.batch
        self.runner.predict(np.zeros((n, 3, SIZE, SIZE), np.float32))

    def answerer(self):
        return detection_answerer(self.runner, self.dataset)()

    def facts(self, facts: dict) -> dict:
        return insert_before(facts, "duration_s", {"input_size": SIZE})

    def framework(self) -> dict:
        return {"name": self.runner.name, "version": self.runner.version}

    def score(self, out: Path, result: dict) -> None:
        """COCO mAP of the accuracy log into accuracy.txt (the `mAP=` line the checker reads, then COCOeval's
        table); the skeleton judges it against the round's target."""
        s = accuracy.score(out / "mlperf_log_accuracy.json", Path(self.a.dataset_dir) / ANNOTATIONS)
        line = accuracy.format_line(s)
        (out / "accuracy.txt").write_text(accuracy.accuracy_txt(s))
        print(line)
        value = round(100.0 * s.map, 3)
        result["metric"] = {"name": "mAP", "value": value, "unit": "%"}
        result["accuracy"] = {
            "images": s.images,
            "detections": s.detections,
            "no_results": s.no_results,
        }
