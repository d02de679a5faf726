"""The LoadGen test lifecycle every workload shares: usable cores, argument checks, the output dir,
StartTest with the output dir as cwd (so no stray audit.config is read), and validity notes."""

import os
import shutil
import time
from pathlib import Path

from .. import __version__
from ..errors import UsageError
from ..info import loadgen_version
from . import logs, settings
from .pool import run as run_test

OWNED_OUTPUTS = ("result.json", "accuracy.txt", "mlperf_log_trace.json")
CPU_BATCH = 8  # best ResNet50 throughput per sample with onnxruntime and torch on small CPUs
GPU_BATCH = 32


def cpu_count() -> int:
    """Usable cores: the affinity mask, capped by a cgroup v2 CPU quota (docker --cpus) when there is one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
    except (OSError, ValueError):
        return cores
    return cores if quota == "max" else max(1, min(cores, -(-int(quota) // int(period))))


def check_positive(name: str, value) -> None:
    if value is not None and value <= 0:
        raise UsageError(f"{name} {value} must be positive", f"pass {name} greater than zero")


def validity_notes(detail: dict, execution_mode: str, mode: str, count: int, rules) -> list[str]:
    if mode == "accuracy":
        return ["accuracy mode: LoadGen ran every QSL sample once; performance validity does not apply"]
    notes = []
    unmet = logs.unmet_criteria(detail)
    if execution_mode != "valid":
        notes.append(
            f"{execution_mode} execution mode shortens min duration and min query count below the round's "
            f"({rules.min_duration_ms} ms, {rules.min_query_count} queries): not a submission result"
        )
        if unmet and logs.only_too_short(detail):
            notes.append(
                "INVALID only because the shortened run was too short for: "
                + ", ".join(logs.CRITERIA[k] for k in unmet)
                + " (use --execution-mode valid, or raise --target-qps / lower --target-latency)"
            )
            unmet = []
    notes.extend(f"not met: {logs.CRITERIA[k]}" for k in unmet)
    if count < rules.performance_sample_count:
        notes.append(
            f"the QSL holds {count} samples, fewer than the {rules.performance_sample_count} the rules ask for"
        )
    return notes


def prepare_output(out: Path, audit_config: Path | None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in OWNED_OUTPUTS:
        (out / name).unlink(missing_ok=True)
    if (out / "audit.config").exists():
        raise UsageError(
            f"{out / 'audit.config'} exists and would turn this into a compliance run",
            "remove it; pass --audit-config for compliance tests",
        )
    if audit_config is not None and not audit_config.is_file():
        raise UsageError(f"audit config {audit_config} does not exist", "pass --audit-config to an audit.config file")


def start_test(pool, qsl, rs, out: Path, audit_config: Path | None, total: int, perf_count: int) -> float:
    """LoadGen with cwd = the output dir, so the only audit.config it can find is the one copied in here.
    Stops the worker pool, raises if any of its work failed, drops an empty trace; returns seconds."""
    import mlperf_loadgen as lg

    test_settings = settings.test_settings(rs, out / "user.conf")
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.prefix = "mlperf_log_"
    log.log_output.suffix = ""
    log.log_output.prefix_with_datetime = False
    log.log_output.copy_summary_to_stdout = True
    log.enable_trace = False
    cwd = os.getcwd()
    if audit_config is not None:
        shutil.copyfile(audit_config, out / "audit.config")
    os.chdir(out)
    try:
        start = time.monotonic()
        run_test(pool, qsl, total, perf_count, test_settings, log)
        duration = time.monotonic() - start
    finally:
        pool.stop()
        os.chdir(cwd)
        (out / "audit.config").unlink(missing_ok=True)
    if pool.errors:
        raise RuntimeError(f"{len(pool.errors)} work items failed; first: {pool.errors[0]!r}")
    trace = out / "mlperf_log_trace.json"
    if trace.exists() and trace.stat().st_size == 0:
        trace.unlink()
    return duration


def defaults(backend: str, device: str, threads: int | None, batch: int | None) -> tuple[int, int, int]:
    """(threads, batch, workers). On a CPU one worker owns every core: concurrent run() calls on a shared
    session lose throughput; a GPU gets a second worker so host work overlaps the device."""
    workers = 1 if device == "cpu" or backend == "tensorrt" else 2
    return threads or cpu_count(), batch or (CPU_BATCH if device == "cpu" else GPU_BATCH), workers


def result_fields(a, detail: dict, metric: dict | None, framework: dict, facts: dict, rules) -> dict:
    """result.json's fields every workload shares: the run's arguments, LoadGen's verdict and main
    metric (performance mode), versions, the run's facts and the validity notes."""
    perf = a.mode == "performance"
    return {
        "model": a.model,
        "backend": a.backend,
        "device": a.device,
        "scenario": a.scenario,
        "mode": a.mode,
        "execution_mode": a.execution_mode,
        "precision": a.precision,
        "result_validity": detail.get("result_validity", "N/A") if perf else "N/A",
        "metric": metric if perf else None,
        "loadgen_version": loadgen_version(),
        "framework": framework,
        "harness_version": __version__,
        **facts,
        "validity_notes": validity_notes(detail, a.execution_mode, a.mode, facts["sample_count"], rules),
    }
