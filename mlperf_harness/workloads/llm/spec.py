"""What the MLCommons reference defines per benchmark: dataset file and generation settings.

Sources: language/llama2-70b (SUT.py gen_kwargs, dataset.py), language/gpt-j (backend_PyTorch.py gen_kwargs,
dataset.py). The accuracy targets and the accuracy-log dtype are the round's (`mlperf_rules`, via the run's
RoundChoice).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str
    family: str  # "llama2" or "gptj"
    loadgen_model: str  # the model key of LoadGen's embedded mlperf.conf
    dataset_file: str
    model_dir: str
    generation: dict
    token_latencies: bool
    prompt_max_tokens: int | None = None  # tokenizer truncation of the prompt

    def log_dtype(self, rules) -> str:
        """How the reference's accuracy script (and TEST06) decode the token ids under the mlperf_rules Round
        `rules` (the run's RoundChoice.rules): int32 or int64."""
        return rules.benchmark(self.name).accuracy_log_dtype


LLAMA2_GENERATION = {"max_new_tokens": 1024, "min_new_tokens": 1, "num_beams": 1, "do_sample": False}
GPTJ_GENERATION = {"max_new_tokens": 128, "min_new_tokens": 30, "num_beams": 4, "early_stopping": True}


def _llama2(name: str) -> Benchmark:
    return Benchmark(
        name,
        "llama2",
        "llama2-70b",
        "open_orca_gpt4_tokenized_llama.sampled_24576.pkl",
        "Llama-2-70b-chat-hf",
        LLAMA2_GENERATION,
        True,
    )


def _gptj(name: str) -> Benchmark:
    return Benchmark(
        name,
        "gptj",
        "gptj",
        "cnn_eval.json",
        "checkpoint-final",
        GPTJ_GENERATION,
        False,
        prompt_max_tokens=1919,
    )


BENCHMARKS = {
    b.name: b
    for b in (
        _llama2("llama2-70b-99"),
        _llama2("llama2-70b-99.9"),
        _gptj("gptj-99"),
        _gptj("gptj-99.9"),
    )
}
