"""`run`: one LoadGen test of resnet50 on a backend, from dataset to result.json."""

import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

from . import __version__, accuracy, backends, imagenet, logs, settings, sut
from .errors import UsageError
from .info import loadgen_version

MODELS = ("resnet50",)
CPU_BATCH = 8  # best ResNet50 throughput per sample with onnxruntime and torch on small CPUs
GPU_BATCH = 32
OWNED_OUTPUTS = ("result.json", "accuracy.txt", "mlperf_log_trace.json")


def cpu_count() -> int:
    """Usable cores: the affinity mask, capped by a cgroup v2 CPU quota (docker --cpus) when there is one."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        quota, period = Path("/sys/fs/cgroup/cpu.max").read_text().split()
    except (OSError, ValueError):
        return cores
    return cores if quota == "max" else max(1, min(cores, -(-int(quota) // int(period))))


def defaults(backend: str, device: str, threads: int | None, batch: int | None) -> tuple[int, int, int]:
    """(threads, batch, workers). On a CPU one worker owns every core: concurrent run() calls on a shared
    session lose throughput; a GPU gets a second worker so host work overlaps the device."""
    workers = 1 if device == "cpu" or backend == "tensorrt" else 2
    return threads or cpu_count(), batch or (CPU_BATCH if device == "cpu" else GPU_BATCH), workers


def _check_positive(name: str, value) -> None:
    if value is not None and value <= 0:
        raise UsageError(f"{name} {value} must be positive", f"pass {name} greater than zero")


def _validity_notes(detail: dict, execution_mode: str, mode: str, count: int, rules) -> list[str]:
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


def _prepare_output(out: Path, audit_config: Path | None) -> None:
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


def _start_test(pool, dataset, rs, out: Path, audit_config: Path | None, total: int, perf_count: int) -> float:
    """LoadGen with cwd = the output dir, so the only audit.config it can find is the one copied in here."""
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
        sut.run(pool, dataset, total, perf_count, test_settings, log)
        return time.monotonic() - start
    finally:
        os.chdir(cwd)
        (out / "audit.config").unlink(missing_ok=True)


def _result(a, backend, out: Path, rules, facts: dict) -> dict:
    """result.json's content from the arguments, the run's facts and LoadGen's detail log; in accuracy mode
    also scores the accuracy log and writes accuracy.txt."""
    detail = logs.read_detail(out / "mlperf_log_detail.txt")
    result = {
        "model": a.model,
        "backend": a.backend,
        "device": a.device,
        "scenario": a.scenario,
        "mode": a.mode,
        "execution_mode": a.execution_mode,
        "precision": a.precision,
        "result_validity": detail.get("result_validity", "N/A") if a.mode == "performance" else "N/A",
        "metric": logs.main_metric(detail, a.scenario) if a.mode == "performance" else None,
        "loadgen_version": loadgen_version(),
        "framework": {"name": backend.name, "version": backend.version},
        "harness_version": __version__,
        **facts,
        "validity_notes": _validity_notes(detail, a.execution_mode, a.mode, facts["sample_count"], rules),
    }
    if a.mode == "accuracy":
        good, n = accuracy.imagenet(out / "mlperf_log_accuracy.json", Path(a.dataset_dir) / "val_map.txt")
        line = accuracy.format_line(good, n)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "top1_accuracy", "value": round(100.0 * good / n, 3) if n else 0.0, "unit": "%"}
        result["accuracy"] = {"good": good, "total": n}
    return result


def run(a) -> int:
    if a.model not in MODELS:
        raise UsageError(f"unknown model {a.model!r}", f"use one of {', '.join(MODELS)}")
    for name, value in (("--threads", a.threads), ("--max-batchsize", a.max_batchsize), ("--count", a.count)):
        _check_positive(name, value)
    out = Path(a.output_dir).resolve()
    audit_config = Path(a.audit_config).resolve() if a.audit_config else None
    rs = settings.RunSettings(a.model, a.scenario, a.mode, a.execution_mode, a.target_qps, a.target_latency, a.samples)
    conf_text = settings.user_conf(rs)
    rules = settings.official(a.model, a.scenario)
    backends.check_model_file(Path(a.model_path))
    entries = imagenet.read_val_map(Path(a.dataset_dir), a.count)
    threads, batch, workers = defaults(a.backend, a.device, a.threads, a.max_batchsize)
    _prepare_output(out, audit_config)
    (out / "user.conf").write_text(conf_text)
    cache_root = Path(a.cache_dir).resolve() if a.cache_dir else out / "cache"
    backend = backends.create(a.backend, a.device, Path(a.model_path), threads, a.precision, cache_root, batch)
    dataset = imagenet.Dataset(entries, backend.preprocessing, cache_root, threads)
    print(
        f"mlperf_harness: {a.model} {a.backend}/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): "
        f"{len(entries)} samples ({dataset.preprocessed} newly preprocessed), threads={threads}, batch={batch}, "
        f"workers={workers}",
        flush=True,
    )
    total = len(entries)
    perf_count = min(total, a.samples or rules.performance_sample_count)
    backend.predict(np.zeros((batch, 3, imagenet.SIZE, imagenet.SIZE), np.float32))  # warm-up, untimed
    pool = sut.WorkerPool(backend, dataset, workers, batch)
    try:
        duration = _start_test(pool, dataset, rs, out, audit_config, total, perf_count)
    finally:
        pool.stop()
    if pool.errors:
        raise RuntimeError(f"{len(pool.errors)} batches failed; first: {pool.errors[0]!r}")
    trace = out / "mlperf_log_trace.json"
    if trace.exists() and trace.stat().st_size == 0:
        trace.unlink()
    facts = {
        "sample_count": total,
        "performance_sample_count": perf_count,
        "threads": threads,
        "batch_size": batch,
        "workers": workers,
        "duration_s": round(duration, 3),
        "compliance_audit": audit_config is not None,
    }
    result = _result(a, backend, out, rules, facts)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'result.json'}", file=sys.stderr)
    return 0
