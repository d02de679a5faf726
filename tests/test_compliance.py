"""Compliance runs and their verification, on real LoadGen logs.

tests/data/tiny_sut.py (resnet50 rules) and tests/data/tiny_llm_sut.py (llama2-70b rules, int32 tokens,
FirstTokenComplete) run mlperf_loadgen 6.0.17 in-process, with the audit.config mlperfctl writes from the
rulebook copied into LoadGen's working directory, as the harness does. The expected verify_*.txt texts
are the official run_verification.py outputs for such logs (checked against the official scripts of
mlcommons/inference; the official TEST01 verify_performance.txt also carries two timestamped log-reader
INFO lines, which the checker does not read).
"""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules
from mlperfctl import compliance, submission
from mlperfctl.compliance import performance, verifiers
from mlperfctl.compliance.base import Inputs
from mlperfctl.compliance.verifiers import test01
from mlperfctl.errors import UserError
from mlperfctl.submission import MLLog
from mlperfctl.submission import check as submission_check

DATA = Path(__file__).parent / "data"
SYSTEM = "box_cpu"
R = mlperf_rules.get_round  # a round by name
RESNET_CONF = "resnet50.Offline.target_qps = 120000\nresnet50.Offline.min_duration = 200\n"
LLM_CONF = "llama2-70b.Server.target_qps = 200\nllama2-70b.Offline.target_qps = 1000\n"


def tiny(out: Path, mode: str, conf: Path, audit: str | None = None, answers: str = "normal") -> Path:
    cmd = [sys.executable, str(DATA / "tiny_sut.py"), str(out), mode, str(conf), "--answers", answers]
    if audit is not None:
        config = out.parent / f"{out.name}.audit.config"
        config.write_text(audit)
        cmd += ["--audit-config", str(config)]
    subprocess.run(cmd, check=True)
    return out


def tiny_llm(out: Path, conf: Path, scenario: str, audit: str, defect: str = "none") -> Path:
    config = out.parent / f"{out.name}.audit.config"
    config.write_text(audit)
    subprocess.run([sys.executable, str(DATA / "tiny_llm_sut.py"), str(out), str(conf), "--scenario", scenario,
                    "--audit-config", str(config), "--defect", defect], check=True)
    return out


def score(log: Path) -> str:
    """The TEST01 fallback's scorer: the model's accuracy script, run as a command (as in a container)."""
    return subprocess.run([sys.executable, str(DATA / "tiny_sut.py"), "score", str(log)], check=True,
                          capture_output=True, text=True).stdout


def as_600s(run: Path) -> Path:
    """A real 200 ms run presented as the 600 s run the rules want (see tests/test_submission.py)."""
    for name in ("mlperf_log_detail.txt",):
        lines = []
        for line in (run / name).read_text().splitlines():
            if line.startswith(":::MLLOG") and json.loads(line[8:])["key"] in ("requested_min_duration_ms",
                                                                                 "effective_min_duration_ms"):
                record = json.loads(line[8:])
                record["value"] = 600000
                line = ":::MLLOG " + json.dumps(record)
            lines.append(line)
        (run / name).write_text("\n".join(lines) + "\n")
    summary = run / "mlperf_log_summary.txt"
    summary.write_text(summary.read_text().replace("min_duration (ms): 200\n", "min_duration (ms): 600000\n"))
    if (run / "user.conf").exists():
        (run / "user.conf").write_text((run / "user.conf").read_text().replace("= 200", "= 600000"))
    return run


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("compliance-runs")
    conf, fast, llm = base / "user.conf", base / "fast.conf", base / "llm.conf"
    conf.write_text(RESNET_CONF)
    fast.write_text(RESNET_CONF.replace("= 200", "= 100"))  # half the hold: about twice the samples/s
    llm.write_text(LLM_CONF)
    t01, t04, t06 = (compliance.audit_config_text(t, m, rnd=R("v6.1")) for t, m in
                     (("TEST01", "resnet50"), ("TEST04", "resnet50"), ("TEST06", "llama2-70b-99.9")))
    r = {
        "perf": as_600s(tiny(base / "perf", "performance", conf)),
        "acc": tiny(base / "acc", "accuracy", conf),
        "t01": as_600s(tiny(base / "t01", "performance", conf, t01)),
        "t01_other": as_600s(tiny(base / "t01-other", "performance", conf, t01, "other-wrong")),
        "t01_worse": as_600s(tiny(base / "t01-worse", "performance", conf, t01, "worse")),
        "t04": as_600s(tiny(base / "t04", "performance", conf, t04)),
        "t04_fast": as_600s(tiny(base / "t04-fast", "performance", fast, t04)),
        "t05": as_600s(tiny(base / "t05", "performance", conf, compliance.audit_config_text("TEST05", "resnet50",
                                                                                           rnd=R("v4.1")))),
        "t06_server": tiny_llm(base / "t06-server", llm, "Server", t06),
        "t06_offline": tiny_llm(base / "t06-offline", llm, "Offline", t06),
        "t06_two_eos": tiny_llm(base / "t06-two-eos", llm, "Server", t06, "two-eos"),
        "t06_first": tiny_llm(base / "t06-first", llm, "Server", t06, "first-token"),
        "t06_count": tiny_llm(base / "t06-count", llm, "Offline", t06, "count"),
    }
    src = base / "harness-src" / "mlperf_harness"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text('"""harness"""\n')
    r["src"] = src.parent
    return r


