"""`prepare` for the LLMs: the published raw datasets -> the files datasets.py reads.

gptj (language/gpt-j/download_cnndm.py): the validation split of Hugging Face's cnn_dailymail 3.0.0, in its
order, each record -> {"instruction": "Summarize the following news article:", "input": article, "output":
highlights}, written as cnn_eval.json (a JSON list, indent 4, non-ASCII kept).
Raw (under --raw, at any depth), the first found: the split as JSON lines or a JSON list of {article,
highlights, ...} records (validation.jsonl / validation.json, e.g. `datasets`' to_json), or as parquet
(validation-00000-of-00001.parquet, the Hub's file) when the image can read parquet.

llama2-70b (language/llama2-70b/processorca.py): Open-Orca's 1M-GPT4-Augmented (id, system_prompt, question,
response) -> the Llama 2 chat prompt, tokenized with the checkpoint's tokenizer (token 29871 appended to the
input), then the reference's filters in its order (ASCII but for curly quotes and dashes; input and output under
1024 tokens; output of at least 3 tokens; six system prompts dropped for the niv and t0 origins), then 6144 rows
drawn from each origin (pandas' sample, random_state 1337, origins sorted), written as
open_orca_gpt4_tokenized_llama.sampled_24576.pkl.
Raw: 1M-GPT4-Augmented.parquet when the image can read parquet, else the same table as JSON lines
(1M-GPT4-Augmented.jsonl); and the Llama 2 tokenizer (tokenizer.json / tokenizer.model with its config, what
`mlperfctl get --model llama2-70b-99 --checkpoint` fetches) anywhere under --raw.

The llm images carry no parquet reader (pyarrow is not among their packages), so there the JSON forms are the
ones read; a parquet file there is refused in one line saying how to convert it.

--count N writes the first N records of the result (for OpenOrca, of the full 24576-row sample).
"""

import json
from pathlib import Path

from ...errors import UsageError
from ...prepare import find, progress
from .spec import BENCHMARKS

# gptj
CNNDM_INSTRUCTION = "Summarize the following news article:"
CNNDM_RAW = ("validation.jsonl", "validation.json", "validation-00000-of-00001.parquet")
_CNNDM_FIX = ("put cnn_dailymail 3.0.0's validation split under --raw as validation.jsonl "
              "(datasets.load_dataset('cnn_dailymail', '3.0.0')['validation'].to_json('validation.jsonl'))")
# llama2-70b
ORCA_RAW = ("1M-GPT4-Augmented.parquet", "1M-GPT4-Augmented.jsonl", "1M-GPT4-Augmented.json")
ORCA_COLUMNS = ("id", "system_prompt", "question", "response")
_ORCA_FIX = ("put Open-Orca's 1M-GPT4-Augmented under --raw as 1M-GPT4-Augmented.jsonl "
             "(pandas.read_parquet(...).to_json('1M-GPT4-Augmented.jsonl', orient='records', lines=True))")
PROMPT_SYSTEM = "<s>[INST] <<SYS>>\n{}\n<</SYS>>\n\n{} [/INST]"
PROMPT_NO_SYSTEM = "<s>[INST] {} [/INST]"
RESPONSE_INIT_TOKEN = 29871
IO_TOKEN_LIMIT = 1024
MIN_OUTPUT_TOKENS = 3
SAMPLES = 24576
SAMPLE_SEED = 1337
ALLOWED_NON_ASCII = frozenset("’–“”—")
BAD_SYSTEM_PROMPTS = (
    "",
    "You are an AI assistant that follows instruction extremely well. Help as much as you can.",
    "You are an AI assistant. Provide a detailed answer so user don’t need to search outside to understand the "
    "answer.",
    "You are an AI assistant. Provide a detailed answer so user don't need to search outside to understand the "
    "answer.",
    "User will you give you a task with some instruction. Your job is follow the instructions as faithfully as you "
    "can. While answering think step-by-step and justify your answer.",
    "Explain how you used the definition to come up with the answer.",
)
BAD_PROMPT_ORIGINS = ("niv", "t0")


def _parquet(path: Path, fix: str) -> list[dict]:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise UsageError(f"{path} is parquet and this image has no parquet reader (pyarrow)", fix) from None
    try:
        return pq.read_table(path).to_pylist()
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same bad input
        raise UsageError(f"{path} is not a readable parquet file ({type(e).__name__})", fix) from None


def read_records(path: Path, fields: tuple[str, ...], fix: str) -> list[dict]:
    """The rows of a JSON lines / JSON list / parquet table, each checked for `fields`."""
    if path.suffix == ".parquet":
        rows = _parquet(path, fix)
    else:
        try:
            text = path.read_text(encoding="utf-8")
            if path.suffix == ".json" and text.lstrip().startswith("["):
                rows = json.loads(text)
            else:
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise UsageError(f"{path} is not JSON lines or a JSON list ({e})", fix) from None
    if not rows:
        raise UsageError(f"{path} holds no records", fix)
    for i, r in enumerate(rows):
        if not isinstance(r, dict) or any(not isinstance(r.get(f), str) for f in fields):
            raise UsageError(f"{path} record {i} lacks the text field(s) {', '.join(fields)}", fix)
    return rows


