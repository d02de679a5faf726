"""What the MLCommons reference defines per benchmark: dataset file, generation settings, accuracy targets.

Sources: language/llama2-70b (SUT.py gen_kwargs, dataset.py, evaluate-accuracy.py), language/gpt-j
(backend_PyTorch.py gen_kwargs, dataset.py, evaluation.py) and tools/submission/submission_checker.py.
"""

from dataclasses import dataclass, field

LLAMA2_TARGET = {"rouge1": 44.4312, "rouge2": 22.0352, "rougeL": 28.6162}
LLAMA2_TOKENS_PER_SAMPLE = 294.45  # the checker accepts 0.9x to 1.1x of it
GPTJ_TARGET = {"rouge1": 42.9865, "rouge2": 20.1235, "rougeL": 29.9881}
GPTJ_GEN_LEN = 4016878  # characters over the full 13368-sample set; the checker asks for at least 0.9x


@dataclass(frozen=True)
class Benchmark:
    name: str
    family: str  # "llama2" or "gptj"
    loadgen_model: str  # the model key of LoadGen's embedded mlperf.conf
    dataset_file: str
    model_dir: str
    generation: dict
    token_latencies: bool
    # metric -> (lowest accepted, highest accepted or None)
    bounds: dict = field(default_factory=dict)
    prompt_max_tokens: int | None = None  # tokenizer truncation of the prompt


LLAMA2_GENERATION = {"max_new_tokens": 1024, "min_new_tokens": 1, "num_beams": 1, "do_sample": False}
GPTJ_GENERATION = {"max_new_tokens": 128, "min_new_tokens": 30, "num_beams": 4, "early_stopping": True}


def _llama2(name: str, fraction: float) -> Benchmark:
    bounds = {k: (v * fraction, None) for k, v in LLAMA2_TARGET.items()}
    bounds["tokens_per_sample"] = (LLAMA2_TOKENS_PER_SAMPLE * 0.9, LLAMA2_TOKENS_PER_SAMPLE * 1.1)
    return Benchmark(
        name,
        "llama2",
        "llama2-70b",
        "open_orca_gpt4_tokenized_llama.sampled_24576.pkl",
        "Llama-2-70b-chat-hf",
        LLAMA2_GENERATION,
        True,
        bounds,
    )


def _gptj(name: str, fraction: float) -> Benchmark:
    bounds = {k: (v * fraction, None) for k, v in GPTJ_TARGET.items()}
    bounds["gen_len"] = (GPTJ_GEN_LEN * 0.9, None)
    return Benchmark(
        name,
        "gptj",
        "gptj",
        "cnn_eval.json",
        "checkpoint-final",
        GPTJ_GENERATION,
        False,
        bounds,
        prompt_max_tokens=1919,
    )


BENCHMARKS = {
    b.name: b
    for b in (
        _llama2("llama2-70b-99", 0.99),
        _llama2("llama2-70b-99.9", 0.999),
        _gptj("gptj-99", 0.99),
        _gptj("gptj-99.9", 0.999),
    )
}
