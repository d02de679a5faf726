"""`run --model whisper`: the hooks of the run skeleton, from the manifest to label ids.

One worker (on a CPU it owns every core). Offline queries are answered in batches of up to max_batch samples
(queued queries combined); each sample's response is the transcript's label ids as int64 (the reference's
array('q')) with its generated token count, which LoadGen sums into tokens per second (mlperf.conf:
whisper.*.use_token_latencies = 1; the round's Offline result is result_tokens_per_second).

The model is run by the backend's engine (ENGINES: backend -> "module:Class", see model.py): pytorch
(transformers) and vllm (the reference's engine, vllm_engine.py), with the same transcribe() contract."""

import threading
from pathlib import Path

from ..base import Runner, insert_before, load
from . import accuracy, dataset, model

ENGINES = {"pytorch": f"{__package__}.model:Transcriber", "vllm": f"{__package__}.vllm_engine:VllmTranscriber"}
CPU_BATCH, GPU_BATCH = 8, 32
VLLM_BATCH = 64  # the reference's max_num_seqs: vLLM schedules a batch's requests itself
TEST_MIN_QUERIES = {"Offline": 16}  # test execution mode: a few batches, not the default 128 samples


class WhisperRunner(Runner):
    what = "transcription"
    test_min_queries = TEST_MIN_QUERIES

    def __init__(self, workload, args):
        super().__init__(workload, args)
        self.generated_tokens = 0
        self.lock = threading.Lock()

    def user_conf(self, text: str) -> str:
        """Token counts on, as mlperf.conf has them for whisper (said again so any LoadGen counts them)."""
        return text + f"{self.loadgen_model}.{self.a.scenario}.use_token_latencies = 1\n"

    def prepare(self) -> None:
        a = self.a
        self.model_dir = Path(a.model_path)
        model.check_model_dir(self.model_dir)
        self.samples = dataset.read_manifest(Path(a.dataset_dir), count=a.count)

    def defaults(self) -> tuple[int, int, int]:
        from mlperf_harness.loadgen.lifecycle import cpu_count

        a = self.a
        batch = a.max_batchsize or (VLLM_BATCH if a.backend == "vllm" else CPU_BATCH if a.device == "cpu"
                                    else GPU_BATCH)
        return a.threads or cpu_count(), batch, 1

    def load(self, out: Path):
        a = self.a
        self.engine = load(ENGINES[a.backend])(self.model_dir, a.device, a.precision, self.threads)
        self.qsl = dataset.Waves(self.samples)
        return self.qsl

    def banner(self) -> str:
        a = self.a
        return (f"mlperf_harness: whisper {a.backend}/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): "
                f"{len(self.qsl)} samples, {a.precision}, threads={self.threads}, batch={self.batch}")

    def warm_up(self) -> None:
        """One full batch, untimed: every input has the same (30-s) shape, so the timed batches meet warm kernels
        and allocator pools."""
        self.engine.transcribe(self.qsl.batch([i % len(self.qsl) for i in range(self.batch)]))

    def answerer(self):
        import mlperf_loadgen as lg

        qsr, transcribe, batch = lg.QuerySampleResponse, self.engine.transcribe, self.qsl.batch
        response = model.response

        def answer(ids, indices):
            results = transcribe(batch(indices))
            arrays = [response(text) for text, _ in results]
            responses = [qsr(i, x.ctypes.data, x.nbytes, n) for i, x, (_, n) in zip(ids, arrays, results, strict=True)]
            with self.lock:
                self.generated_tokens += sum(n for _, n in results)
            return responses, arrays

        return answer

    def facts(self, facts: dict) -> dict:
        extra = {"audio_seconds": round(sum(s.duration for s in self.samples), 3),
                 "generated_tokens": self.generated_tokens}
        return insert_before(facts, "duration_s", extra)

    def framework(self) -> dict:
        if self.a.backend == "vllm":
            return {"name": "vllm", "version": self.engine.version}
        import torch

        return {"name": "pytorch", "version": torch.__version__}

    def metric(self, detail: dict) -> dict | None:
        """Tokens per second (the round's Offline result) when LoadGen counted tokens."""
        if self.a.scenario == "Offline" and detail.get("result_tokens_per_second"):
            return {"name": "tokens_per_second", "value": round(float(detail["result_tokens_per_second"]), 6),
                    "unit": "tokens/s"}
        return super().metric(detail)

    def score(self, out: Path, result: dict) -> None:
        """The word error rate of the logged label ids, accuracy.txt with the reference's line."""
        scores = accuracy.score(out / "mlperf_log_accuracy.json", Path(self.a.dataset_dir))
        text = accuracy.line(scores["wer"])
        (out / "accuracy.txt").write_text(text + "\n")
        print(text)
        result["metric"] = {"name": "WER", "value": round(scores["wer"] * 100, 6), "unit": "%"}
        result["accuracy"] = {"samples": scores["samples"], "words": scores["words"], "edits": scores["edits"],
                              "accuracy": round((1 - scores["wer"]) * 100, 6)}
