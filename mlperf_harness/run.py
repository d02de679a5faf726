"""`run`: one LoadGen test of resnet50 on a backend, from dataset to result.json."""

import json
import sys
from pathlib import Path

import numpy as np

from . import accuracy, backends, imagenet, loadgen_run, logs, settings, sut
from .errors import UsageError

MODELS = ("resnet50",)


def _result(a, backend, out: Path, rules, facts: dict) -> dict:
    """result.json's content from the arguments, the run's facts and LoadGen's detail log; in accuracy mode
    also scores the accuracy log and writes accuracy.txt."""
    detail = logs.read_detail(out / "mlperf_log_detail.txt")
    metric = logs.main_metric(detail, a.scenario) if a.mode == "performance" else None
    framework = {"name": backend.name, "version": backend.version}
    result = loadgen_run.result_fields(a, detail, metric, framework, facts, rules)
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
        loadgen_run.check_positive(name, value)
    out = Path(a.output_dir).resolve()
    audit_config = Path(a.audit_config).resolve() if a.audit_config else None
    rs = settings.RunSettings(a.model, a.scenario, a.mode, a.execution_mode, a.target_qps, a.target_latency, a.samples)
    conf_text = settings.user_conf(rs)
    rules = settings.official(a.model, a.scenario)
    backends.check_model_file(Path(a.model_path))
    entries = imagenet.read_val_map(Path(a.dataset_dir), a.count)
    threads, batch, workers = loadgen_run.defaults(a.backend, a.device, a.threads, a.max_batchsize)
    loadgen_run.prepare_output(out, audit_config)
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
    duration = loadgen_run.start_test(pool, dataset, rs, out, audit_config, total, perf_count)
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
