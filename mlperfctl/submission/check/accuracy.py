"""The accuracy run: truncated log (JSON unless truncated) with its hash line, dataset size, and accuracy.txt
against the round's patterns and targets (closed division)."""

from __future__ import annotations

import re
from pathlib import Path

import mlperf_rules
from mlperf_rules import Benchmark
from mlperf_rules.common import HASH_PATTERN, MAX_ACCURACY_LOG_SIZE

from ..mllog import MLLog, accuracy_log_error


def check(ctx, acc: Path, division: str, scenario: str, bench: Benchmark | None) -> str:
    rnd = ctx.round
    detail = acc / "mlperf_log_detail.txt"
    log = MLLog(detail)
    for error in log.errors():
        ctx.problem(detail, f"LoadGen error: {error}")
    log_json = acc / "mlperf_log_accuracy.json"
    if log_json.is_file() and log_json.stat().st_size > MAX_ACCURACY_LOG_SIZE:
        ctx.problem(log_json, f"is not truncated ({log_json.stat().st_size} bytes > {MAX_ACCURACY_LOG_SIZE}); "
                              "run `mlperfctl submission truncate`")
    json_problem(ctx, log_json)
    txt = acc / "accuracy.txt"
    if not txt.is_file():
        return ""
    text = txt.read_text(errors="replace")
    if not any(re.match(HASH_PATTERN, line.strip()) for line in text.splitlines()):
        ctx.problem(txt, "no hash=<sha256> line (run `mlperfctl submission truncate`)")
    if bench is None:
        return ""
    size = rnd.dataset_size(bench.name)
    count = log.get("effective_accuracy_sample_count", log.get("qsl_reported_total_count"))
    if rnd.dataset_size_checked and count != size and not ctx.skip_dataset_size_check:
        ctx.problem(detail, f"accuracy run covers {count} samples, the dataset has {size}")
    for message in mlperf_rules.accuracy_check(rnd, bench.name, text, scenario, division=division):
        ctx.problem(txt, message)
    values = mlperf_rules.accuracy_values(rnd, bench.name, text)
    return ", ".join(f"{k}={v:g}" for k, v in values.items() if v is not None)


def json_problem(ctx, log_json: Path) -> None:
    """An accuracy log that is neither valid JSON nor truncated. The official checker reads only its size
    (and the hash line in accuracy.txt), so it would pass such a log; reported anyway: it cannot be scored."""
    if log_json.is_file() and (error := accuracy_log_error(log_json)):
        ctx.problem(log_json, f"{error}: the accuracy log cannot be scored; rerun the accuracy run")