def inputs(runs, comp, *, version="v6.1", model="resnet50", scenario="Offline", **kw) -> Inputs:
    return Inputs(mlperf_rules.get_round(version), model, scenario, runs["perf"], runs["acc"], runs[comp], **kw)


def entries(path: Path) -> list[dict]:
    return json.loads(path.read_text())


def detail(run: Path, key: str):
    return MLLog(run / "mlperf_log_detail.txt").get(key)


def summary_value(run: Path, label: str) -> str:
    return next(line.split(": ", 1)[1].strip() for line in (run / "mlperf_log_summary.txt").read_text().splitlines()
                if line.startswith(label))


# -- audit.config ---------------------------------------------------------------------------------------------
def test_audit_config_text_is_the_rulebooks_for_every_round_and_model():
    for version in mlperf_rules.versions():
        rnd = mlperf_rules.get_round(version)
        for model in mlperf_rules.OUR_MODELS:
            if rnd.benchmark(model) is None or model in mlperf_rules.OPEN_ONLY:
                continue
            runs = compliance.compliance_runs(model, rnd=rnd)
            assert [r.test for r in runs] == list(rnd.compliance_tests(model))
            for run in runs:
                assert run.audit_config == "".join(f"{k} = {v}\n" for k, v in rnd.audit_config(run.test, model).items())
                assert run.mode == "performance"
    resnet = {r.test: r for r in compliance.compliance_runs("resnet50", rnd=R("v6.1"))}
    assert resnet["TEST01"].audit_config == ("*.*.mode = 2\n*.*.accuracy_log_rng_seed = 720381539243781796\n"
                                             "*.*.accuracy_log_sampling_target = 4096\n")
    assert resnet["TEST01"].needs == ("performance", "accuracy")
    assert resnet["TEST04"].outputs == ("mlperf_log_summary.txt", "mlperf_log_detail.txt")
    lines = resnet["TEST04"].audit_config.splitlines()
    assert "*.Offline.performance_issue_same_index = 3" in lines and "*.Server.performance_issue_unique = 0" in lines
    assert "stable-diffusion-xl.Offline.min_query_count = 500" in lines
    assert "stable-diffusion-xl.Offline.min_query_count = 500" not in compliance.audit_config_text(
        "TEST04", "resnet50", rnd=R("v4.0"))
    assert [r.test for r in compliance.compliance_runs("resnet50", rnd=R("v4.1"))] == ["TEST01", "TEST04", "TEST05"]
    assert compliance.audit_config_text("TEST05", "resnet50", rnd=R("v4.1")) == "*.*.test05 = 1\n"
    assert compliance.audit_config_text("TEST06", "llama2-70b-99.9", rnd=R("v6.1")) == (
        "*.*.mode = 2\n*.*.accuracy_log_rng_seed = 720381539243781796\n*.*.accuracy_log_sampling_target = 100\n"
        "*.*.min_query_count = 100\n*.*.min_duration = 0\n*.*.sample_concatenate_permutation = 0\n")
    assert "accuracy_log_sampling_target = 128" in compliance.audit_config_text("TEST01", "sdxl", rnd=R("v6.1"))


def test_write_audit_config_and_bad_names(tmp_path):
    path = compliance.write_audit_config(tmp_path, "TEST01", "resnet50", rnd=R("v6.1"))
    assert path == tmp_path / "audit.config" and "sampling_target = 4096" in path.read_text()
    with pytest.raises(UserError, match="no TEST01 audit.config for llama2-70b-99.9 in v6.1"):
        compliance.audit_config_text("TEST01", "llama2-70b-99.9", rnd=R("v6.1"))
    with pytest.raises(UserError, match="no v6.1 rules for model 'gptj-99'"):
        compliance.compliance_runs("gptj-99", rnd=R("v6.1"))


