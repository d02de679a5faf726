"""`accuracy --model rnnt`: the word error rate of the label ids in mlperf_log_accuracy.json against the
manifest's transcripts, printed as the reference's accuracy_eval.py prints it.

Each response is the utterance's label ids as int64 (the reference's array('q')); qsl_idx i is the i-th
utterance the manifest keeps. The WER is the total word-level edit distance over the total reference words,
every logged response counted (as the reference). The line is
`Word Error Rate: <wer * 100>%, accuracy=<(1 - wer) * 100>%` with Python's shortest float repr, which the
v4.0 submission checker reads with `Word Error Rate\\:.*, accuracy=([0-9\\.]+)%`.
"""

from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...loadgen.logs import read_accuracy_log
from . import dataset

DTYPES = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64}
CHECKER_PATTERN = r"Word Error Rate\:.*, accuracy=([0-9\.]+)%"  # the v4.0 checker's ACC_PATTERN["WER"]


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


def word_error_rate(hypotheses: list[str], references: list[str]) -> tuple[float, int, int]:
    """(wer, word edits, reference words) over whitespace-split words."""
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses for {len(references)} references")
    edits = words = 0
    for h, r in zip(hypotheses, references, strict=True):
        ref_words = r.split()
        words += len(ref_words)
        edits += edit_distance(h.split(), ref_words)
    return (edits / words if words else float("inf")), edits, words


def read_log(accuracy_log: Path, dtype: str = "int64") -> list[tuple[int, list[int]]]:
    """(qsl_idx, label ids) per logged response, in log order."""
    records = read_accuracy_log(accuracy_log)
    out = []
    width = np.dtype(DTYPES[dtype]).itemsize
    for r in records:
        data = bytes.fromhex(r["data"])
        if len(data) % width:
            raise UsageError(
                f"qsl_idx {r['qsl_idx']}: {len(data)} bytes are not {dtype} label ids", "pass the run's --dtype (int64)"
            )
        out.append((int(r["qsl_idx"]), np.frombuffer(data, DTYPES[dtype]).tolist()))
    return out


def score(accuracy_log: Path, dataset_dir: Path, manifest: Path | None = None, dtype: str = "int64") -> dict:
    """{"wer", "edits", "words", "samples"} of an accuracy log against the dataset's manifest."""
    utterances = dataset.read_manifest(dataset_dir, manifest)
    hypotheses, references = [], []
    for idx, ids in read_log(accuracy_log, dtype):
        if idx >= len(utterances):
            raise UsageError(
                f"qsl_idx {idx} is beyond the {len(utterances)} utterances of {manifest or dataset_dir}",
                "pass the run's dataset dir",
            )
        hypotheses.append(dataset.decode(ids))
        references.append(utterances[idx].transcript)
    if not hypotheses:
        raise UsageError(f"{accuracy_log} holds no responses", "rerun the accuracy run")
    wer, edits, words = word_error_rate(hypotheses, references)
    if not words:
        raise UsageError(
            f"the transcripts of the {len(references)} logged utterances hold no words", "check the manifest"
        )
    return {"wer": wer, "edits": edits, "words": words, "samples": len(hypotheses)}


def line(wer: float) -> str:
    """The reference's result line (also accuracy.txt's)."""
    return f"Word Error Rate: {wer * 100}%, accuracy={(1 - wer) * 100}%"


def command(a) -> int:
    """`accuracy --model rnnt`: print the line; --output writes it. --dataset-file names another manifest than
    DATASET_DIR/dev-clean-wav.json (its wav paths still relative to --dataset-dir); --dtype int32 reads a log of
    int32 label ids (default: int64, as the run writes)."""
    if not a.dataset_dir:
        raise UsageError("accuracy --model rnnt needs --dataset-dir", f"pass the folder holding {dataset.MANIFEST}")
    manifest = Path(a.dataset_file) if getattr(a, "dataset_file", None) else None
    dtype = getattr(a, "dtype", None) or "int64"
    if dtype not in DTYPES:
        raise UsageError(f"--dtype {dtype}: rnnt logs hold integer label ids", "pass --dtype int64 or int32")
    result = score(Path(a.mlperf_accuracy_file), Path(a.dataset_dir), manifest, dtype)
    text = line(result["wer"])
    print(text)
    print(f"{result['edits']} word edits over {result['words']} reference words in {result['samples']} responses")
    if a.output:
        Path(a.output).write_text(text + "\n")
    return 0
