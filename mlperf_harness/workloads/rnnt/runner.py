"""`run --model rnnt`: the RNN-T hooks of the run skeleton (pytorch, from the manifest to label ids).

One worker: on a CPU it owns every core, and the greedy decoder is sequential per batch anyway. Offline and
Server queries are answered in batches of up to max_batch utterances (queued queries combined), SingleStream
at batch 1; each sample's response is its label ids as int64 (the reference's array('q'))."""

from pathlib import Path

from ...errors import UsageError
from ...frameworks import torch as framework
from ..base import Runner, insert_before
from . import accuracy, dataset, model

CPU_BATCH, GPU_BATCH = 8, 64


def model_file(path: Path, name: str) -> Path:
    """The checkpoint: --model-path itself, or the reference's file name inside that folder."""
    return path / name if path.is_dir() else path


class RnntRunner(Runner):
    def prepare(self) -> None:
        a = self.a
        self.device = framework.device(a.device)
        self.utterances = dataset.read_manifest(Path(a.dataset_dir), count=a.count)
        self.path = model_file(Path(a.model_path), self.workload.model_file("pytorch"))
        if not self.path.is_file():
            raise UsageError(f"model file {self.path} does not exist", model._FIX)

    def defaults(self) -> tuple[int, int, int]:
        from mlperf_harness.loadgen.lifecycle import cpu_count

        a = self.a
        if a.scenario == "SingleStream":
            batch = 1
        else:
            batch = a.max_batchsize or (CPU_BATCH if a.device == "cpu" else GPU_BATCH)
        return a.threads or cpu_count(), batch, 1

    def load(self, out: Path):
        import torch

        torch.set_num_threads(self.threads)
        self.recognizer = model.Recognizer(self.path, self.device, self.a.precision)
        self.qsl = dataset.Utterances(self.utterances)
        return self.qsl

    def banner(self) -> str:
        a = self.a
        return (
            f"mlperf_harness: rnnt pytorch/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): {len(self.qsl)} "
            f"utterances, {a.precision}, threads={self.threads}, batch={self.batch}"
        )

    def warm_up(self) -> None:
        self.recognizer.transcribe(self.qsl.batch([0]))

    def answerer(self):
        import mlperf_loadgen as lg

        qsr, transcribe, batch, response = (
            lg.QuerySampleResponse,
            self.recognizer.transcribe,
            self.qsl.batch,
            model.response,
        )

        def answer(ids, indices):
            arrays = [response(x) for x in transcribe(batch(indices))]
            return [qsr(i, x.ctypes.data, x.nbytes) for i, x in zip(ids, arrays, strict=True)], arrays

        return answer

    def facts(self, facts: dict) -> dict:
        extra = {"audio_seconds": round(sum(u.duration for u in self.utterances), 3)}
        return insert_before(facts, "duration_s", extra)

    def framework(self) -> dict:
        import torch

        return {"name": "pytorch", "version": torch.__version__}

    def score(self, out: Path, result: dict) -> None:
        """The word error rate of the logged label ids, accuracy.txt with the reference's line."""
        scores = accuracy.score(out / "mlperf_log_accuracy.json", Path(self.a.dataset_dir))
        text = accuracy.line(scores["wer"])
        (out / "accuracy.txt").write_text(text + "\n")
        print(text)
        result["metric"] = {"name": "WER", "value": round(scores["wer"] * 100, 6), "unit": "%"}
        result["accuracy"] = {
            "samples": scores["samples"],
            "words": scores["words"],
            "edits": scores["edits"],
            "accuracy": round((1 - scores["wer"]) * 100, 6),
        }