def test_loadgen_ran_with_the_audit_config(runs):
    """LoadGen read the audit.config from its working directory (the effective settings show it) and the
    run directories hold no audit.config afterwards."""
    assert detail(runs["t01"], "effective_accuracy_log_sampling_target") == 4096
    assert detail(runs["t01"], "effective_accuracy_log_rng_seed") == 720381539243781796
    assert detail(runs["t01"], "effective_test_mode") == "PerformanceOnly"
    assert len(entries(runs["t01"] / "mlperf_log_accuracy.json")) > 1000  # accuracy logging in performance mode
    assert detail(runs["perf"], "effective_accuracy_log_sampling_target") == 0
    assert entries(runs["perf"] / "mlperf_log_accuracy.json") == []
    assert detail(runs["t04"], "effective_performance_issue_same_index") == 3
    assert detail(runs["t04"], "effective_performance_issue_same") is True
    assert detail(runs["t06_server"], "effective_min_query_count") == 100
    assert detail(runs["t06_server"], "effective_sample_concatenate_permutation") is False
    for run in runs.values():
        assert not (run / "audit.config").exists()


# -- TEST01 ---------------------------------------------------------------------------------------------------
def verify_accuracy_text(n_acc, n_perf, matched, mismatched, missing=0) -> str:
    return ("Verifying accuracy. This might take a while...\nReading accuracy mode results...\n"
            "Reading performance mode results...\n"
            f"num_acc_log_entries = {n_acc}\nnum_acc_log_duplicate_keys = 0\nnum_acc_log_data_mismatch = 0\n"
            f"num_perf_log_entries = {n_perf}\nnum_perf_log_qsl_idx_match = {matched}\n"
            f"num_perf_log_data_mismatch = {mismatched}\nnum_missing_qsl_idxs = {missing}\n"
            f"{'TEST PASS' if mismatched == 0 and matched else 'TEST FAIL'}\n\n")


def test_test01_passes_and_writes_the_official_files(runs, tmp_path):
    out = tmp_path / "TEST01"
    verdict = test01.verify(inputs(runs, "t01"), out)
    n = len(entries(runs["t01"] / "mlperf_log_accuracy.json"))
    assert (out / "verify_accuracy.txt").read_text() == verify_accuracy_text(50000, n, n, 0)
    assert (out / "verify_performance.txt").read_text() == (
        "Verifying performance.\n"
        f"Reference score = {float(detail(runs['perf'], 'result_samples_per_second'))}\n"
        f"Test score = {float(detail(runs['t01'], 'result_samples_per_second'))}\nTEST PASS\n")
    assert verdict.passed and verdict.lines == ["Accuracy check pass: True", "Performance check pass: True",
                                                "TEST01 verification complete"]
    assert verdict.files == ["accuracy/accuracy.txt", "accuracy/mlperf_log_accuracy.json",
                             "performance/run_1/mlperf_log_detail.txt", "performance/run_1/mlperf_log_summary.txt",
                             "verify_accuracy.txt", "verify_performance.txt"]
    assert sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()) == verdict.files
    assert (out / "accuracy" / "accuracy.txt").read_text() == ""  # there for the truncation's hash line
    assert (out / "accuracy" / "mlperf_log_accuracy.json").read_bytes() == (
        runs["t01"] / "mlperf_log_accuracy.json").read_bytes()


def test_test01_fallback_when_answers_differ_but_accuracy_does_not(runs, tmp_path):
    """Other bytes for the samples that were wrong anyway: the first-element comparison fails, the
    baseline and compliance scores agree, the checker's delta rule passes."""
    out = tmp_path / "TEST01"
    verdict = test01.verify(inputs(runs, "t01_other", scorer=score), out)
    comp = entries(runs["t01_other"] / "mlperf_log_accuracy.json")
    # a sample logged again is compared with its previous logged answer (as the official script does):
    # each wrong sample mismatches once
    wrong = len({e["qsl_idx"] for e in comp if e["qsl_idx"] % 200 >= 153})
    assert wrong and (out / "verify_accuracy.txt").read_text() == verify_accuracy_text(50000, len(comp), len(comp),
                                                                                        wrong)
    assert verdict.lines[0] == "Accuracy check pass: False" and verdict.passed
    wanted = {e["qsl_idx"] for e in comp}
    baseline = [e for e in entries(runs["acc"] / "mlperf_log_accuracy.json") if e["qsl_idx"] in wanted]
    acc = out / "accuracy"
    assert (acc / "baseline_accuracy.txt").read_text() == score_of(baseline)
    assert (acc / "compliance_accuracy.txt").read_text() == score(runs["t01_other"] / "mlperf_log_accuracy.json")
    figures = verdict.details["fallback"]["acc"]
    assert figures["allowed_percent"] == 1.0 and figures["delta_percent"] < 1.0
    assert sorted(p.name for p in acc.iterdir()) == ["accuracy.txt", "baseline_accuracy.txt",
                                                     "compliance_accuracy.txt", "mlperf_log_accuracy.json"]


def score_of(log_entries) -> str:
    good = sum(int.from_bytes(bytes.fromhex(e["data"]), "little") == e["qsl_idx"] % 1000 for e in log_entries)
    return f"accuracy={100 * good / len(log_entries):.3f}%, good={good}, total={len(log_entries)}\n"


