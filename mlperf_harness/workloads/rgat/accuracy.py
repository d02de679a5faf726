"""`accuracy --model rgat`: node-classification accuracy as the reference's tools/accuracy_igbh.py computes it.

Each accuracy-log entry is one validation paper (qsl_idx into val_idx.pt); the first value of its data is the
predicted class. The harness logs int64 classes; the reference's SUT logs one uint8 (the class modulo 256,
which is also an int64's first byte) and its script reads --dtype uint8 by default. Distinct qsl_idx count once;
accuracy = matches / total. The line is the reference's: "accuracy=<pct, 3 decimals>%, good=<n>, total=<n>"."""

from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...loadgen.logs import first_responses, read_accuracy_log
from . import PROCESSED, VAL_FILE
from .graph import open_array, read_val_idx

DTYPES = {"uint8": np.uint8, "float32": np.float32, "int32": np.int32, "int64": np.int64}


def score(accuracy_log: Path, dataset_dir: Path, dtype: str = "int64") -> dict:
    from . import LABEL_FILE

    responses = first_responses(read_accuracy_log(accuracy_log))
    if not responses:
        raise UsageError(f"{accuracy_log} holds no results", "rerun the accuracy run")
    val = read_val_idx(dataset_dir)
    labels = open_array(Path(dataset_dir) / PROCESSED / LABEL_FILE, None)
    good = 0
    for idx, raw in responses.items():
        if idx >= len(val):
            raise UsageError(
                f"{accuracy_log}: qsl_idx {idx} is past the {len(val)} papers of {VAL_FILE}",
                "score with the dataset the run used",
            )
        data = np.frombuffer(raw, DTYPES[dtype])
        if data.size == 0:
            raise UsageError(f"{accuracy_log}: qsl_idx {idx} holds no class", "score a log written by the rgat harness")
        good += int(int(labels[val[idx]]) == int(data[0]))
    return {"accuracy": good / len(responses), "good": good, "total": len(responses)}


def format_line(s: dict) -> str:
    return f"accuracy={100.0 * s['accuracy']:.3f}%, good={s['good']}, total={s['total']}"


def command(a) -> int:
    """Print the reference's line; --output writes it."""
    line = format_line(score(Path(a.mlperf_accuracy_file), Path(a.dataset_dir), getattr(a, "dtype", None) or "int64"))
    print(line)
    if a.output:
        Path(a.output).write_text(line + "\n")
    return 0
