"""`run --model resnet50`: the ImageNet classification hooks of the run skeleton, and its hot path.

Each response carries the predicted ImageNet label as float32, the format the reference accuracy-imagenet.py
reads by default."""

from pathlib import Path

import numpy as np

from ..base import Runner
from . import accuracy, backends, dataset


def top1_answerer(backend, data, max_batch: int):
    """Per worker: an Answer that runs the backend on a batch and answers with top-1 labels. QuerySamplesComplete
    copies the responses and their data before it returns, so each worker keeps one label buffer and one
    response per buffer slot, and per batch only sets the response ids."""
    import mlperf_loadgen as lg

    def make():
        labels = np.empty(max_batch, np.float32)
        slots = [lg.QuerySampleResponse(0, labels.ctypes.data + 4 * k, 4) for k in range(max_batch)]
        predict, batch, offset = backend.predict, data.batch, backend.label_offset

        def answer(ids, indices):
            n = len(ids)
            np.add(predict(batch(indices)), offset, out=labels[:n], casting="unsafe")
            responses = slots[:n]
            for response, sample_id in zip(responses, ids, strict=True):
                response.id = sample_id
            return responses, None

        return answer

    return make


class ImageNetRunner(Runner):
    def prepare(self) -> None:
        a = self.a
        backends.check_model_file(Path(a.model_path))
        self.entries = dataset.read_val_map(Path(a.dataset_dir), a.count)

    def load(self, out: Path):
        a = self.a
        cache_root = Path(a.cache_dir).resolve() if a.cache_dir else out / "cache"
        self.backend = backends.create(
            a.backend, a.device, Path(a.model_path), self.threads, a.precision, cache_root, self.batch, a.model
        )
        self.dataset = dataset.Dataset(self.entries, self.backend.preprocessing, cache_root, self.threads)
        return self.dataset

    def banner(self) -> str:
        return (
            f"{super().banner()}: {len(self.entries)} samples ({self.dataset.preprocessed} newly preprocessed), "
            f"threads={self.threads}, batch={self.batch}, workers={self.workers}"
        )

    def warm_up(self) -> None:
        self.backend.predict(np.zeros((self.batch, *self.dataset.shape), self.dataset.dtype))

    def answerer(self):
        return top1_answerer(self.backend, self.dataset, self.batch)()

    def framework(self) -> dict:
        return {"name": self.backend.name, "version": self.backend.version}

    def score(self, out: Path, result: dict) -> None:
        """Top-1 of the accuracy log into accuracy.txt."""
        good, n = accuracy.imagenet(out / "mlperf_log_accuracy.json", Path(self.a.dataset_dir) / "val_map.txt")
        line = accuracy.format_line(good, n)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "top1_accuracy", "value": round(100.0 * good / n, 3) if n else 0.0, "unit": "%"}
        result["accuracy"] = {"good": good, "total": n}
