"""`run --model 3d-unet-99|3d-unet-99.9`: one LoadGen test of the KiTS19 3D-UNet, from the preprocessed cases to
result.json (and, in accuracy mode, the DICE line in accuracy.txt).

--dataset-dir is the preprocessed dir (preprocessed_files.pkl + case_XXXXX.pkl); only the performance-sample
-count cases LoadGen asks for are in memory at once. Standalone until the workload registry lands:
`python -m mlperf_harness.workloads.unet3d.run` takes the harness `run` options.
"""

import json
import resource
import sys
from pathlib import Path

from ... import logs, settings
from ...errors import UsageError
from ...loadgen_run import check_positive, cpu_count, prepare_output, result_fields, start_test
from . import CONF_MODEL, PERFORMANCE_SAMPLE_COUNT, ROI, accuracy, dataset, inference
from .sut import SegmentationPool

MODELS = ("3d-unet-99", "3d-unet-99.9")
SCENARIOS = ("Offline", "SingleStream")
# test execution mode: a handful of cases, a 128^3 window taking tens of seconds on a small CPU
TEST_MIN_QUERIES = {"Offline": 1, "SingleStream": 1, "Server": 1, "MultiStream": 1}


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def run(a) -> int:
    import numpy as np

    if a.model not in MODELS:
        raise UsageError(f"unknown model {a.model!r}", f"use one of {', '.join(MODELS)}")
    if a.scenario not in SCENARIOS:
        raise UsageError(f"3d-unet has no {a.scenario} scenario", f"use one of {', '.join(SCENARIOS)}")
    for name, value in (("--threads", a.threads), ("--max-batchsize", a.max_batchsize), ("--count", a.count)):
        check_positive(name, value)
    out = Path(a.output_dir).resolve()
    audit_config = Path(a.audit_config).resolve() if a.audit_config else None
    rs = settings.RunSettings(
        CONF_MODEL, a.scenario, a.mode, a.execution_mode, a.target_qps, a.target_latency, a.samples
    )
    conf_text = settings.user_conf(rs, TEST_MIN_QUERIES)
    rules = settings.official(CONF_MODEL, a.scenario)
    cases = dataset.Cases(Path(a.dataset_dir), a.count)
    threads, batch = a.threads or cpu_count(), a.max_batchsize or 1
    backend = inference.create(a.backend, a.device, Path(a.model_path), threads)
    prepare_output(out, audit_config)
    (out / "user.conf").write_text(conf_text)
    total = len(cases)
    perf_count = min(total, a.samples or rules.performance_sample_count or PERFORMANCE_SAMPLE_COUNT)
    print(
        f"mlperf_harness: {a.model} {a.backend}/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): {total} "
        f"cases, {perf_count} in memory, {ROI}^3 windows, threads={threads}, window batch={batch}",
        flush=True,
    )
    backend.predict(np.zeros((1, 1, ROI, ROI, ROI), np.float32))  # warm-up, untimed
    pool = SegmentationPool(backend, cases, batch)
    duration = start_test(pool, cases, rs, out, audit_config, total, perf_count)
    detail = logs.read_detail(out / "mlperf_log_detail.txt")
    facts = {
        "sample_count": total,
        "performance_sample_count": perf_count,
        "threads": threads,
        "batch_size": batch,
        "workers": 1,
        "duration_s": round(duration, 3),
        "peak_rss_mib": round(peak_rss_mib(), 1),
        "compliance_audit": audit_config is not None,
    }
    metric = logs.main_metric(detail, a.scenario) if a.mode == "performance" else None
    result = result_fields(a, detail, metric, {"name": backend.name, "version": backend.version}, facts, rules)
    if a.mode == "accuracy":
        s = accuracy.score(out / "mlperf_log_accuracy.json", Path(a.dataset_dir))
        line = accuracy.format_line(s)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "DICE", "value": round(s["mean"], 5), "unit": ""}
        result["accuracy"] = {"mean": s["mean"], "kidney": s["kidney"], "tumor": s["tumor"], "cases": len(s["cases"])}
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'result.json'} (peak RSS {facts['peak_rss_mib']} MiB)", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="run-3d-unet")
    for opt in (
        "model",
        "backend",
        "device",
        "scenario",
        "mode",
        "execution-mode",
        "dataset-dir",
        "model-path",
        "output-dir",
    ):
        p.add_argument(f"--{opt}", required=True)
    p.add_argument("--precision", default="fp32")
    p.add_argument("--target-qps", type=float)
    p.add_argument("--target-latency", type=float)
    for opt in ("threads", "max-batchsize", "count", "samples"):
        p.add_argument(f"--{opt}", type=int)
    p.add_argument("--audit-config")
    p.add_argument("--cache-dir")
    try:
        return run(p.parse_args(argv))
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
