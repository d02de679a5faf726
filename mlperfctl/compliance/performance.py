"""The performance comparison of the official compliance scripts, in its two generations.

`verify_detail`: TEST01 from v5.1 on. Both detail logs must be VALID and free of LoadGen errors (the
official script aborts on an error line); the scenario and, for Server, the target latency must match;
the score (Offline samples/s, SingleStream/MultiStream early-stopping latency, Server completed
samples/s) of the compliance run must lie within ref*(1-t) .. ref*(1+t), inclusive.

`verify_summary`: TEST01 before v5.1 (two-sided, strict), TEST04 in every round (one-sided: the
compliance run must not be faster than ref*(1+t); SingleStream/MultiStream scores are 1e9/latency) and
TEST05 (v4.x: not slower than 5 %).
Both read the summary log line by line as the official scripts do, with their round's patterns.

t is 0.10, or 0.20 when the reference is SingleStream <= 200000 or MultiStream <= 1600000 (compared with
the score as computed, which for TEST04 is already inverted, exactly as the official script does).

Each returns the text of verify_performance.txt. Messages the official script writes with
`sys.exit(...)` (stderr) reach the file only when `stderr` is True (the scripts of v5.1.1 on).
"""

from __future__ import annotations

import re
from pathlib import Path

from mlperf_rules import MS, OFF, SRV, SS

from ..submission.mllog import MLLog

PASS = "TEST PASS"
FAIL_SCORE = "TEST FAIL: Test score invalid"
RESULT_FIELD = {OFF: "result_samples_per_second", SS: "early_stopping_latency_ss",
                MS: "early_stopping_latency_ms", SRV: "result_completed_samples_per_sec"}


class _Exit(Exception):
    """The official script stopped here; the message went to stderr (None: no message)."""

    def __init__(self, message: str | None):
        super().__init__(message)
        self.message = message


def _threshold(scenario: str, ref: float, base: float = 0.10) -> float:
    if (scenario == SS and ref <= 200000) or (scenario == MS and ref <= 1600000):
        return 0.20
    return base


def _num_errors(log: MLLog) -> int:
    recorded = log.get("num_errors")
    return recorded if isinstance(recorded, int) else len(log.errors())


def _parse_detail(path: Path) -> tuple[str, float, object]:
    log = MLLog(path)
    scenario = log.get("effective_scenario")
    if scenario not in RESULT_FIELD:
        raise _Exit(f"KeyError: {scenario!r} (effective_scenario of {path})")
    value = log.get(RESULT_FIELD[scenario])
    if value is None:
        raise _Exit(f"KeyError: {RESULT_FIELD[scenario]!r} is not in {path}")
    if log.get("result_validity") != "VALID":
        raise _Exit(f"TEST FAIL: Invalid results in {path}")
    if _num_errors(log):
        # the official script's warning line refers to an undefined name and aborts with a NameError
        raise _Exit(f"NameError: LoadGen reported {_num_errors(log)} error(s) in {path}")
    return scenario, float(value), log.get("effective_target_latency_ns") if scenario == SRV else None


def verify_detail(reference: Path, test: Path) -> str:
    out = ["Verifying performance."]
    try:
        ref_scenario, ref_score, ref_latency = _parse_detail(reference)
        test_scenario, test_score, test_latency = _parse_detail(test)
        if test_scenario != ref_scenario:
            raise _Exit("TEST FAIL: Test and reference scenarios do not match!")
        if ref_scenario == SRV and test_latency != ref_latency:
            raise _Exit("TEST FAIL: Server target latency mismatch")
    except _Exit as e:
        return "\n".join([*out, e.message]) + "\n"
    out += [f"Reference score = {ref_score}", f"Test score = {test_score}"]
    t = _threshold(ref_scenario, ref_score)
    out.append(PASS if ref_score * (1 - t) <= test_score <= ref_score * (1 + t) else FAIL_SCORE)
    return "\n".join(out) + "\n"


def _summary_patterns(extended: bool) -> dict[str, str]:
    if extended:  # from tag v5.1 (LoadGen prints "90.0th" / "99.0th")
        return {SS: r".*Early stopping (90th|90.0th|99.9th) percentile estimate",
                MS: r".*Early stopping (99th|99.0th) percentile estimate"}
    return {SS: r".*Early stopping 90th percentile estimate", MS: r".*Early stopping 99th percentile estimate"}


def _parse_summary(path: Path, which: str, out: list[str], patterns: dict, invert: bool,
                   ref_latency=None) -> tuple[str, object, object]:
    mode, score, target_latency = "", 0, None
    for line in Path(path).read_text(errors="replace").splitlines(keepends=True):
        if re.match("Scenario", line):
            mode = line.split(": ", 1)[1].strip()
            continue
        if mode in (SS, MS) and re.match(patterns[mode], line):
            score = line.split(": ", 1)[1].strip()
            if invert:
                score = 1e9 / float(score)
            continue
        if mode == SRV:
            if re.match("Completed samples per second", line):
                score = line.split(": ", 1)[1].strip()
                continue
            if re.match("target_latency (ns)", line):  # as written it never matches the summary's line
                target_latency = line.split(": ", 1)[1].strip()
                if which == "test" and target_latency != ref_latency:
                    out.append("TEST FAIL: Server target latency mismatch")
                    raise _Exit(None)
                continue
        if mode == OFF and re.match("Samples per second", line):
            score = line.split(": ", 1)[1].strip()
            continue
        if re.match("Result is", line) and line.split(": ", 1)[1].strip() == "INVALID":
            raise _Exit(f"TEST FAIL: {'Reference' if which == 'reference' else 'Test'} results are invalid")
        if re.match("\\d+ ERROR", line):
            out.append(f"WARNING: {line.split(' ', 1)[0].strip()} ERROR reported in {which} results")
    return mode, score, target_latency


def verify_summary(reference: Path, test: Path, *, rule: str, extended: bool, stderr: bool) -> str:
    """rule "TEST04": scores inverted for SingleStream/MultiStream, pass iff test < ref*(1+t);
    "TEST01" (before v5.1): latencies as printed, ref*(1-t) < test < ref*(1+t);
    "TEST05" (v4.x): base t 0.05; Offline/Server pass iff test > ref*(1-t), the streams iff test < ref*(1+t)."""
    out = ["Verifying performance."]
    patterns = _summary_patterns(extended)
    invert = rule == "TEST04"
    try:
        ref_mode, ref_score, ref_latency = _parse_summary(reference, "reference", out, patterns, invert)
        test_mode, test_score, _ = _parse_summary(test, "test", out, patterns, invert, ref_latency)
        if test_mode != ref_mode:
            raise _Exit("Test and reference scenarios do not match!")
    except _Exit as e:
        if e.message and stderr:
            out.append(e.message)
        return "\n".join(out) + "\n"
    out += [f"reference score = {ref_score}", f"test score = {test_score}"]
    ref, value = float(ref_score), float(test_score)
    t = _threshold(ref_mode, ref, 0.05 if rule == "TEST05" else 0.10)
    if rule == "TEST04":
        ok = value < ref * (1 + t)
    elif rule == "TEST05":
        ok = value > ref * (1 - t) if ref_mode in (OFF, SRV) else "Stream" in ref_mode and value < ref * (1 + t)
    else:
        ok = ref * (1 - t) < value < ref * (1 + t)
    out.append(PASS if ok else FAIL_SCORE)
    return "\n".join(out) + "\n"