def test_test01_fallback_fails_when_accuracy_drops(runs, tmp_path):
    verdict = test01.verify(inputs(runs, "t01_worse", scorer=score), tmp_path / "TEST01")
    figures = verdict.details["fallback"]["acc"]
    assert not verdict.passed and figures["delta_percent"] > 1.0
    assert verdict.lines[-1] == "Accuracy fallback (baseline vs compliance score) pass: False"


def test_test01_fallback_without_a_scorer_fails_and_says_so(runs, tmp_path):
    verdict = test01.verify(inputs(runs, "t01_other"), tmp_path / "TEST01")
    assert not verdict.passed and "no accuracy scorer" in verdict.details["fallback"]
    assert not (tmp_path / "TEST01" / "accuracy" / "baseline_accuracy.txt").exists()


def test_test01_generations_per_round(runs, tmp_path):
    """v5.0 compares the summary logs (two-sided, strict; the score as printed); v5.1 the detail logs."""
    v50 = test01.verify(inputs(runs, "t01", version="v5.0"), tmp_path / "v50")
    assert (tmp_path / "v50" / "verify_performance.txt").read_text() == (
        "Verifying performance.\n"
        f"reference score = {summary_value(runs['perf'], 'Samples per second')}\n"
        f"test score = {summary_value(runs['t01'], 'Samples per second')}\nTEST PASS\n")
    assert v50.passed
    test01.verify(inputs(runs, "t01", version="v5.1"), tmp_path / "v51")
    assert (tmp_path / "v51" / "verify_performance.txt").read_text().splitlines()[1].startswith("Reference score = ")


def test_test01_performance_mismatch_fails(runs, tmp_path):
    """A compliance run twice as fast as the submission's performance run is outside 10 %."""
    runs_fast = {**runs, "t01": runs["t04_fast"]}  # any valid run with another score stands in
    verdict = test01.verify(inputs(runs_fast, "t01"), tmp_path / "TEST01")
    assert not verdict.passed and verdict.lines[1] == "Performance check pass: False"
    assert (tmp_path / "TEST01" / "verify_performance.txt").read_text().endswith("TEST FAIL: Test score invalid\n")


def test_test01_dtype_rules(tmp_path):
    """Only the first element counts; float32 NaN never matches; a payload that does not divide into the
    dtype aborts the official script (no TEST PASS)."""
    def log(name, *payloads):
        path = tmp_path / name
        path.write_text(json.dumps([{"seq_id": i, "qsl_idx": i, "data": d} for i, d in enumerate(payloads)]))
        return path

    ref = log("ref.json", "01000000AA", "0000C07F", "", "05")
    same_first = log("a.json", "01000000BB", "0000C07F", "", "05")
    text = test01.verify_accuracy(ref, same_first, "byte")
    assert "num_perf_log_data_mismatch = 0\n" in text and "TEST PASS" in text
    assert "num_perf_log_data_mismatch = 0\n" in test01.verify_accuracy(ref, log("b.json", "01000000", "0000C07F"),
                                                                       "byte")
    nan = test01.verify_accuracy(log("c.json", "0000C07F"), log("d.json", "0000C07F"), "float32")
    assert "num_perf_log_data_mismatch = 1\n" in nan and "TEST FAIL" in nan
    empty = test01.verify_accuracy(ref, log("e.json", "", "", "00"), "byte")
    assert "num_perf_log_data_mismatch = 3\n" in empty  # one side empty, the other not: a mismatch
    broken = test01.verify_accuracy(ref, log("f.json", "010000"), "float32")
    assert "TEST PASS" not in broken and broken.endswith("ValueError: buffer size must be a multiple of element size\n")
    assert "ValueError" not in test01.verify_accuracy(ref, log("g.json", "010000"), "float32", stderr=False)
    with pytest.raises(ValueError, match="dtype must be one of byte, float32, int32, int64"):
        test01.verify_accuracy(ref, ref, "uint8")


# -- TEST04 ---------------------------------------------------------------------------------------------------
def test_test04_passes_when_not_faster_and_fails_when_faster(runs, tmp_path):
    out = tmp_path / "ok" / "TEST04"
    verdict = verifiers.get("TEST04").verify(inputs(runs, "t04"), out)
    assert (out / "verify_performance.txt").read_text() == (
        "Verifying performance.\n"
        f"reference score = {summary_value(runs['perf'], 'Samples per second')}\n"
        f"test score = {summary_value(runs['t04'], 'Samples per second')}\nTEST PASS\n")
    assert verdict.passed and verdict.lines == ["Performance check pass: True", "TEST04 verification complete"]
    assert verdict.files == ["performance/run_1/mlperf_log_detail.txt", "performance/run_1/mlperf_log_summary.txt",
                             "verify_performance.txt"]
    fast = verifiers.get("TEST04").verify(inputs(runs, "t04_fast"), tmp_path / "fast" / "TEST04")
    assert float(summary_value(runs["t04_fast"], "Samples per second")) > 1.1 * float(
        summary_value(runs["perf"], "Samples per second"))
    assert not fast.passed and fast.lines[0] == "Performance check pass: False"
    assert (tmp_path / "fast" / "TEST04" / "verify_performance.txt").read_text().endswith(
        "TEST FAIL: Test score invalid\n")


