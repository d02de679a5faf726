"""Closed division: the compliance tests the round requires for the benchmark, and what the official
checker reads in each TESTxx directory."""

from __future__ import annotations

import re
from pathlib import Path

from mlperf_rules import Benchmark

from . import accuracy, performance

TEST06_PASS = ("EOS check pass: True", "Sample length check pass: True")
TEST06_FIRST_TOKEN = ("First token check pass: True", "First token check pass: Skipped")
PERF_TESTS = ("TEST01", "TEST04")  # the official checker runs its performance checks on their run_1 logs
RUN_1_FILES = {"mlperf_log_summary.txt", "mlperf_log_detail.txt"}
TEST01_ACC_FILES = {"mlperf_log_accuracy.json", "accuracy.txt", "baseline_accuracy.txt", "compliance_accuracy.txt"}
OPTIONAL_FILES = {"mlperf_log_trace.json", "results.json", ".gitkeep"}  # never counted by the official lists


def _file_list(ctx, d: Path, required: set[str], optional: set[str] = frozenset()) -> bool:
    """The official checker's exact file list: what is missing or extra (bar the optional files)."""
    found = {p.name for p in d.iterdir() if p.is_file()} if d.is_dir() else set()
    diff = sorted((found ^ required) - optional - OPTIONAL_FILES)
    if diff:
        ctx.problem(d, f"file list mismatch ({', '.join(diff)}): needs exactly {', '.join(sorted(required))}")
    return not diff


def check(ctx, base: Path, system_name: str, model_dir: str, scenario: str, bench: Benchmark) -> None:
    for test in bench.compliance:
        d = base / ctx.layout.compliance_dir(system_name, model_dir, scenario, test)
        if not d.is_dir():
            ctx.problem(d, f"missing compliance test {test} (closed division)")
            continue
        needs = []
        if test in ("TEST01", "TEST06"):
            needs.append("verify_accuracy.txt")
        if test in ("TEST01", "TEST04", "TEST05"):
            needs += ["verify_performance.txt", "performance/run_1/mlperf_log_detail.txt"]
        for name in needs:
            if not (d / name).is_file():
                ctx.problem(d / name, "missing compliance file")
        for log_json in sorted(d.rglob("mlperf_log_accuracy.json")):
            accuracy.json_problem(ctx, log_json)
        verify = d / "verify_performance.txt"
        if verify.is_file() and "TEST PASS" not in verify.read_text(errors="replace"):
            ctx.problem(verify, "compliance performance check did not pass (no TEST PASS)")
        run_1 = d / "performance" / "run_1"
        if test in PERF_TESTS and run_1.is_dir():
            _file_list(ctx, run_1, RUN_1_FILES, {"mlperf_log_accuracy.json"})
            if (run_1 / "mlperf_log_detail.txt").is_file():  # seeds, duration, validity, counts, latency
                performance.check(ctx, run_1, "closed", scenario, bench)
        if test == "TEST06":
            _test06(ctx, d / "verify_accuracy.txt")
        if test == "TEST01":
            _test01_accuracy(ctx, d, bench)


def _test06(ctx, verify: Path) -> None:
    if not verify.is_file():
        return
    lines = {line.strip() for line in verify.read_text(errors="replace").splitlines()}
    if not (set(TEST06_FIRST_TOKEN) & lines and set(TEST06_PASS) <= lines):
        ctx.problem(verify, "TEST06 did not pass (needs the first-token, EOS and sample-length pass lines)")


def _test01_accuracy(ctx, d: Path, bench: Benchmark) -> None:
    """verify_accuracy.txt passes, or accuracy/ holds the baseline and compliance scores within the delta."""
    verify = d / "verify_accuracy.txt"
    if not verify.is_file() or "TEST PASS" in verify.read_text(errors="replace"):
        return
    acc = d / "accuracy"
    if acc.is_dir():
        _file_list(ctx, acc, TEST01_ACC_FILES)
    scores = {}
    for name in ("baseline_accuracy.txt", "compliance_accuracy.txt"):
        if not (acc / name).is_file():
            ctx.problem(acc / name, "missing (TEST01 accuracy did not match: the fallback needs both scores)")
            return
        scores[name] = (acc / name).read_text(errors="replace").splitlines()
    for metric in bench.accuracy:
        pattern = re.compile(ctx.round.acc_patterns[metric.key])
        base, comp = (next((float(m.group(1)) for line in lines if (m := pattern.match(line.strip()))), None)
                      for lines in scores.values())
        if not base or not comp:
            ctx.problem(acc, f"TEST01 fallback: no {metric.key} value in the baseline or compliance accuracy")
            continue
        delta = abs(1 - base / comp) * 100
        if delta > bench.delta_percent(metric.key):
            ctx.problem(acc, f"TEST01 fallback: {metric.key} differs by {delta:.3f}% "
                             f"(> {bench.delta_percent(metric.key):g}%)")
