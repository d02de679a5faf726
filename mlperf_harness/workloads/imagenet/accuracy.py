"""`accuracy --model resnet50` (alias `accuracy-imagenet`): top-1 accuracy from LoadGen's
mlperf_log_accuracy.json, as the reference script."""

from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.loadgen.logs import first_responses, read_accuracy_log

from .layout import parse_val_map

DTYPES = {"float32": np.float32, "int32": np.int32, "int64": np.int64}


def read_labels(val_map: Path) -> list[int]:
    if not val_map.is_file():
        raise UsageError(f"{val_map} does not exist", "pass --imagenet-val-file with the dataset's val_map.txt")
    return [label for _, label in parse_val_map(val_map)]


def imagenet(accuracy_log: Path, val_map: Path, dtype: str = "float32") -> tuple[int, int]:
    """(good, total) over distinct qsl_idx; LoadGen may log a sample more than once."""
    labels = read_labels(val_map)
    responses = first_responses(read_accuracy_log(accuracy_log))
    good = 0
    for idx, raw in responses.items():
        if idx >= len(labels):
            raise UsageError(
                f"qsl_idx {idx} is beyond the {len(labels)} lines of {val_map}", "pass the run's val_map.txt"
            )
        data = np.frombuffer(raw, DTYPES[dtype])
        if data.size and int(data[0]) == labels[idx]:
            good += 1
    return good, len(responses)


def format_line(good: int, total: int) -> str:
    pct = 100.0 * good / total if total else 0.0
    return f"accuracy={pct:.3f}%, good={good}, total={total}"


def command(a) -> int:
    """`accuracy --model resnet50` and `accuracy-imagenet`: print the accuracy.txt line; --output writes it.
    The labels come from --imagenet-val-file, else from DATASET_DIR/val_map.txt."""
    val_file = getattr(a, "imagenet_val_file", None)
    if val_file is None:
        if getattr(a, "dataset_dir", None) is None:
            raise UsageError(
                "no labels to score against", "pass --dataset-dir (with val_map.txt) or --imagenet-val-file"
            )
        val_file = Path(a.dataset_dir) / "val_map.txt"
    good, total = imagenet(Path(a.mlperf_accuracy_file), Path(val_file), a.dtype or "float32")
    line = format_line(good, total)
    print(line)
    if a.output:
        Path(a.output).write_text(line + "\n")
    return 0
