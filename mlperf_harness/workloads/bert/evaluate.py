"""`accuracy-squad`: answers from the start/end logits in mlperf_log_accuracy.json, scored with the SQuAD v1.1
evaluation, as the reference's accuracy-squad.py and evaluate_v1.1.py do.

Each LoadGen response is one feature's logits as float32 pairs (start, end) per token position, row-major
(positions, 2); shorter responses are padded to 384 positions with -10000, as the reference reader does.
Answers: for every feature of a question, the 20 best start and end positions; spans inside the document
part, start where that window gives the token the most context, end >= start, at most 30 tokens; ranked by
start + end logit; the first distinct de-tokenised text (projected back onto the original words) is the answer.
"""

import json
import re
import string
from collections import Counter
from pathlib import Path

import numpy as np

from ...errors import UsageError
from . import squad as squad_data
from .squad import MAX_SEQ_LENGTH, Squad

N_BEST = 20
MAX_ANSWER_LENGTH = 30
PAD_LOGIT = -10000.0
# The submission checker's F1 pattern for bert (ACC_PATTERN["F1"]).
CHECKER_F1 = r"^{[\"\']exact_match[\"\']\:\s*[\d\.]+,\s*[\"\']f1[\"\']\:\s*([\d\.]+)}"
DTYPES = {"float32": np.float32, "float16": np.float16, "float64": np.float64}


# --- SQuAD v1.1 evaluation ---


def normalize_answer(text: str) -> str:
    """Lower case, drop punctuation, drop the articles a/an/the, collapse whitespace."""
    text = text.lower()
    text = "".join(c for c in text if c not in _PUNCT)
    text = re.sub(r"\b(a|an|the)\b", " ", text)
    return " ".join(text.split())


_PUNCT = frozenset(string.punctuation)


def exact_match(prediction: str, truth: str) -> bool:
    return normalize_answer(prediction) == normalize_answer(truth)


