"""`run` for llama2-70b-99/-99.9 and gptj-99/-99.9: the LLM hooks of the run skeleton, and `accuracy` for them.

Offline: the issued samples are ordered by prompt length and cut into batches of at most max_batch (prompts
left-padded within a batch), so a batch wastes little on padding. Server, Interactive (a LoadGen Server run under
the model's "-interactive" settings) and SingleStream: every query is its own generation. With token latencies
on, each sample's first token goes to LoadGen (FirstTokenComplete) as soon as the model has produced it; every
completed sample carries its generated token ids (in the round's accuracy-log dtype: int32 for llama2-70b, int64
for gptj) and their count.
"""

import threading
from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.loadgen import settings

from ..base import Runner, insert_before
from . import accuracy, datasets, generate
from .spec import BENCHMARKS, Benchmark

# scenario -> (detail key, metric name, unit) when LoadGen counts tokens
TOKEN_METRICS = {
    "Offline": ("result_tokens_per_second", "tokens_per_second", "tokens/s"),
    "Server": ("result_completed_tokens_per_second", "completed_tokens_per_second", "tokens/s"),
    "Interactive": ("result_completed_tokens_per_second", "completed_tokens_per_second", "tokens/s"),
}
# result.json name -> detail key, in ms
TOKEN_LATENCIES = {
    "ttft_mean_ms": "result_first_token_mean_latency_ns",
    "ttft_p99_ms": "result_first_token_99.00_percentile_latency_ns",
    "tpot_mean_ms": "result_time_to_output_token_mean",
    "tpot_p99_ms": "result_time_per_output_token_99.00_percentile_ns",
}


def dataset_path(bench: Benchmark, dataset_dir: Path) -> Path:
    """The dataset file in --dataset-dir (or --dataset-dir itself when it names the file)."""
    return dataset_dir if dataset_dir.is_file() else dataset_dir / bench.dataset_file


def _read_samples(bench: Benchmark, dataset_file: Path, model_dir: Path, count: int | None):
    """(samples, tokenizer); the OpenOrca pickle holds token ids, so it is checked before the tokenizer loads."""
    if bench.reader == "openorca":
        samples = datasets.read_openorca(dataset_file, count)
        return samples, generate.load_tokenizer(model_dir)
    if bench.reader == "tokenized-json":
        samples = datasets.read_tokenized_json(dataset_file, count)
        return samples, generate.load_tokenizer(model_dir)
    tokenizer = generate.load_tokenizer(model_dir)
    return datasets.read_cnndm(dataset_file, tokenizer, bench.prompt_max_tokens, count), tokenizer


def rescore(model: str, accuracy_log: Path, dataset_file: Path, model_dir: Path, rules) -> str:
    """The accuracy.txt line of a run's accuracy log, as the reference evaluation script (`rules`: the
    mlperf_rules Round whose accuracy-log dtype applies)."""
    bench = BENCHMARKS[model]
    samples, tokenizer = _read_samples(bench, dataset_file, model_dir, None)
    tokens = accuracy.read_log(accuracy_log, len(samples), bench.log_dtype(rules))
    return accuracy.format_line(accuracy.evaluate(bench, tokens, samples.targets, tokenizer))


def command(a) -> int:
    """`accuracy --model M` (M an LLM) and `accuracy-llm`: print the accuracy.txt line; --output writes it.
    The dataset is --dataset-file, else the benchmark's file in --dataset-dir."""
    dataset_file = getattr(a, "dataset_file", None)
    if dataset_file is None:
        if getattr(a, "dataset_dir", None) is None:
            raise UsageError(f"{a.model} scoring needs the dataset", "pass --dataset-dir or --dataset-file")
        dataset_file = dataset_path(BENCHMARKS[a.model], Path(a.dataset_dir))
    if a.model_path is None:
        raise UsageError(f"{a.model} scoring needs the tokenizer", "pass --model-path to the checkpoint directory")
    line = rescore(a.model, Path(a.mlperf_accuracy_file), Path(dataset_file), Path(a.model_path), a.round.rules)
    print(line)
    if a.output:
        Path(a.output).write_text(line + "\n")
    return 0


def length_batches(input_ids: list, max_batch: int, batch_offline: bool):
    """The pool's split: (ids, indices) -> work items. Offline (batch_offline): batches of prompts of similar
    length, longest first; otherwise one sample per item."""

    def split(ids: list, indices: list):
        if not batch_offline or len(ids) == 1:
            return [([q], [i]) for q, i in zip(ids, indices, strict=True)]
        order = sorted(range(len(ids)), key=lambda k: -len(input_ids[indices[k]]))
        return [
            ([ids[k] for k in chunk], [indices[k] for k in chunk])
            for chunk in (order[i : i + max_batch] for i in range(0, len(order), max_batch))
        ]

    return split


