"""The performance run's detail log: validity, scenario, duration, the round's seeds, sample counts,
latency bounds (Server target latency, LLM TTFT/TPOT).

An Interactive folder holds a LoadGen Server run made with the model's "-interactive" settings; the official
checker reads it as a Server run (effective_scenario Server, the result key and the Server latency bound looked
up by it) and allows Server in an Interactive folder only (performance_check.inferred_check). Its TTFT/TPOT are
judged against the Interactive limits (450/40 ms for llama2-70b), as the v5.1 checker does by the folder's
scenario; the modular checker of v6.x looks the limits up by the effective scenario (Server: 2000/200), but a run
under the interactive settings that missed 450/40 is INVALID in LoadGen's own verdict, which both refuse."""

from __future__ import annotations

from pathlib import Path

from mlperf_rules import INT, MS, OFF, SRV, SS, Benchmark

from ..mllog import MLLog


def check(ctx, perf: Path, division: str, scenario: str, bench: Benchmark | None) -> str:
    """Problems go to ctx; returns the result as shown in the table."""
    rnd = ctx.round
    where = perf / "mlperf_log_detail.txt"
    log = MLLog(where)
    if log.bad_lines:
        ctx.problem(where, f"{log.bad_lines} malformed :::MLLOG line(s)")
    for error in log.errors():
        ctx.problem(where, f"LoadGen error: {error}")
    validity = log.get("result_validity")
    if validity != "VALID":
        ctx.problem(where, f"result_validity is {validity or 'missing'}, expected VALID")
    effective = log.get("effective_scenario")
    # an Interactive directory holds a LoadGen Server run made with the model's interactive settings
    if effective != scenario and not (scenario == INT and effective == SRV):
        ctx.problem(where, f"the run's scenario is {effective}, the directory says {scenario}")
    duration = log.get("effective_min_duration_ms")
    if not isinstance(duration, (int, float)) or duration < rnd.min_duration_ms:
        ctx.problem(where, f"min_duration is {duration} ms, a valid run needs >= {rnd.min_duration_ms} ms")
    for key, expected in rnd.seeds.as_dict().items():
        found = log.get(f"effective_{key}")
        if found != expected:
            ctx.problem(where, f"{key} is {found}, {rnd.version} requires {expected}")
    if bench is not None:
        _check_counts(ctx, where, log, division, scenario, bench)
        if division == "closed":
            _check_latency(ctx, where, log, scenario, bench)
    key = rnd.result_field(bench.name if bench else None, scenario) or rnd.result_field(None, SRV)
    value = log.get(key)
    if scenario in (SS, MS) and isinstance(value, (int, float)):
        return f"{value / 1e6:.3f} ms"
    return f"{value:.2f}/s" if isinstance(value, (int, float)) else ""


def _check_counts(ctx, where: Path, log: MLLog, division: str, scenario: str, bench: Benchmark) -> None:
    count = log.get("effective_performance_sample_count")
    if not isinstance(count, int) or count < bench.performance_sample_count:
        ctx.problem(where, f"performance_sample_count is {count}, needs >= {bench.performance_sample_count}")
    spq = log.get("effective_samples_per_query")
    need = bench.offline_min_spq
    if division == "closed" and scenario == OFF and need and (not isinstance(spq, int) or spq < need):
        ctx.problem(where, f"Offline samples_per_query is {spq}, closed needs >= {need}")


def _check_latency(ctx, where: Path, log: MLLog, scenario: str, bench: Benchmark) -> None:
    if scenario in (SRV, INT) and bench.server_latency_ms is not None:  # the checker's Server bound, by effective
        target = log.get("effective_target_latency_ns")
        limit = bench.server_latency_ms * 1e6
        if isinstance(target, (int, float)) and target > limit:
            ctx.problem(where, f"{scenario} target latency {target / 1e6:g} ms exceeds {bench.name}'s "
                               f"{bench.server_latency_ms:g} ms bound")
    limits = bench.token_latency_ms.get(scenario) or (bench.token_latency_ms.get("*") if scenario != OFF else None)
    if not limits:
        return
    ttft, tpot = limits
    for key, limit, what in (("result_first_token_99.00_percentile_latency_ns", ttft, "TTFT"),
                             ("result_time_per_output_token_99.00_percentile_ns", tpot, "TPOT")):
        value = log.get(key)
        if not isinstance(value, (int, float)):
            ctx.problem(where, f"{key} is missing (token latencies are required for {bench.name})")
        elif value >= limit * 1e6:
            ctx.problem(where, f"p99 {what} {value / 1e6:g} ms is not below {limit:g} ms ({scenario})")