def f1(prediction: str, truth: str) -> float:
    pred, gold = normalize_answer(prediction).split(), normalize_answer(truth).split()
    same = sum((Counter(pred) & Counter(gold)).values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def score(predictions: dict[str, str], answers: dict[str, list[str]]) -> dict[str, float]:
    """{"exact_match", "f1"} in percent over every question in `answers`; an unanswered one scores 0."""
    em = f = 0.0
    for qid, truths in answers.items():
        if qid not in predictions:
            continue
        pred = predictions[qid]
        em += max(float(exact_match(pred, t)) for t in truths) if truths else 0.0
        f += max(f1(pred, t) for t in truths) if truths else 0.0
    n = len(answers)
    return {"exact_match": 100.0 * em / n if n else 0.0, "f1": 100.0 * f / n if n else 0.0}


def line(result: dict) -> str:
    """The accuracy.txt line: JSON with exact_match then f1, as evaluate_v1.1.py prints it."""
    return json.dumps({"exact_match": float(result["exact_match"]), "f1": float(result["f1"])})


# --- answer extraction ---


class _Basic:
    """The reference's lower-casing basic tokenizer (clean, split CJK, strip accents, split punctuation)."""

    def __init__(self):
        from tokenizers import normalizers, pre_tokenizers

        self.norm = normalizers.BertNormalizer(
            clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=True
        )
        self.pre = pre_tokenizers.BertPreTokenizer()

    def tokenize(self, text: str) -> list[str]:
        return [t for t, _ in self.pre.pre_tokenize_str(self.norm.normalize_str(text))]


def _strip_spaces(text: str) -> tuple[str, dict[int, int]]:
    kept, to_full = [], {}
    for i, c in enumerate(text):
        if c == " ":
            continue
        to_full[len(kept)] = i
        kept.append(c)
    return "".join(kept), to_full


def final_text(pred_text: str, orig_text: str, basic: _Basic) -> str:
    """The predicted (normalised, lower-cased) text mapped back onto the original words' characters; the
    original words whole when the two do not align character for character."""
    tok_text = " ".join(basic.tokenize(orig_text))
    start = tok_text.find(pred_text)
    if start == -1:
        return orig_text
    end = start + len(pred_text) - 1
    orig_ns, orig_map = _strip_spaces(orig_text)
    tok_ns, tok_map = _strip_spaces(tok_text)
    if len(orig_ns) != len(tok_ns):
        return orig_text
    tok_inverse = {full: ns for ns, full in tok_map.items()}
    if start not in tok_inverse or tok_inverse[start] not in orig_map:
        return orig_text
    if end not in tok_inverse or tok_inverse[end] not in orig_map:
        return orig_text
    return orig_text[orig_map[tok_inverse[start]] : orig_map[tok_inverse[end]] + 1]


def _best_indexes(logits: list[float], n: int) -> list[int]:
    return sorted(range(len(logits)), key=logits.__getitem__, reverse=True)[:n]


def answer(squad: Squad, example_index: int, results: dict[int, tuple[list[float], list[float]]], basic) -> str:
    """The predicted answer text of one question from its features' logits (results by feature index)."""
    example = squad.examples[example_index]
    prelim = []
    for fi in squad.by_example.get(example_index, ()):
        if fi not in results:
            continue
        feature = squad.features[fi]
        starts, ends = results[fi]
        lo = feature.doc_offset
        hi = lo + len(feature.orig_index)  # document positions: lo <= position < hi (so also < len(tokens))
        max_context = feature.max_context
        best_ends = _best_indexes(ends, N_BEST)
        for s in _best_indexes(starts, N_BEST):
            if s < lo or s >= hi or not max_context[s - lo]:
                continue
            for e in best_ends:
                if e < s or e >= hi or e - s + 1 > MAX_ANSWER_LENGTH:
                    continue
                prelim.append((fi, s, e, starts[s] + ends[e]))
    prelim.sort(key=lambda p: p[3], reverse=True)
    seen: set[str] = set()
    nbest: list[str] = []
    for fi, s, e, _ in prelim:
        if len(nbest) >= N_BEST:
            break
        feature = squad.features[fi]
        tok_text = " ".join(feature.tokens[s : e + 1]).replace(" ##", "").replace("##", "")
        tok_text = " ".join(tok_text.strip().split())
        first, last = int(feature.orig_index[s - feature.doc_offset]), int(feature.orig_index[e - feature.doc_offset])
        text = final_text(tok_text, " ".join(example.doc_tokens[first : last + 1]), basic)
        if text in seen:
            continue
        seen.add(text)
        nbest.append(text)
    return nbest[0] if nbest else "empty"


def read_log(path: Path, feature_count: int, dtype: str = "float32") -> dict[int, tuple[list[float], list[float]]]:
    """{qsl_idx: (start logits, end logits)} padded to 384 positions; a sample logged twice keeps the last."""
    if not path.is_file():
        raise UsageError(f"{path} does not exist", "pass --mlperf-accuracy-file from an accuracy-mode run")
    try:
        records = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})", "rerun the accuracy run") from None
    results = {}
    for r in records:
        try:
            idx = int(r["qsl_idx"])
            data = np.frombuffer(bytes.fromhex(r["data"]), DTYPES[dtype])
        except (KeyError, TypeError, ValueError) as e:
            raise UsageError(
                f"{path} holds a record that is not a LoadGen response ({type(e).__name__}: {e})",
                "pass the mlperf_log_accuracy.json of a bert accuracy run",
            ) from None
        if idx >= feature_count:
            raise UsageError(
                f"{path}: qsl_idx {idx} is beyond the {feature_count} SQuAD features",
                "pass the run's dataset and vocabulary",
            )
        if data.size % 2 or data.size // 2 > MAX_SEQ_LENGTH:
            raise UsageError(
                f"{path}: qsl_idx {idx} holds {data.size} {dtype} values, not (positions <= 384, 2) logits",
                "the accuracy log must come from a bert accuracy run",
            )
        pairs = data.reshape(-1, 2).astype(np.float64)
        start = np.full(MAX_SEQ_LENGTH, PAD_LOGIT)
        end = np.full(MAX_SEQ_LENGTH, PAD_LOGIT)
        start[: len(pairs)], end[: len(pairs)] = pairs[:, 0], pairs[:, 1]
        results[idx] = (start.tolist(), end.tolist())
    return results


def predictions(squad: Squad, results: dict[int, tuple[list[float], list[float]]]) -> dict[str, str]:
    """{question id: answer} for every question with at least one feature in results."""
    basic = _Basic()
    examples = sorted({squad.features[i].example_index for i in results})
    return {squad.examples[ei].qas_id: answer(squad, ei, results, basic) for ei in examples}


def evaluate(accuracy_log: Path, squad: Squad, dtype: str = "float32") -> dict:
    """{"exact_match", "f1", "questions", "total_questions"}: scored over the questions the log covers (all of
    them in a full accuracy run)."""
    results = read_log(accuracy_log, len(squad.features), dtype)
    if not results:
        raise UsageError(f"{accuracy_log} holds no responses", "rerun the accuracy run")
    preds = predictions(squad, results)
    answers = {
        squad.examples[i].qas_id: squad.examples[i].answers
        for i in sorted({squad.features[j].example_index for j in results})
    }
    out = score(preds, answers)
    return {**out, "questions": len(answers), "total_questions": len(squad.examples), "predictions": preds}


def accuracy(accuracy_log: Path, dataset_dir: Path, cache_dir: Path, dtype: str = "float32") -> dict:
    """The accuracy command: DATASET_DIR/dev-v1.1.json and vocab.txt tokenized (or taken from the cache) as the
    run did, every feature (so a log from any --count fits), then evaluate()."""
    if dtype not in DTYPES:
        raise UsageError(f"--dtype {dtype} is not a logits type", f"use one of {', '.join(DTYPES)}")
    data = squad_data.load(dataset_dir / squad_data.DATASET, dataset_dir / squad_data.VOCAB, cache_dir)
    return evaluate(accuracy_log, data, dtype)
