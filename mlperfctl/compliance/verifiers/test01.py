"""TEST01: the answers logged during a performance run (a sample of them, audit.config
accuracy_log_sampling_target) must be the answers of the accuracy run, and the run must perform like
the submission's performance run.

Accuracy: for each sample of the compliance log, only the FIRST element of its payload (decoded with
the dtype, numpy's `byte` by default, as the official verify_accuracy.py) is compared with the accuracy
run's answer for the same qsl_idx; two empty payloads match. Pass: no mismatch and at least one match.
When it fails (non-determinism), the fallback: the accuracy-run entries of the sampled qsl_idx form a
baseline log; the model's accuracy scorer runs on it and on the compliance log (baseline_accuracy.txt,
compliance_accuracy.txt); each accuracy metric must agree within the round's delta (1 %, 0.1 % for
-99.9 models, per-metric values where the round sets them).

Files (the official run_verification.py's): verify_accuracy.txt, verify_performance.txt,
accuracy/mlperf_log_accuracy.json (the compliance log), accuracy/accuracy.txt (empty: the truncation
step appends the log's hash to it; the v6 truncation skips a TEST01 without one),
performance/run_1/mlperf_log_summary.txt and mlperf_log_detail.txt, and in the fallback
accuracy/baseline_accuracy.txt and accuracy/compliance_accuracy.txt.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .. import performance
from ..base import (
    ACCURACY_LOG,
    DETAIL,
    SUMMARY,
    DecodeError,
    Inputs,
    Verdict,
    copy_into,
    decode,
    modern,
    need_file,
    read_accuracy_log,
    same,
    write_text,
)

TEST = "TEST01"
NEEDS = ("performance", "accuracy")  # the submission runs it compares against
DTYPES = ("byte", "float32", "int32", "int64")  # the official --dtype choices
BASELINE_LOG = "mlperf_log_accuracy_baseline.json"


def verify_accuracy(reference_log: Path, test_log: Path, dtype: str = "byte", *, stderr: bool = True) -> str:
    """The text of verify_accuracy.txt (the official default, "fast", mode)."""
    if dtype not in DTYPES:
        raise ValueError(f"TEST01 dtype must be one of {', '.join(DTYPES)}, not {dtype}")
    acc, perf = read_accuracy_log(reference_log), read_accuracy_log(test_log)
    out = ["Verifying accuracy. This might take a while...", "Reading accuracy mode results..."]
    answers: dict[int, str] = {}
    duplicates = acc_mismatch = matched = mismatched = missing = 0
    for sample in acc:
        if sample["qsl_idx"] in answers:
            duplicates += 1
            acc_mismatch += answers[sample["qsl_idx"]] != sample["data"]
        else:
            answers[sample["qsl_idx"]] = sample["data"]
    out.append("Reading performance mode results...")
    try:
        for sample in perf:
            data = decode(sample["data"], dtype)
            if sample["qsl_idx"] in answers:
                matched += 1
                ref = decode(answers[sample["qsl_idx"]], dtype)
                if not ref or not data:
                    mismatched += len(ref) != len(data)
                elif not same(data[0], ref[0]):
                    mismatched += 1
            else:
                missing += 1
            answers[sample["qsl_idx"]] = sample["data"]  # later duplicates compare with this one
    except DecodeError as e:  # the official script dies here with numpy's ValueError
        return "\n".join(out + ([f"ValueError: {e}"] if stderr else [])) + "\n"
    out += [f"num_acc_log_entries = {len(acc)}", f"num_acc_log_duplicate_keys = {duplicates}",
            f"num_acc_log_data_mismatch = {acc_mismatch}", f"num_perf_log_entries = {len(perf)}",
            f"num_perf_log_qsl_idx_match = {matched}", f"num_perf_log_data_mismatch = {mismatched}",
            f"num_missing_qsl_idxs = {missing}",
            "TEST PASS" if mismatched == 0 and matched > 0 else "TEST FAIL", ""]
    return "\n".join(out) + "\n"


def baseline_log(accuracy_log: Path, compliance_log: Path, dest: Path) -> Path:
    """The accuracy run's entries whose qsl_idx the compliance log holds, in the accuracy log's order
    (what the official create_accuracy_baseline.sh makes)."""
    wanted = {e["qsl_idx"] for e in read_accuracy_log(compliance_log)}
    kept = [e for e in read_accuracy_log(accuracy_log) if e["qsl_idx"] in wanted]
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text("[\n" + ",\n".join(json.dumps(e) for e in kept) + ("\n" if kept else "") + "]\n")
    return dest


def _metric_value(pattern: str, text: str) -> float:
    """The last line matching the pattern (the official checker reads every line), 0 if none."""
    value = 0.0
    for line in text.splitlines():
        if m := re.match(pattern, line):
            value = float(m.group(1))
    return value


def fallback_deltas(inp: Inputs, baseline: str, compliance: str) -> tuple[bool, dict]:
    """The checker's non-deterministic rule on the two scorer outputs: (pass, per-metric figures)."""
    bench, ok, figures = inp.bench, True, {}
    for metric in bench.accuracy:
        pattern = inp.round.acc_patterns[metric.key]
        b, c = _metric_value(pattern, baseline), _metric_value(pattern, compliance)
        allowed = bench.delta_percent(metric.key)
        delta = abs(1 - b / c) * 100 if b and c else None
        figures[metric.key] = {"baseline": b, "compliance": c, "delta_percent": delta, "allowed_percent": allowed}
        ok &= delta is not None and delta <= allowed
    return ok, figures