def test_test05_compares_like_the_v4_script(runs, tmp_path):
    """TEST05 (v4.x only) swaps in the test05 seeds. LoadGen reads `test05` from audit.config only up to
    the 4.1 line (since early 2025 only from its built-in mlperf.conf), so LoadGen 6.0.17 keeps the normal
    seeds here: a v4.1 TEST05 run needs v4.1's LoadGen, which the round's LoadGen pin provides."""
    assert detail(runs["t05"], "effective_qsl_rng_seed") == mlperf_rules.get_round("v6.1").seeds.qsl
    verdict = verifiers.get("TEST05").verify(inputs(runs, "t05", version="v4.1"), tmp_path / "TEST05")
    ref, test = summary_value(runs["perf"], "Samples per second"), summary_value(runs["t05"], "Samples per second")
    text = (tmp_path / "TEST05" / "verify_performance.txt").read_text()
    assert text.startswith(f"Verifying performance.\nreference score = {ref}\ntest score = {test}\n")
    # both are real timed runs of the same SUT: on a busy machine the test run may be the slower one. The v4
    # script's Offline rule: pass iff test > ref * 0.95; far on either side the verdict is certain
    last = text.splitlines()[-1]
    assert last in ("TEST PASS", "TEST FAIL: Test score invalid")
    if float(test) >= float(ref):
        assert last == "TEST PASS"
    if float(test) < 0.9 * float(ref):
        assert last == "TEST FAIL: Test score invalid"
    assert verdict.passed == (last == "TEST PASS")
    assert verdict.lines == [f"Performance check pass: {verdict.passed}", "TEST05 verification complete"]


