"""`accuracy --model dlrm-v2-99`: ROC AUC of the logged click probabilities, as the reference's accuracy-dlrm.py.

Each accuracy-log entry is one aggregated query: float32 (prediction, label) pairs, one per row of the query.
Prints "AUC=<pct>%, accuracy=<pct>%, good=<n>, total=<n>, queries=<n>" (AUC by scikit-learn's roc_auc_score).
"""

from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...loadgen.logs import first_responses, read_accuracy_log

DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64}


def read_log(accuracy_log: Path, dtype: str = "float32") -> tuple[np.ndarray, np.ndarray, int]:
    """(predictions, labels, queries) over distinct qsl_idx in log order."""
    responses = first_responses(read_accuracy_log(accuracy_log))
    chunks = []
    for idx, raw in responses.items():
        data = np.frombuffer(raw, DTYPES[dtype])
        if data.size % 2:
            raise UsageError(
                f"{accuracy_log}: qsl_idx {idx} holds {data.size} values, not (prediction, label) pairs",
                "score a log written by the dlrm-v2 harness",
            )
        chunks.append(data.reshape(-1, 2))
    if not chunks:
        raise UsageError(f"{accuracy_log} holds no results", "rerun the accuracy run")
    pairs = np.concatenate(chunks).astype(np.float64)
    return pairs[:, 0], pairs[:, 1], len(responses)


def score(accuracy_log: Path, dtype: str = "float32") -> dict:
    from sklearn.metrics import roc_auc_score

    pred, label, queries = read_log(accuracy_log, dtype)
    if len(np.unique(label)) < 2:
        raise UsageError(f"{accuracy_log}: every label is {label[0]:g}, AUC is undefined", "score more samples")
    good = int(np.count_nonzero(np.round(pred) == label))
    return {"auc": float(roc_auc_score(label, pred)), "good": good, "total": len(pred), "queries": queries}


def format_line(s: dict) -> str:
    return (
        f"AUC={100.0 * s['auc']:.3f}%, accuracy={100.0 * s['good'] / s['total']:.3f}%, good={s['good']}, "
        f"total={s['total']}, queries={s['queries']}"
    )


def command(a) -> int:
    """`accuracy --model dlrm-v2-99|dlrm-v2-99.9`: print the reference's AUC line; --output writes it."""
    line = format_line(score(Path(a.mlperf_accuracy_file), getattr(a, "dtype", None) or "float32"))
    print(line)
    if a.output:
        Path(a.output).write_text(line + "\n")
    return 0