def verify(inp: Inputs, out: Path) -> Verdict:
    """Write out/ (the TEST01 directory) from the runs; the verdict says whether the checker accepts it."""
    if inp.performance_dir is None or inp.accuracy_dir is None:
        raise ValueError("TEST01 needs the submission's performance and accuracy runs")
    comp, dtype, new = inp.compliance_dir, inp.dtype or "byte", modern(inp.round)
    acc_log = need_file(inp.accuracy_dir / ACCURACY_LOG, "TEST01 needs the accuracy run")
    comp_log = need_file(comp / ACCURACY_LOG, "TEST01 compliance run (accuracy log sampling)")
    text = verify_accuracy(acc_log, comp_log, dtype, stderr=new)
    if new:
        perf_text = performance.verify_detail(need_file(inp.performance_dir / DETAIL, "performance run"),
                                              need_file(comp / DETAIL, "TEST01 compliance run"))
    else:
        perf_text = performance.verify_summary(need_file(inp.performance_dir / SUMMARY, "performance run"),
                                               need_file(comp / SUMMARY, "TEST01 compliance run"),
                                               rule="TEST01", extended=False, stderr=False)
    files = [write_text(out / "verify_accuracy.txt", text), write_text(out / "verify_performance.txt", perf_text)]
    files += copy_into(comp, out / "accuracy", ACCURACY_LOG)
    files.append(write_text(out / "accuracy" / "accuracy.txt", ""))
    files += copy_into(comp, out / "performance" / "run_1", SUMMARY, DETAIL)
    accuracy_pass, perf_pass = "TEST PASS" in text, "TEST PASS" in perf_text
    details: dict = {"dtype": dtype, "accuracy_pass": accuracy_pass, "performance_pass": perf_pass}
    lines = [f"Accuracy check pass: {accuracy_pass}", f"Performance check pass: {perf_pass}",
             "TEST01 verification complete"]
    passed = accuracy_pass
    if not accuracy_pass:
        if inp.scorer is None:
            details["fallback"] = "needed, but no accuracy scorer was given"
            passed = False
        else:
            base = baseline_log(acc_log, comp_log, comp / BASELINE_LOG)
            scores = {"baseline_accuracy.txt": inp.scorer(base), "compliance_accuracy.txt": inp.scorer(comp_log)}
            for name, score in scores.items():
                files.append(write_text(out / "accuracy" / name, score))
            passed, details["fallback"] = fallback_deltas(inp, *scores.values())
            lines.append(f"Accuracy fallback (baseline vs compliance score) pass: {passed}")
    return Verdict(TEST, passed and perf_pass, lines, sorted(str(f.relative_to(out)) for f in files), details)