SUMMARY = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : {scenario}
Mode     : PerformanceOnly
{score_line}
Result is : {validity}
{errors}"""


def summary(tmp_path, name, scenario, score_line, validity="VALID", errors=""):
    path = tmp_path / name
    path.write_text(SUMMARY.format(scenario=scenario, score_line=score_line, validity=validity, errors=errors))
    return path


def test_summary_comparison_rules(tmp_path):
    """The official summary-log script's rules, on summary logs written like LoadGen's."""
    ss = " * Early stopping 90.0th percentile estimate: {}"
    ref = summary(tmp_path, "ref", "SingleStream", ss.format(1000000))
    slower = summary(tmp_path, "slow", "SingleStream", ss.format(1050000))
    faster = summary(tmp_path, "fast", "SingleStream", ss.format(500000))
    text = performance.verify_summary(ref, faster, rule="TEST04", extended=True, stderr=True)
    assert text == ("Verifying performance.\nreference score = 1000.0\ntest score = 2000.0\n"
                    "TEST FAIL: Test score invalid\n")
    assert performance.verify_summary(ref, slower, rule="TEST04", extended=True, stderr=True).endswith("TEST PASS\n")
    # the pre-v5.1 patterns do not know LoadGen's "90.0th": no score found, 0 against 0 fails
    assert performance.verify_summary(ref, slower, rule="TEST04", extended=False, stderr=True).endswith(
        "reference score = 0\ntest score = 0\nTEST FAIL: Test score invalid\n")
    # TEST01 before v5.1: latencies as printed, strict two-sided 10 %
    assert performance.verify_summary(ref, slower, rule="TEST01", extended=True, stderr=False).endswith(
        "reference score = 1000000\ntest score = 1050000\nTEST PASS\n")
    invalid = summary(tmp_path, "invalid", "SingleStream", ss.format(1000000), "INVALID", "1 ERROR encountered.\n")
    assert performance.verify_summary(ref, invalid, rule="TEST04", extended=True, stderr=True) == (
        "Verifying performance.\nTEST FAIL: Test results are invalid\n")
    assert performance.verify_summary(ref, invalid, rule="TEST04", extended=True, stderr=False) == (
        "Verifying performance.\n")
    errors = summary(tmp_path, "errors", "SingleStream", ss.format(1000000), errors="2 ERROR encountered.\n")
    assert performance.verify_summary(ref, errors, rule="TEST04", extended=True, stderr=True) == (
        "Verifying performance.\nWARNING: 2 ERROR reported in test results\nreference score = 1000.0\n"
        "test score = 1000.0\nTEST PASS\n")
    offline = summary(tmp_path, "off", "Offline", "Samples per second: 100")
    assert performance.verify_summary(ref, offline, rule="TEST04", extended=True, stderr=True) == (
        "Verifying performance.\nTest and reference scenarios do not match!\n")
    # TEST05 (v4.x): Offline may be faster, not more than 5 % slower
    off_ref = summary(tmp_path, "off-ref", "Offline", "Samples per second: 100")
    for value, ok in (("200", True), ("96", True), ("94", False)):
        test = summary(tmp_path, f"off-{value}", "Offline", f"Samples per second: {value}")
        assert performance.verify_summary(off_ref, test, rule="TEST05", extended=False,
                                          stderr=False).endswith("TEST PASS\n") is ok


def test_detail_comparison_refuses_invalid_and_erroneous_logs(runs, tmp_path):
    bad = tmp_path / "bad"
    shutil.copytree(runs["t01"], bad)
    text = (bad / "mlperf_log_detail.txt").read_text().replace('"result_validity", "value": "VALID"',
                                                               '"result_validity", "value": "INVALID"')
    (bad / "mlperf_log_detail.txt").write_text(text)
    out = performance.verify_detail(runs["perf"] / "mlperf_log_detail.txt", bad / "mlperf_log_detail.txt")
    assert out == f"Verifying performance.\nTEST FAIL: Invalid results in {bad / 'mlperf_log_detail.txt'}\n"
    other = tmp_path / "other"
    shutil.copytree(runs["t01"], other)
    text = (other / "mlperf_log_detail.txt").read_text().replace('"effective_scenario", "value": "Offline"',
                                                                 '"effective_scenario", "value": "Server"')
    text = text.replace('"result_samples_per_second"', '"result_completed_samples_per_sec"')
    (other / "mlperf_log_detail.txt").write_text(text)
    assert performance.verify_detail(runs["perf"] / "mlperf_log_detail.txt", other / "mlperf_log_detail.txt") == (
        "Verifying performance.\nTEST FAIL: Test and reference scenarios do not match!\n")


# -- TEST06 ---------------------------------------------------------------------------------------------------
def t06(runs, run, scenario):
    return inputs(runs, run, model="llama2-70b-99.9", scenario=scenario)


@pytest.mark.parametrize(("run", "scenario", "expected", "passed"), [
    ("t06_server", "Server", ("True", "True", "True"), True),
    ("t06_offline", "Offline", ("Skipped", "True", "True"), True),
    ("t06_two_eos", "Server", ("True", "False", "True"), False),
    ("t06_first", "Server", ("False", "True", "True"), False),
    ("t06_count", "Offline", ("Skipped", "True", "False"), False),
])
def test_test06_checks(runs, tmp_path, run, scenario, expected, passed):
    out = tmp_path / "TEST06"
    verdict = verifiers.get("TEST06").verify(t06(runs, run, scenario), out)
    first, eos, length = expected
    text = (f"First token check pass: {first}\nEOS check pass: {eos}\nSample length check pass: {length}\n"
            f"TEST06 verification {'complete' if passed else 'failed'}\n")
    assert (out / "verify_accuracy.txt").read_text() == text
    assert verdict.passed is passed and verdict.lines == text.splitlines()
    assert verdict.files == ["accuracy/mlperf_log_accuracy.json", "verify_accuracy.txt"]
    assert verdict.details["dtype"] == "int32" and verdict.details["samples"] == 100


def test_test06_eos_scan_and_dtype_per_round(runs, tmp_path):
    eos = verifiers.get("TEST06").eos_ok
    hexed = [{"data": "".join(t.to_bytes(4, "little").hex() for t in tokens)} for tokens in ([5, 2, 2],)]
    assert eos(hexed, "int32", 2) is False
    assert eos([{"data": (2).to_bytes(4, "little").hex() * 2}], "int32", 2) is True  # only [eos, eos]: passes
    assert eos([{"data": ""}], "int32", 2) is True
    from mlperfctl.compliance.verifiers import test06
    assert test06.default_dtype(t06(runs, "t06_server", "Server")) == "int32"  # llama2's accuracy-log dtype
    v40 = Inputs(mlperf_rules.get_round("v4.0"), "llama2-70b-99.9", "Server", None, None, runs["t06_server"])
    assert test06.default_dtype(v40) == "int32"
    # read as int64, the int32 tokens pair up: the sample lengths no longer match
    verdict = test06.verify(Inputs(mlperf_rules.get_round("v4.0"), "llama2-70b-99.9", "Server", None, None,
                                   runs["t06_server"], dtype="int64"), tmp_path / "TEST06")
    assert verdict.lines[2] == "Sample length check pass: False"


# -- one scenario, staged for the tree writer --------------------------------------------------------------------
def system_json():
    probed = {"host_processor_model_name": "Test CPU", "host_processors_per_node": "1",
              "host_processor_core_count": "2", "host_memory_capacity": "16 GB", "host_storage_capacity": "500 GB",
              "host_storage_type": "SSD", "operating_system": "Debian 12", "accelerators_per_node": "0",
              "accelerator_model_name": "N/A", "accelerator_memory_capacity": "N/A",
              "accelerator_host_interconnect": "N/A"}
    return submission.sysinfo.system_description(division="closed", submitter="acme", system_name=SYSTEM,
                                                 framework="onnxruntime 1.32.0", probed=probed)


def closed_tree(tmp_path, runs, version="v6.1", t01="t01", t04="t04", scorer=score):
    staging = tmp_path / "staging"
    verdicts = compliance.verify_scenario(staging, rnd=R(version), model="resnet50", scenario="Offline",
                                          performance_dir=runs["perf"], accuracy_dir=runs["acc"],
                                          compliance_dirs={"TEST01": runs[t01], "TEST04": runs[t04]}, scorer=scorer)
    rs = submission.ResultSet(
        model="resnet50", scenario="Offline", performance_dir=runs["perf"], accuracy_dir=runs["acc"],
        measurements=submission.measurements_for("resnet50", "fp32", "resnet50_v1.onnx"),
        readme="# resnet50 Offline\n\n    mlperfctl run --model resnet50\n", ledger={"exit_status": 0},
        compliance={t: staging / t for t in verdicts})
    root = tmp_path / "sub"
    submission.write_results(root, division="closed", submitter="acme", system_name=SYSTEM, system_json=system_json(),
                             results=[rs], src_dir=runs["src"], rnd=R(version))
    if version == "v5.1":
        (root / "closed" / "acme" / "calibration.md").write_text("# Calibration\n\nfp32, none.\n")
    submission.truncate_accuracy_logs(root, tmp_path / "backup")
    return root, verdicts


def test_verify_scenario_stages_every_required_test(runs, tmp_path):
    verdicts = compliance.verify_scenario(tmp_path / "st", rnd=R("v6.1"), model="resnet50", scenario="Offline",
                                          performance_dir=runs["perf"], accuracy_dir=runs["acc"],
                                          compliance_dirs={"TEST01": runs["t01"], "TEST04": runs["t04"]})
    assert list(verdicts) == ["TEST01", "TEST04"] and all(v.passed for v in verdicts.values())
    assert sorted(p.name for p in (tmp_path / "st").iterdir()) == ["TEST01", "TEST04"]  # no work dirs left
    again = compliance.verify_scenario(tmp_path / "st", rnd=R("v6.1"), model="resnet50", scenario="Offline",
                                       performance_dir=runs["perf"], accuracy_dir=runs["acc"],
                                       compliance_dirs={"TEST01": runs["t01_other"], "TEST04": runs["t04"]},
                                       scorer=score)
    assert (tmp_path / "st" / "TEST01" / "accuracy" / "baseline_accuracy.txt").is_file() and again["TEST01"].passed
    kw = dict(rnd=R("v6.1"), model="resnet50", scenario="Offline", performance_dir=runs["perf"],
              accuracy_dir=runs["acc"])
    with pytest.raises(UserError, match="no compliance run for TEST04 \\(v6.1 requires TEST01, TEST04\\)"):
        compliance.verify_scenario(tmp_path / "x", compliance_dirs={"TEST01": runs["t01"]}, **kw)
    with pytest.raises(UserError, match="TEST06 is not a v6.1 compliance test of resnet50"):
        compliance.verify_scenario(tmp_path / "x", compliance_dirs={"TEST01": runs["t01"], "TEST04": runs["t04"],
                                                                    "TEST06": runs["t06_server"]}, **kw)
    assert not (tmp_path / "x").exists()
    with pytest.raises(UserError, match="compliance test TEST07 has no verifier in mlperfctl yet"):
        verifiers.get("TEST07")
    with pytest.raises(UserError, match=re.escape("TEST01 needs the accuracy run: ")):
        compliance.verify_scenario(tmp_path / "y", rnd=R("v6.1"), model="resnet50", scenario="Offline",
                                   performance_dir=runs["perf"], accuracy_dir=tmp_path / "nowhere",
                                   compliance_dirs={"TEST01": runs["t01"], "TEST04": runs["t04"]})


def problems(root, version="v6.1"):
    return [str(p) for p in submission_check.check(root, rnd=R(version)).problems]


def test_closed_tree_with_the_staged_tests_passes_our_checker(runs, tmp_path):
    root, verdicts = closed_tree(tmp_path, runs)
    scen = Path("closed", "acme", "results", SYSTEM, "resnet50", "Offline")
    assert sorted(str(p.relative_to(root / scen / "TEST01")) for p in (root / scen / "TEST01").rglob("*")
                  if p.is_file()) == verdicts["TEST01"].files
    # edge needs SingleStream and MultiStream too (this tree has Offline only); nothing else is wrong
    assert problems(root) == [f"{scen.parent}: missing required scenario(s) for edge: SingleStream, MultiStream"]
    acc_txt = (root / scen / "TEST01" / "accuracy" / "accuracy.txt").read_text()
    assert re.fullmatch(r"hash=[0-9a-f]{64}\n", acc_txt)  # the truncation step hashed TEST01's log too


def test_v51_tree_puts_the_tests_under_compliance(runs, tmp_path):
    root, _ = closed_tree(tmp_path, runs, version="v5.1")
    base = root / "closed" / "acme"
    assert (base / compliance.tree_path(SYSTEM, "resnet50", "Offline", "TEST01", rnd=R("v5.1"))).is_dir()
    assert str(compliance.tree_path(SYSTEM, "resnet50", "Offline", "TEST04", rnd=R("v5.1"))) == \
        f"compliance/{SYSTEM}/resnet50/Offline/TEST04"
    # LoadGen 6.0.17 ran with the v6.1 seeds: our checker reads them in the performance run and, as the official
    # checker does, in the TEST01 and TEST04 performance runs
    seeds, ran = (mlperf_rules.get_round(v).seeds.as_dict() for v in ("v5.1", "v6.1"))
    found = problems(root, "v5.1")
    runs_1 = [f"closed/acme/results/{SYSTEM}/resnet50/Offline/performance/run_1",
              *(f"closed/acme/compliance/{SYSTEM}/resnet50/Offline/{t}/performance/run_1"
                for t in ("TEST01", "TEST04"))]
    for run_1 in runs_1:
        for key, value in ran.items():
            assert f"{run_1}/mlperf_log_detail.txt: {key} is {value}, v5.1 requires {seeds[key]}" in found, found
    assert f"closed/acme/results/{SYSTEM}/resnet50: missing required scenario(s) for edge: SingleStream, " \
           "MultiStream" in found
    assert len(found) == 1 + 3 * len(ran), found


def test_failing_tests_are_what_our_checker_reports(runs, tmp_path):
    root, verdicts = closed_tree(tmp_path, runs, t01="t01_worse", t04="t04_fast")
    assert not verdicts["TEST01"].passed and not verdicts["TEST04"].passed
    scen = Path("closed", "acme", "results", SYSTEM, "resnet50", "Offline")
    found = problems(root)
    delta = verdicts["TEST01"].details["fallback"]["acc"]["delta_percent"]
    assert f"{scen / 'TEST01' / 'accuracy'}: TEST01 fallback: acc differs by {delta:.3f}% (> 1%)" in found
    assert f"{scen / 'TEST04' / 'verify_performance.txt'}: compliance performance check did not pass " \
           "(no TEST PASS)" in found


def test_verdict_summaries_for_the_results_table(runs, tmp_path):
    verdicts = compliance.verify_scenario(tmp_path / "st", rnd=R("v6.1"), model="resnet50", scenario="Offline",
                                          performance_dir=runs["perf"], accuracy_dir=runs["acc"],
                                          compliance_dirs={"TEST01": runs["t01_worse"], "TEST04": runs["t04_fast"]},
                                          scorer=score)
    assert verdicts["TEST01"].summary == "fail (Accuracy check pass: False)"
    assert verdicts["TEST04"].summary == "fail (Performance check pass: False)"
    assert json.loads(json.dumps(verdicts["TEST04"].to_dict()))["passed"] is False
    two_eos = compliance.verify_scenario(tmp_path / "llm", rnd=R("v6.1"), model="llama2-70b-99.9", scenario="Server",
                                         performance_dir=None, accuracy_dir=None,
                                         compliance_dirs={"TEST06": runs["t06_two_eos"]})
    assert two_eos["TEST06"].summary == "fail (EOS check pass: False)"


def test_our_checker_reads_the_staged_test06(runs, tmp_path):
    """The TEST06 folder as the tree has it (v6.1: in the scenario directory): our checker's compliance part
    accepts the passing run and names the failing one."""
    from mlperfctl.submission.check import Context, Report
    from mlperfctl.submission.check import compliance as check_compliance

    rnd = mlperf_rules.get_round("v6.1")
    for run, ok in (("t06_server", True), ("t06_two_eos", False)):
        base = tmp_path / run / "closed" / "acme"
        staged = base / compliance.tree_path(SYSTEM, "llama2-70b-99.9", "Server", "TEST06", rnd=R("v6.1"))
        verdicts = compliance.verify_scenario(staged.parent, rnd=R("v6.1"), model="llama2-70b-99.9",
                                              scenario="Server", performance_dir=None, accuracy_dir=None,
                                              compliance_dirs={"TEST06": runs[run]})
        ctx = Context(tmp_path / run, rnd, False, False, Report(tmp_path / run, "v6.1"))
        check_compliance.check(ctx, base, SYSTEM, "llama2-70b-99.9", "Server", rnd.benchmark("llama2-70b-99.9"))
        assert verdicts["TEST06"].passed is ok
        assert [str(p) for p in ctx.report.problems] == ([] if ok else [
            f"closed/acme/results/{SYSTEM}/llama2-70b-99.9/Server/TEST06/verify_accuracy.txt: TEST06 did not pass "
            "(needs the first-token, EOS and sample-length pass lines)"])
