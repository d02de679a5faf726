"""ROUGE accuracy from LoadGen's mlperf_log_accuracy.json, as the references' evaluation scripts report it.

The line written to accuracy.txt is the Python dict the references print (llama2-70b's evaluate-accuracy.py:
ROUGE scores, gen_len, gen_num, gen_tok_len, tokens_per_sample; gpt-j's evaluation.py: ROUGE scores, gen_len,
gen_num), with plain numbers so the submission checker's patterns (`'rouge1':\\s([\\d.]+)`, ...) match.
"""

from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.loadgen.logs import first_responses, read_accuracy_log

from . import rouge
from .spec import Benchmark


def read_log(path: Path, count: int, dtype: str = "int64") -> dict[int, np.ndarray]:
    """Generated token ids per distinct qsl_idx (LoadGen may log a sample more than once)."""
    tokens: dict[int, np.ndarray] = {}
    for idx, raw in first_responses(read_accuracy_log(path, "pass the mlperf_log_accuracy.json of an "
                                                                 "accuracy-mode run")).items():
        if idx >= count:
            raise UsageError(f"qsl_idx {idx} is beyond the dataset's {count} samples", "pass the run's dataset")
        tokens[idx] = np.frombuffer(raw, dtype)
    return tokens


def evaluate(bench: Benchmark, tokens: dict[int, np.ndarray], targets: list[str], tokenizer) -> dict:
    """The reference's result dict for the logged samples."""
    order = list(tokens)
    texts = tokenizer.batch_decode([tokens[i].tolist() for i in order], skip_special_tokens=True)
    result: dict = rouge.scores(texts, [targets[i] for i in order])
    predictions = [rouge.sentences_per_line(t) for t in texts]
    result["gen_len"] = int(sum(map(len, predictions)))
    result["gen_num"] = len(predictions)
    if bench.quoted_scores:  # evaluation.py: f"{round(np.mean(v) * 100, 4)}"
        result.update({k: str(result[k]) for k in rouge.ROUGE_TYPES})
    if bench.token_stats:
        gen_tok_len = int(sum(len(tokens[i]) for i in order))
        result["gen_tok_len"] = gen_tok_len
        result["tokens_per_sample"] = round(gen_tok_len / len(order), 1) if order else 0.0
    return result


def format_line(result: dict) -> str:
    return repr(result)
