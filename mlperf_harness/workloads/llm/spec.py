"""What the MLCommons reference defines per benchmark: dataset file and generation settings.

Sources: language/llama2-70b (SUT.py gen_kwargs, dataset.py), language/gpt-j (backend_PyTorch.py gen_kwargs,
dataset.py), language/llama3.1-8b (SUT_VLLM.py gen_kwargs, dataset.py, download_cnndm.py, evaluation.py). The
accuracy targets and the accuracy-log dtype are the round's (`mlperf_rules`, via the run's RoundChoice).
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class Benchmark:
    name: str
    family: str  # "llama2", "gptj" or "llama3.1"
    loadgen_model: str  # the model key of LoadGen's embedded mlperf.conf
    dataset_file: str
    model_dir: str
    # the reference's decoding: max_new_tokens, min_new_tokens, greedy (num_beams 1, no sampling) or beams;
    # stop_token_ids beyond the checkpoint's own EOS ids (which every backend stops on)
    generation: dict
    token_latencies: bool
    prompt_max_tokens: int | None = None  # tokenizer truncation of the prompt
    # the dataset's on-disk format (datasets.READERS): "openorca" (pickle, tok_input/output), "cnndm-alpaca"
    # (JSON, instruction/input/output, prompt tokenized here), "tokenized-json" (JSON, tok_input/output)
    reader: str = "openorca"
    token_stats: bool = False  # accuracy.txt has gen_tok_len and tokens_per_sample (llama2)
    quoted_scores: bool = False  # the reference prints the ROUGE scores as strings ('38.8638', llama3.1-8b)

    def log_dtype(self, rules) -> str:
        """How the reference's accuracy script (and TEST06) decode the token ids under the mlperf_rules Round
        `rules` (the run's RoundChoice.rules): int32 or int64."""
        return rules.benchmark(self.name).accuracy_log_dtype


LLAMA2_GENERATION = {"max_new_tokens": 1024, "min_new_tokens": 1, "num_beams": 1, "do_sample": False}
# SUT_VLLM.py: temperature 0 (greedy; top_p 1, top_k 1), max_tokens 128, min_tokens 1; stops on the model's EOS
LLAMA31_GENERATION = {"max_new_tokens": 128, "min_new_tokens": 1, "num_beams": 1, "do_sample": False}
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
        token_stats=True,
    )


def _llama31(name: str, loadgen_model: str, dataset_file: str) -> Benchmark:
    """llama3.1-8b (cnn_eval.json, 13368 articles) and -edge (sample_cnn_eval_5000.json): the reference's
    download_cnndm.py layout, a JSON list of {"instruction", "input", "tok_input", "output"} whose tok_input is
    the Llama 3.1 tokenizer's encoding (with <|begin_of_text|>) of "Summarize the following news article in 128
    tokens. ... Article:\n{input}\n\nSummary:"."""
    return Benchmark(name, "llama3.1", loadgen_model, dataset_file, "Llama-3.1-8B-Instruct", LLAMA31_GENERATION,
                     True, reader="tokenized-json", quoted_scores=True)


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
        reader="cnndm-alpaca",
    )


BENCHMARKS = {
    b.name: b
    for b in (
        _llama2("llama2-70b-99"),
        _llama2("llama2-70b-99.9"),
        _gptj("gptj-99"),
        _gptj("gptj-99.9"),
        _llama31("llama3.1-8b", "llama3_1-8b", "cnn_eval.json"),
        _llama31("llama3.1-8b-edge", "llama3_1-8b-edge", "sample_cnn_eval_5000.json"),
    )
}
