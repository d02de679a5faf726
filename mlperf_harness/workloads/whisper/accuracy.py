"""`accuracy --model whisper`: the word error rate of the label ids in mlperf_log_accuracy.json against the
manifest's transcripts, as the reference's speech2text/accuracy_eval.py computes and prints it.

Each response is the transcript's label ids as int64 (dataset.LABELS; the reference's array('q')), every
logged response counted (as the reference). Both texts go through Whisper's English text normaliser
(`normalize`), are split into words and aligned allowing a run of up to three words on one side to match
their concatenation on the other ("foot ball" = "football"); the word-level edit distance of the aligned
lists, summed over the samples, over the total reference words is the WER. The line is
`Word Error Rate: <wer * 100>%, accuracy=<(1 - wer) * 100>%` with Python's shortest float repr, which the
v5.1+ checkers read as ACCURACY with `Word Error Rate\\:.*, accuracy=([0-9\\.]+)%`.
"""

import json
from functools import cache
from pathlib import Path

from ...errors import UsageError
from ...loadgen.logs import read_accuracy_log
from . import dataset

# the reference's --output_dtype choices, at their declared widths (its array typecode for int32, 'l', is 8 bytes
# on 64-bit Linux, so there "int32" reads the int64 the SUT writes: the run writes int64, the default)
DTYPES = {"int8": "i1", "int16": "i2", "int32": "i4", "int64": "i8"}
CHECKER_PATTERN = r"Word Error Rate\:.*, accuracy=([0-9\.]+)%"  # the v5.1+ checkers' ACC_PATTERN["ACCURACY"]
# Whisper's British -> American spelling table, from openai-whisper (MIT licence, (c) 2022 OpenAI):
# whisper/normalizers/english.json of release 20250625, the EnglishTextNormalizer's EnglishSpellingNormalizer
SPELLINGS = Path(__file__).with_name("english.json")


@cache
def _normalizer():
    """openai-whisper's EnglishTextNormalizer (the reference imports whisper.normalizers), as transformers carries
    it (the same code; tests/harness/test_whisper_accuracy.py checks cases against hand-written answers)."""
    from transformers.models.whisper.english_normalizer import EnglishTextNormalizer

    return EnglishTextNormalizer(json.loads(SPELLINGS.read_text(encoding="utf-8")))


def normalize(text: str) -> str:
    """Whisper's English normalisation: lower case, bracketed and filler words out, contractions and British
    spellings standardised, numbers spelled as digits, symbols and diacritics out, single spaces."""
    return _normalizer()(text)


def edit_distance(a: list, b: list) -> int:
    """Levenshtein distance: the fewest insertions, deletions and substitutions turning a into b."""
    if len(a) < len(b):
        a, b = b, a
    row = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def align(hyp: list[str], ref: list[str]) -> tuple[list[str], list[str]]:
    """(ref, hyp) word lists aligned left to right: equal words pair up; otherwise up to three reference words
    whose concatenation is the hypothesis word (tried first for each run length), or up to three hypothesis
    words whose concatenation is the reference word, become one item each side; otherwise the two words pair
    up as they are. What one list has left over follows unpaired."""
    i = j = 0
    ref_out: list[str] = []
    hyp_out: list[str] = []
    while i < len(ref) and j < len(hyp):
        r, h = 1, 1
        if ref[i] != hyp[j]:
            for k in range(1, 4):
                if i + k <= len(ref) and "".join(ref[i : i + k]) == hyp[j]:
                    r = k
                    break
                if j + k <= len(hyp) and "".join(hyp[j : j + k]) == ref[i]:
                    h = k
                    break
        ref_out.append("".join(ref[i : i + r]))
        hyp_out.append("".join(hyp[j : j + h]))
        i, j = i + r, j + h
    return ref_out + ref[i:], hyp_out + hyp[j:]


def word_errors(hypothesis: str, reference: str) -> tuple[int, int]:
    """(word edits, reference words) of one normalised pair."""
    hyp, ref = hypothesis.split(), reference.split()
    ref_aligned, hyp_aligned = align(hyp, ref)
    return edit_distance(ref_aligned, hyp_aligned), len(ref)


def word_error_rate(hypotheses: list[str], references: list[str]) -> tuple[float, int, int]:
    """(wer, word edits, reference words) after normalising both sides."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    edits = words = 0
    for h, r in zip(hypotheses, references, strict=True):
        e, w = word_errors(normalize(h), normalize(r))
        edits, words = edits + e, words + w
    if not words:
        raise UsageError(f"the transcripts of the {len(references)} logged samples hold no words",
                         "check the manifest's transcripts")
    return edits / words, edits, words


def read_log(accuracy_log: Path, dtype: str = "int64") -> list[tuple[int, list[int]]]:
    """(qsl_idx, label ids) per logged response, in log order."""
    import numpy as np

    width = np.dtype(DTYPES[dtype]).itemsize
    out = []
    for r in read_accuracy_log(accuracy_log, "pass the mlperf_log_accuracy.json of an accuracy-mode run"):
        data = bytes.fromhex(r["data"])
        if len(data) % width:
            raise UsageError(f"{accuracy_log}: qsl_idx {r['qsl_idx']}: {len(data)} bytes are not {dtype} label ids",
                             "pass the run's --dtype (int64)")
        out.append((int(r["qsl_idx"]), np.frombuffer(data, "<" + DTYPES[dtype]).tolist()))
    return out


def score(accuracy_log: Path, dataset_dir: Path, manifest: Path | None = None, dtype: str = "int64") -> dict:
    """{"wer", "edits", "words", "samples"} of an accuracy log against the dataset's manifest."""
    samples = dataset.read_manifest(dataset_dir, manifest)
    hypotheses, references = [], []
    for idx, ids in read_log(accuracy_log, dtype):
        if idx >= len(samples):
            raise UsageError(f"{accuracy_log}: qsl_idx {idx} is beyond the {len(samples)} samples of "
                             f"{manifest or dataset_dir / dataset.MANIFEST}", "pass the run's dataset dir")
        hypotheses.append(dataset.decode(ids))
        references.append(samples[idx].transcript)
    if not hypotheses:
        raise UsageError(f"{accuracy_log} holds no responses", "rerun the accuracy run")
    wer, edits, words = word_error_rate(hypotheses, references)
    return {"wer": wer, "edits": edits, "words": words, "samples": len(hypotheses)}


def line(wer: float) -> str:
    """The reference's result line (also accuracy.txt's)."""
    return f"Word Error Rate: {wer * 100}%, accuracy={(1 - wer) * 100}%"


def command(a) -> int:
    """`accuracy --model whisper`: print the line; --output writes it. --dataset-file names another manifest than
    DATASET_DIR/dev-all-repack.json (its wav paths still resolved in --dataset-dir); --dtype int32 reads a log
    of int32 label ids (default: int64, as the run writes)."""
    if not a.dataset_dir:
        raise UsageError("accuracy --model whisper needs --dataset-dir", f"pass the folder holding {dataset.MANIFEST}")
    manifest = Path(a.dataset_file) if getattr(a, "dataset_file", None) else None
    dtype = getattr(a, "dtype", None) or "int64"
    if dtype not in DTYPES:
        raise UsageError(f"--dtype {dtype}: whisper logs hold integer label ids", "pass --dtype int64 or int32")
    result = score(Path(a.mlperf_accuracy_file), Path(a.dataset_dir), manifest, dtype)
    text = line(result["wer"])
    print(text)
    print(f"{result['edits']} word edits over {result['words']} reference words in {result['samples']} responses")
    if a.output:
        Path(a.output).write_text(text + "\n")
    return 0
