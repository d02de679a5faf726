"""The benchmarks' datasets in their official on-disk formats.

llama2-70b: open_orca_gpt4_tokenized_llama.sampled_24576.pkl, a pickled pandas DataFrame made by the
reference's processorca.py; the harness reads the prompt token ids from `tok_input` and the reference answer
from `output`. gptj: cnn_eval.json, a JSON list of {"instruction", "input", "output"} records; the prompt is
the reference's Alpaca-style template around instruction and input, tokenized with truncation to 1919 tokens.
llama3.1-8b(-edge): cnn_eval.json / sample_cnn_eval_5000.json, a JSON list of {"instruction", "input",
"tok_input", "output"} (the reference's download_cnndm.py): the prompt token ids are `tok_input`, the reference
summary `output`.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from mlperf_harness.errors import UsageError

OPENORCA_COLUMNS = ("tok_input", "output")
TOKENIZED_FIELDS = ("tok_input", "output")
CNNDM_FIELDS = ("instruction", "input", "output")
PROMPT_WITH_INPUT = (
    "Below is an instruction that describes a task, paired with an input that provides further context. "
    "Write a response that appropriately completes the request.\n\n"
    "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"
)


@dataclass
class Samples:
    """Prompt token ids and reference answers, one per QSL index."""

    input_ids: list[list[int]]
    targets: list[str]

    def __len__(self) -> int:
        return len(self.input_ids)

    def load(self, indices) -> None:
        """LoadGen's LoadSamplesToRam: everything is in memory already."""

    def unload(self, indices) -> None:
        """LoadGen's UnloadSamplesFromRam."""


def _check_file(path: Path) -> None:
    if not path.is_file():
        raise UsageError(f"dataset file {path} does not exist", "pass --dataset-dir holding the benchmark's dataset")


def _take(count: int | None, total: int, path: Path) -> int:
    if total == 0:
        raise UsageError(f"{path} holds no samples", "pass the benchmark's full dataset file")
    return total if count is None else min(count, total)


def read_openorca(path: Path, count: int | None = None) -> Samples:
    """The first `count` rows of the OpenOrca pickle."""
    import pandas as pd

    _check_file(path)
    try:
        frame = pd.read_pickle(path)
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a wrong file
        raise UsageError(f"{path} is not a pickled DataFrame ({type(e).__name__}: {e})", "regenerate it") from None
    if not isinstance(frame, pd.DataFrame):
        raise UsageError(f"{path} holds a {type(frame).__name__}, not a DataFrame", "pass the OpenOrca pickle")
    missing = [c for c in OPENORCA_COLUMNS if c not in frame.columns]
    if missing:
        raise UsageError(
            f"{path} lacks the column(s) {', '.join(missing)} (has {', '.join(map(str, frame.columns))})",
            "pass the processed OpenOrca pickle of the benchmark",
        )
    n = _take(count, len(frame), path)
    ids = [[int(t) for t in row] for row in frame["tok_input"].iloc[:n]]
    return Samples(ids, [str(t) for t in frame["output"].iloc[:n]])


def _json_records(path: Path) -> list:
    _check_file(path)
    try:
        records = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({e})", f"pass the benchmark's {path.name}") from None
    if not isinstance(records, list):
        raise UsageError(f"{path} holds a JSON {type(records).__name__}, not a list", f"pass {path.name}")
    return records


def read_tokenized_json(path: Path, count: int | None = None) -> Samples:
    """The first `count` records of a tokenized CNN/DailyMail JSON (llama3.1-8b): tok_input and output."""
    records = _json_records(path)
    n = _take(count, len(records), path)
    for i, r in enumerate(records[:n]):
        missing = [f for f in TOKENIZED_FIELDS if not isinstance(r, dict) or f not in r]
        if missing:
            raise UsageError(f"{path} record {i} lacks the field(s) {', '.join(missing)}",
                             "pass the reference's tokenized CNN/DailyMail JSON (download_cnndm.py)")
        if not isinstance(r["tok_input"], list) or not r["tok_input"] or \
                not all(isinstance(t, int) and t >= 0 for t in r["tok_input"]):
            raise UsageError(f"{path} record {i}: tok_input is not a non-empty list of token ids",
                             "pass the reference's tokenized CNN/DailyMail JSON")
    return Samples([list(r["tok_input"]) for r in records[:n]], [str(r["output"]) for r in records[:n]])


def read_cnndm(path: Path, tokenizer, max_tokens: int, count: int | None = None) -> Samples:
    """The first `count` records of cnn_eval.json, as prompts tokenized the reference's way."""
    _check_file(path)
    try:
        records = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({e})", "pass the benchmark's cnn_eval.json") from None
    if not isinstance(records, list):
        raise UsageError(f"{path} holds a JSON {type(records).__name__}, not a list", "pass cnn_eval.json")
    n = _take(count, len(records), path)
    for i, r in enumerate(records[:n]):
        missing = [f for f in CNNDM_FIELDS if not isinstance(r, dict) or f not in r]
        if missing:
            raise UsageError(f"{path} record {i} lacks the field(s) {', '.join(missing)}", "pass cnn_eval.json")
    prompts = [PROMPT_WITH_INPUT.format_map(r) for r in records[:n]]
    encoded = tokenizer(prompts, truncation=True, max_length=max_tokens)["input_ids"]
    return Samples([list(map(int, e)) for e in encoded], [str(r["output"]) for r in records[:n]])
