"""`run`: the one run skeleton every workload goes through, from arguments to result.json.

Check the arguments against the workload's declaration, write user.conf, read the inputs, prepare the output
dir, load the model and the QSL, warm up, answer LoadGen from the worker pool, then write result.json (and in
accuracy mode score the accuracy log into accuracy.txt and judge it: "accuracy_verdict", mlperf_harness.verdict).
What differs per workload are the hooks of its Runner (mlperf_harness.workloads.base); the round (--version) is
resolved here once and handed to it as `Runner.round`. It sits above both the registry (workloads) and the
LoadGen plumbing (loadgen), which imports nothing of workloads."""

import json
import resource
import sys
from pathlib import Path

from . import verdict, workloads
from .errors import UsageError
from .loadgen import lifecycle, logs, settings
from .loadgen.pool import WorkerPool


def peak_rss_mib() -> float:
    """The process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)


def interactive_limits(choice, model: str, loadgen_model: str) -> tuple[float, float]:
    """The Interactive run's (TTFT, TPOT) p99 limits in ms: those of LoadGen's "<model>-interactive" settings, which
    must be the round's (its rulebook's Interactive limits), in a round that has the scenario for the model."""
    rnd = choice.rules
    bench = rnd.benchmark(model) if rnd is not None else None
    if bench is None or "Interactive" not in rnd.listed_scenarios(model):
        where = rnd.version if rnd is not None else choice.version
        raise UsageError(f"{model} has no Interactive scenario in {where}",
                         "pick a round that lists it (--version v5.1 or later for llama2-70b) or --scenario Server")
    want = bench.token_latency_ms.get("Interactive")
    have = settings.official(loadgen_model, "Interactive").token_latencies_ms
    if want is None or have is None or tuple(map(float, want)) != have:
        raise UsageError(f"LoadGen's {loadgen_model}-interactive TTFT/TPOT limits {have} ms are not {rnd.version}'s "
                         f"Interactive limits {want} ms for {model}",
                         f"use the round's LoadGen (mlperfctl build --version {rnd.version})")
    return have


def run(a) -> int:
    workload = workloads.get(a.model)
    workload.check(a.model, a.device, a.backend, a.precision, a.scenario)
    for name, value in (("--threads", a.threads), ("--max-batchsize", a.max_batchsize), ("--count", a.count)):
        lifecycle.check_positive(name, value)
    choice = verdict.choose(a.version, a.model)
    r = workload.runner(a)
    r.round = choice
    r.check()
    out = Path(a.output_dir).resolve()
    audit_config = Path(a.audit_config).resolve() if a.audit_config else None
    rs = settings.RunSettings(
        r.loadgen_model, a.scenario, a.mode, a.execution_mode, a.target_qps, a.target_latency,
        a.performance_sample_count, a.test_query_count,
    )  # fmt: skip
    if a.scenario == "Interactive":
        interactive_limits(choice, a.model, r.loadgen_model)
    conf_text = r.user_conf(settings.user_conf(rs, r.test_min_queries))
    rules = settings.official(r.loadgen_model, a.scenario)
    r.prepare()
    r.threads, r.batch, r.workers = r.defaults()
    lifecycle.prepare_output(out, audit_config)
    (out / "user.conf").write_text(conf_text)
    (out / "mlperf.conf").write_text(settings.mlperf_conf(r.loadgen_model, a.scenario))  # v4.x trees want it
    qsl = r.load(out)
    print(r.banner(), flush=True)
    total = len(qsl)
    perf_count = min(total, a.performance_sample_count or rules.performance_sample_count)
    r.warm_up()
    pool = r.sut() or WorkerPool(r.answerer, r.workers, r.batch, split=r.splitter(), combine=r.combine, what=r.what)
    duration = lifecycle.start_test(pool, qsl, rs, out, audit_config, total, perf_count)
    facts = r.facts({
        "sample_count": total,
        "performance_sample_count": perf_count,
        "threads": r.threads,
        "batch_size": r.batch,
        "workers": r.workers,
        "duration_s": round(duration, 3),
        "peak_rss_mib": peak_rss_mib(),
        "compliance_audit": audit_config is not None,
    })  # fmt: skip
    detail = logs.join_token_early_stopping(logs.read_detail(out / "mlperf_log_detail.txt"))
    perf = a.mode == "performance"
    metric = r.metric(detail) if perf else None
    result = lifecycle.result_fields(a, detail, metric, r.framework(), facts, rules)
    if perf:
        r.performance(detail, result)
    else:
        r.score(out, result)
        judged = verdict.judge(choice, a.model, (out / "accuracy.txt").read_text())
        result["accuracy_verdict"] = judged
        result["validity_notes"] += [f"below the {a.model} accuracy target: {p}" for p in judged["problems"]]
        print(verdict.line(judged), file=sys.stderr, flush=True)
    (out / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out / 'result.json'} (peak RSS {result['peak_rss_mib']} MiB)", file=sys.stderr)
    return 0