class LlmRunner(Runner):
    what = "generation"
    combine = False

    def __init__(self, workload, args):
        super().__init__(workload, args)
        self.bench = BENCHMARKS[args.model]
        self.batching = args.scenario == "Offline"
        self.generated_tokens = 0
        self.lock = threading.Lock()

    def user_conf(self, text: str) -> str:
        if self.bench.token_latencies:
            text += f"{settings.conf_key(self.loadgen_model, self.a.scenario)}.use_token_latencies = 1\n"
        return text

    @property
    def vllm(self) -> bool:
        return self.a.backend == "vllm"

    def check(self) -> None:
        tp = getattr(self.a, "tensor_parallel", None)
        if tp is not None and tp <= 0:
            raise UsageError(f"--tensor-parallel {tp} must be positive", "pass --tensor-parallel 1 or more")
        if tp not in (None, 1) and not self.vllm:
            raise UsageError(f"--tensor-parallel {tp}: the {self.a.backend} backend runs on one device",
                             "use --backend vllm to spread the model over GPUs")

    def prepare(self) -> None:
        a, bench = self.a, self.bench
        model_dir = Path(a.model_path)
        if self.vllm:
            from mlperf_harness.frameworks import vllm

            vllm.check_checkpoint(model_dir)
        generate.check_model_dir(model_dir)
        dataset_file = dataset_path(bench, Path(a.dataset_dir))
        if not dataset_file.is_file():
            raise UsageError(
                f"dataset file {dataset_file} does not exist", f"pass --dataset-dir holding {bench.dataset_file}"
            )
        self.samples, self.tokenizer = _read_samples(bench, dataset_file, model_dir, a.count)
        self.model_dir = model_dir
        if self.vllm:
            return  # the engine starts in load(), after the output dir exists
        threads = super().defaults()[0]
        self.gen = generate.Generator(model_dir, self.tokenizer, a.device, a.precision, threads, bench.generation)

    def tensor_parallel(self) -> int:
        """--tensor-parallel, else every GPU this container was given (1 on the CPU)."""
        tp = getattr(self.a, "tensor_parallel", None)
        if tp:
            return tp
        if self.a.device == "cpu":
            return 1
        import torch

        return max(1, torch.cuda.device_count())

    def sut(self):
        return self._sut if self.vllm else None

    def defaults(self) -> tuple[int, int, int]:
        threads, batch, _ = super().defaults()
        return threads, batch if self.batching else 1, 1

    def load(self, out: Path):
        if self.vllm:
            from mlperf_harness.frameworks import vllm

            a = self.a
            args = vllm.engine_args(self.model_dir, a.device, a.precision, self.tensor_parallel(), a.max_batchsize)
            kind = vllm.OfflineSut if self.batching else vllm.StreamingSut
            self._sut = kind(self.model_dir, args, self.bench.generation, self.samples.input_ids,
                             self.bench.log_dtype(self.round.rules))
        return self.samples

    def banner(self) -> str:
        if self.vllm:
            how = "LLM.generate" if self.batching else "streaming engine"
            return (f"{Runner.banner(self)}: {len(self.samples)} samples, vLLM {how}, "
                    f"tensor_parallel={self.tensor_parallel()}, {self.bench.generation}")
        return (
            f"{super().banner()}: {len(self.samples)} samples, "
            f"threads={self.threads}, batch={self.batch}, {self.bench.generation}"
        )

    def warm_up(self) -> None:
        if self.vllm:
            self._sut.generate([0] if self.batching else 0)
            return
        self.gen.generate([self.samples.input_ids[0]])

    def splitter(self):
        return length_batches(self.samples.input_ids, self.batch, self.batching)

    def answerer(self):
        import mlperf_loadgen as lg

        qsr, generate_ = lg.QuerySampleResponse, self.gen.generate
        input_ids, first_tokens = self.samples.input_ids, self.bench.token_latencies
        dtype = np.dtype(self.bench.log_dtype(self.round.rules))
        size = dtype.itemsize

        def first(ids: list[int]):
            def report(tokens: list[int]) -> None:
                data = np.asarray(tokens, dtype)
                lg.FirstTokenComplete([qsr(q, data.ctypes.data + size * k, size) for k, q in enumerate(ids)])

            return report

        def answer(ids, indices):
            outputs = [o.astype(dtype, copy=False)
                       for o in generate_([input_ids[i] for i in indices], first(ids) if first_tokens else None)]
            responses = [qsr(q, out.ctypes.data, out.nbytes, len(out)) for q, out in zip(ids, outputs, strict=True)]
            with self.lock:
                self.generated_tokens += sum(map(len, outputs))
            return responses, outputs

        return answer

    def facts(self, facts: dict) -> dict:
        generated = self._sut.generated_tokens if self.vllm else self.generated_tokens
        extra = {"generated_tokens": generated, "generation": self.bench.generation}
        if self.vllm:
            extra["tensor_parallel"] = self.tensor_parallel()
        return insert_before(facts, "compliance_audit", extra)

    def framework(self) -> dict:
        if self.vllm:
            from mlperf_harness.frameworks import vllm

            return {"name": "vllm", "version": vllm.version()}
        return {"name": "pytorch", "version": self.gen.torch.__version__}

    def metric(self, detail: dict) -> dict | None:
        if self.bench.token_latencies and self.a.scenario in TOKEN_METRICS:
            key, name, unit = TOKEN_METRICS[self.a.scenario]
            if detail.get(key):
                return {"name": name, "value": round(float(detail[key]), 6), "unit": unit}
        return super().metric(detail)

    def performance(self, detail: dict, result: dict) -> None:
        latencies = {n: round(float(detail[k]) * 1e-6, 6) for n, k in TOKEN_LATENCIES.items() if detail.get(k)}
        if self.bench.token_latencies and latencies:
            result["token_latencies"] = latencies

    def score(self, out: Path, result: dict) -> None:
        """ROUGE (and token counts) of the logged generations into accuracy.txt, which the skeleton judges."""
        dtype = self.bench.log_dtype(self.round.rules)
        tokens = accuracy.read_log(out / "mlperf_log_accuracy.json", len(self.samples), dtype)
        scores = accuracy.evaluate(self.bench, tokens, self.samples.targets, self.tokenizer)
        line = accuracy.format_line(scores)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "rougeL", "value": float(scores["rougeL"]), "unit": "%"}
        result["accuracy"] = scores
