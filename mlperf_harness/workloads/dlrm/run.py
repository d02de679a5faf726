"""`run --model dlrm-v2-99|dlrm-v2-99.9`: one LoadGen test of DLRM-DCNv2 on the day-23 multi-hot Criteo set, from
the memory-mapped files to result.json (and, in accuracy mode, the AUC line in accuracy.txt).

A LoadGen sample is one aggregated user query; the aggregation trace is written next to the logs as the
reference writes it. Standalone until the workload registry lands: `python -m mlperf_harness.workloads.dlrm.run`
takes the harness `run` options.
"""

import json
import sys
from pathlib import Path

from ... import logs, settings
from ...errors import UsageError
from ...loadgen_run import check_positive, cpu_count, prepare_output, result_fields, start_test
from . import CONF_MODEL, TRACE_FILE, accuracy, dataset, model
from .sut import QueryPool

MODELS = ("dlrm-v2-99", "dlrm-v2-99.9")
SCENARIOS = ("Offline", "Server")
CPU_BATCH = 8  # queries (about 2200 rows) per forward pass on a CPU
GPU_BATCH = 64
# test execution mode: a DLRM-DCNv2 query (about 270 rows) takes about 0.25 s on two cores
TEST_MIN_QUERIES = {"Offline": 16, "Server": 8, "SingleStream": 8, "MultiStream": 4}


def run(a) -> int:
    import torch

    if a.model not in MODELS:
        raise UsageError(f"unknown model {a.model!r}", f"use one of {', '.join(MODELS)}")
    if a.scenario not in SCENARIOS:
        raise UsageError(f"dlrm-v2 has no {a.scenario} scenario", f"use one of {', '.join(SCENARIOS)}")
    if a.backend != "pytorch":
        raise UsageError(f"dlrm-v2 runs on the pytorch backend, not {a.backend}", "pass --backend pytorch")
    for name, value in (("--threads", a.threads), ("--max-batchsize", a.max_batchsize), ("--count", a.count)):
        check_positive(name, value)
    out = Path(a.output_dir).resolve()
    audit_config = Path(a.audit_config).resolve() if a.audit_config else None
    rs = settings.RunSettings(
        CONF_MODEL, a.scenario, a.mode, a.execution_mode, a.target_qps, a.target_latency, a.samples
    )
    conf_text = settings.user_conf(rs, TEST_MIN_QUERIES)
    rules = settings.official(CONF_MODEL, a.scenario)
    queries = dataset.Queries(Path(a.dataset_dir), a.count)
    threads = a.threads or cpu_count()
    batch = a.max_batchsize or (CPU_BATCH if a.device == "cpu" else GPU_BATCH)
    torch.set_num_threads(threads)
    net = model.load(Path(a.model_path), a.device)
    prepare_output(out, audit_config)
    (out / "user.conf").write_text(conf_text)
    dataset.write_trace(out / TRACE_FILE, queries.offsets)
    total = len(queries)
    perf_count = min(total, a.samples or rules.performance_sample_count)
    print(
        f"mlperf_harness: {a.model} pytorch/{a.device} {a.scenario} {a.mode} ({a.execution_mode}): {total} queries "
        f"({int(queries.offsets[-1])} rows), threads={threads}, batch={batch} queries",
        flush=True,
    )
    queries.load([0])
    net.predict(*queries.batch([0])[:2])  # warm-up, untimed
    queries.unload([0])
    pool = QueryPool(net, queries, 1, batch)
    duration = start_test(pool, queries, rs, out, audit_config, total, perf_count)
    detail = logs.read_detail(out / "mlperf_log_detail.txt")
    facts = {
        "sample_count": total,
        "performance_sample_count": perf_count,
        "rows": int(queries.offsets[-1]),
        "threads": threads,
        "batch_size": batch,
        "workers": 1,
        "duration_s": round(duration, 3),
        "compliance_audit": audit_config is not None,
    }
    metric = logs.main_metric(detail, a.scenario) if a.mode == "performance" else None
    result = result_fields(a, detail, metric, {"name": "pytorch", "version": torch.__version__}, facts, rules)
    if a.mode == "accuracy":
        s = accuracy.score(out / "mlperf_log_accuracy.json")
        line = accuracy.format_line(s)
        (out / "accuracy.txt").write_text(line + "\n")
        print(line)
        result["metric"] = {"name": "AUC", "value": round(100.0 * s["auc"], 3), "unit": "%"}
        result["accuracy"] = s
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'result.json'}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    import argparse

    p = argparse.ArgumentParser(prog="run-dlrm-v2")
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
