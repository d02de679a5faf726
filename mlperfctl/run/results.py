"""What a run leaves behind: result rows for the table and --json, the reproduce command, the
framework line of the system description and each result's README."""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass
from pathlib import Path

import mlperf_rules

from ..options import RunOptions
from ..submission import MLLog


@dataclass
class HarnessRun:
    scenario: str
    mode: str
    output_dir: Path
    seconds: float
    exit_code: int


def effective_seeds(performance_dir: Path) -> dict:
    """The seeds LoadGen ran with, from a performance run's detail log ({} when there is none)."""
    path = Path(performance_dir) / "mlperf_log_detail.txt"
    if not path.is_file():
        return {}
    log = MLLog(path)
    return {k: log.get(f"effective_{k}") for k in mlperf_rules.SEED_KEYS}


def offline_samples_per_second(log: MLLog) -> float | None:
    """Samples per second of an Offline run, from its one query's size and duration (LoadGen's own
    figure is tokens per second when token latencies are on, as for the LLMs)."""
    samples = (log.get("generated_query_count") or 0) * (log.get("generated_samples_per_query") or 0)
    seconds = (log.get("result_max_latency_ns") or 0) / 1e9
    return samples / seconds if samples and seconds else None


def read_result(output_dir: Path) -> dict:
    """The harness's result.json plus the accuracy line, for the results table."""
    path = output_dir / "result.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    accuracy = output_dir / "accuracy.txt"
    if accuracy.exists():
        data["accuracy"] = next((ln for ln in accuracy.read_text().splitlines() if ln.strip()), "")
    return data


def result_rows(runs: list[HarnessRun]) -> list[dict]:
    """One row per (scenario, mode): the harness's result.json, the accuracy line, the time."""
    return [read_result(r.output_dir) | {"scenario": r.scenario, "mode": r.mode, "seconds": round(r.seconds, 1)}
            for r in runs]


def reproduce_command(opts: RunOptions) -> str:
    argv = list(opts.command_line)
    argv[0] = "mlperfctl"
    return shlex.join(argv)


def framework(info: dict, backend: str) -> str:
    versions = info.get("frameworks", {})
    name = {"pytorch": "torch"}.get(backend, backend)
    version = versions.get(name) or versions.get(backend)
    return f"{backend} {version}" if version else backend