def prepare_cnndm(raw: Path, dest: Path, model: str, count: int | None) -> dict:
    path = find(raw, *CNNDM_RAW, what="cnn_dailymail 3.0.0 validation split", fix=_CNNDM_FIX)
    rows = read_records(path, ("article", "highlights"), _CNNDM_FIX)
    if count is not None and count > len(rows):
        raise UsageError(f"--count {count} exceeds the {len(rows)} records of {path}", f"pass at most {len(rows)}")
    rows = rows[:count]
    records = [{"instruction": CNNDM_INSTRUCTION, "input": r["article"], "output": r["highlights"]} for r in rows]
    name = BENCHMARKS[model].dataset_file
    (dest / name).write_text(json.dumps(records, indent=4, ensure_ascii=False), encoding="utf-8")
    progress(len(records), len(records), "articles")
    return {"samples": len(records), "layout": name, "source": str(path.relative_to(raw))}


def is_english(text: str) -> bool:
    return text.isascii() or all(c.isascii() or c in ALLOWED_NON_ASCII for c in text)


def _tokenizer(raw: Path):
    from transformers import AutoTokenizer

    found = find(raw, "tokenizer.json", "tokenizer.model", what="the Llama 2 tokenizer",
                 fix="put the Llama-2-70b-chat-hf tokenizer files (mlperfctl get --checkpoint) under --raw")
    try:
        return AutoTokenizer.from_pretrained(found.parent)
    except Exception as e:  # noqa: BLE001 - any unloadable tokenizer is the same bad input
        raise UsageError(f"{found} is not a loadable tokenizer ({type(e).__name__})",
                         "fetch the Llama 2 tokenizer files again") from None


def openorca_frame(rows: list[dict], tokenizer, samples: int | None = None):
    """processorca.py's steps on the raw rows -> the sampled DataFrame (its columns, in its order)."""
    import pandas as pd

    samples = samples or SAMPLES
    df = pd.DataFrame(rows, columns=list(ORCA_COLUMNS))
    df = df.rename(columns={"response": "output"})
    df["input"] = [PROMPT_SYSTEM.format(s, q) if s else PROMPT_NO_SYSTEM.format(q)
                   for s, q in zip(df["system_prompt"], df["question"], strict=True)]
    df["tok_input"] = [ids + [RESPONSE_INIT_TOKEN] for ids in tokenizer(list(df["input"]))["input_ids"]]
    df["tok_output"] = list(tokenizer(list(df["output"]))["input_ids"])
    df["origin"] = df["id"].map(lambda x: x.split(".")[0])
    keep = df["input"].map(is_english) & df["output"].map(is_english)
    df = df[keep].reset_index(drop=True)
    df["tok_input_length"] = df["tok_input"].map(len)
    df["tok_output_length"] = df["tok_output"].map(len)
    df = df[(df["tok_input_length"] < IO_TOKEN_LIMIT) & (df["tok_output_length"] < IO_TOKEN_LIMIT)]
    df = df[df["tok_output_length"] >= MIN_OUTPUT_TOKENS].reset_index(drop=True)
    for prompt in BAD_SYSTEM_PROMPTS:
        df = df[~((df["system_prompt"] == prompt) & df["origin"].isin(BAD_PROMPT_ORIGINS))]
    df = df.reset_index(drop=True)
    groups = dict(tuple(df.groupby("origin")))
    if not groups or samples % len(groups):
        raise UsageError(f"the filtered rows come from {len(groups)} origins ({', '.join(groups)}); "
                         f"{samples} samples must split evenly over them", _ORCA_FIX)
    per = samples // len(groups)
    short = {o: len(g) for o, g in groups.items() if len(g) < per}
    if short:
        raise UsageError(f"origin(s) {', '.join(f'{o} ({n} rows)' for o, n in short.items())} have fewer than the "
                         f"{per} filtered rows the reference samples from each", "pass the full 1M-GPT4-Augmented")
    parts = [g.reset_index(drop=True).sample(n=per, random_state=SAMPLE_SEED) for g in groups.values()]
    return pd.concat(parts).reset_index(drop=True)


def prepare_openorca(raw: Path, dest: Path, model: str, count: int | None) -> dict:
    path = find(raw, *ORCA_RAW, what="Open-Orca 1M-GPT4-Augmented", fix=_ORCA_FIX)
    rows = read_records(path, ORCA_COLUMNS, _ORCA_FIX)
    progress(1, 3, "steps: read")
    frame = openorca_frame(rows, _tokenizer(raw))
    progress(2, 3, "steps: filtered and sampled")
    if count is not None:
        frame = frame.iloc[:count]
    name = BENCHMARKS[model].dataset_file
    frame.to_pickle(dest / name)
    progress(3, 3, "steps: written")
    return {"samples": len(frame), "raw_rows": len(rows), "layout": name, "source": str(path.relative_to(raw))}
