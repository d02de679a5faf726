"""`accuracy --model 3d-unet-99`: mean DICE of the logged segmentations against the preprocessed labels.

Each accuracy-log entry is one case's uint8 segmentation (D*H*W bytes, the case's preprocessed shape). Per
case, DICE = (2|P∩T| + 1e-6) / (|P| + |T| + 1e-6) for kidney (class 1) and tumour (class 2); the composite is
their mean; the reported figures are the means over the cases, in the reference's line format.
"""

from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...loadgen.logs import first_responses, read_accuracy_log
from .dataset import Cases

SMOOTH = 1e-6


def dice(prediction: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """(kidney, tumour) DICE of two label volumes of one shape."""
    if prediction.shape != target.shape:
        raise ValueError(f"prediction {prediction.shape} and target {target.shape} differ")
    scores = []
    for c in (1, 2):
        p, t = prediction == c, target == c
        inter = np.count_nonzero(p & t)
        scores.append((2.0 * inter + SMOOTH) / (np.count_nonzero(p) + np.count_nonzero(t) + SMOOTH))
    return scores[0], scores[1]


def read_log(accuracy_log: Path) -> dict[int, bytes]:
    """qsl_idx -> response bytes, first entry of each index (LoadGen may log a sample twice)."""
    return first_responses(read_accuracy_log(accuracy_log))


def score(accuracy_log: Path, preprocessed_dir: Path) -> dict:
    """{"cases": {case: (kidney, tumour, composite)}, "kidney", "tumor", "mean"} over the logged cases."""
    cases = Cases(preprocessed_dir)
    logged = read_log(accuracy_log)
    per_case = {}
    for idx in sorted(logged):
        if not 0 <= idx < len(cases):
            raise UsageError(f"{accuracy_log}: qsl_idx {idx} is beyond the {len(cases)} cases", "pass the run's data")
        _, label = cases.read(idx)
        data = logged[idx]
        if len(data) != label.size:
            raise UsageError(
                f"{accuracy_log}: case {cases.names[idx]} has {len(data)} bytes, its volume {label.shape} needs "
                f"{label.size}",
                "pass the preprocessed dir the run used",
            )
        k, t = dice(np.frombuffer(data, np.uint8).reshape(label.shape), label)
        per_case[cases.names[idx]] = (k, t, (k + t) / 2)
    if not per_case:
        raise UsageError(f"{accuracy_log} holds no results", "rerun the accuracy run")
    arr = np.nan_to_num(np.array(list(per_case.values())))
    kidney, tumor, mean = arr.mean(axis=0).tolist()
    return {"cases": per_case, "kidney": kidney, "tumor": tumor, "mean": mean, "total": len(cases)}


def format_line(s: dict) -> str:
    return f"Accuracy: mean = {s['mean']:.5f}, kidney = {s['kidney']:.4f}, tumor = {s['tumor']:.4f}"


def command(a) -> int:
    """`accuracy --model 3d-unet-99|3d-unet-99.9`: the per-case DICE and the reference's mean line; --output
    writes the line. --dataset-dir is the preprocessed dir the run read (its labels)."""
    if getattr(a, "dataset_dir", None) is None:
        raise UsageError("3d-unet scoring needs the labels", "pass --dataset-dir with the preprocessed KiTS19 cases")
    s = score(Path(a.mlperf_accuracy_file), Path(a.dataset_dir))
    for case, (k, t, c) in s["cases"].items():
        print(f"{case}: kidney = {k:.4f}, tumor = {t:.4f}, composite = {c:.4f}")
    line = format_line(s)
    print(line)
    if a.output:
        Path(a.output).write_text(line + "\n")
    return 0
