"""Reading LoadGen's logs: mlperf_log_detail.txt (one `:::MLLOG {json}` record per line) and
mlperf_log_accuracy.json (a JSON list of {"seq_id", "qsl_idx", "data": hex bytes})."""

import json
from pathlib import Path

from ..errors import UsageError

MLLOG = ":::MLLOG "

# scenario -> (detail key, metric name, unit, scale from the logged value)
METRICS = {
    "Offline": ("result_samples_per_second", "samples_per_second", "samples/s", 1.0),
    "Server": ("result_completed_samples_per_sec", "completed_samples_per_second", "samples/s", 1.0),
    "Interactive": ("result_completed_samples_per_sec", "completed_samples_per_second", "samples/s", 1.0),
    "SingleStream": ("early_stopping_latency_ss", "p90_latency_early_stopping", "ms", 1e-6),
    "MultiStream": ("early_stopping_latency_ms", "p99_latency_early_stopping", "ms", 1e-6),
}
# Fallbacks when LoadGen could not compute an early-stopping estimate.
FALLBACKS = {
    "SingleStream": ("result_90.00_percentile_latency_ns", "p90_latency", "ms", 1e-6),
    "MultiStream": ("result_99.00_percentile_latency_ns", "p99_latency", "ms", 1e-6),
}
CRITERIA = {
    "result_min_duration_met": "min duration",
    "result_min_queries_met": "min query count",
    "early_stopping_met": "early stopping",
    "result_perf_constraints_met": "performance constraints (latency bound)",
}
SHORTENED = {"result_min_duration_met", "result_min_queries_met"}


def read_accuracy_log(path: Path, fix: str = "pass --mlperf-accuracy-file from an accuracy-mode run") -> list[dict]:
    """The entries of an accuracy log; a one-line UsageError naming the file when it is missing or not one."""
    if not path.is_file():
        raise UsageError(f"{path} does not exist", fix)
    try:
        entries = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise UsageError(f"{path} is not valid JSON ({e.msg} at line {e.lineno})", "rerun the accuracy run") from None
    if not isinstance(entries, list) or not all(isinstance(e, dict) and "qsl_idx" in e and "data" in e
                                                for e in entries):
        raise UsageError(f"{path} is not a LoadGen accuracy log (a JSON list of qsl_idx/data entries)",
                         "pass mlperf_log_accuracy.json")
    return entries


def first_responses(entries: list[dict]) -> dict[int, bytes]:
    """qsl_idx -> the bytes of its first response, in log order (LoadGen may log a sample more than once)."""
    out: dict[int, bytes] = {}
    for e in entries:
        idx = int(e["qsl_idx"])
        if idx not in out:
            out[idx] = bytes.fromhex(e["data"])
    return out


def read_detail(path: Path) -> dict:
    """The last value logged for each key."""
    records = {}
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith(MLLOG):
            try:
                rec = json.loads(line[len(MLLOG) :])
            except json.JSONDecodeError:
                continue
            records[rec["key"]] = rec["value"]
    return records


def main_metric(detail: dict, scenario: str) -> dict | None:
    for table in (METRICS, FALLBACKS):
        if scenario in table:
            key, name, unit, scale = table[scenario]
            if detail.get(key):  # 0 means LoadGen had too few queries for the estimate
                return {"name": name, "value": round(float(detail[key]) * scale, 6), "unit": unit}
    return None


def unmet_criteria(detail: dict) -> list[str]:
    """Detail keys of the validity criteria LoadGen reports as not met."""
    return [k for k in CRITERIA if detail.get(k) is False]


def only_too_short(detail: dict) -> bool:
    """True if every unmet criterion is about run length: min duration, min query count, or an early-stopping
    estimate that needs more queries than were run."""
    unmet = set(unmet_criteria(detail))
    if "early_stopping_met" in unmet:
        text = str(detail.get("early_stopping_result", ""))
        if "Need to process at least" in text or "more queries" in text:
            unmet.discard("early_stopping_met")
    return unmet <= SHORTENED


def join_token_early_stopping(detail: dict) -> dict:
    """With token latencies LoadGen reports early stopping for TTFT and TPOT apart; both are joined into the
    one early_stopping_result the validity notes read. Other runs' details are returned as they are."""
    parts = [str(detail[k]) for k in ("early_stopping_ttft_result", "early_stopping_tpot_result") if k in detail]
    if parts and "early_stopping_result" not in detail:
        detail["early_stopping_result"] = "\n".join(parts)
    return detail
