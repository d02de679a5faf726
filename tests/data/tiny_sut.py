"""Run real LoadGen (resnet50 rules from the embedded mlperf.conf) against an in-process SUT that
answers from memory, and leave a harness-style output directory.

usage: tiny_sut.py OUT_DIR performance|accuracy USER_CONF [--scenario S] [--audit-config FILE] [--answers A]
       tiny_sut.py score MLPERF_LOG_ACCURACY_JSON     (the accuracy script: prints what accuracy.txt holds)

The SUT answers each sample with a 4-byte "class id": right (index % 1000) for 153 of every 200
samples, so accuracy.txt (computed from the real mlperf_log_accuracy.json) says 76.500%. In
Offline performance mode it holds the answers for the configured min_duration, so LoadGen's
min-duration rule is met and the result is VALID; in SingleStream/MultiStream performance mode each
query takes --query-ms (1 ms; set the target latency below that in user.conf, so LoadGen issues enough
queries).

--audit-config copies the file into OUT_DIR as audit.config and runs LoadGen there (a compliance run,
as the harness does it); --answers changes the answers for compliance tests: "other-wrong" answers
the wrong samples with another wrong class (same accuracy, different bytes), "worse" also answers
every 10th right sample wrongly (lower accuracy).
"""

import argparse
import array
import json
import os
import shutil
import sys
import time
from pathlib import Path

DATASET, PERF_COUNT = 50000, 1024


def answer(index: int, answers: str = "normal") -> int:
    right = index % 200 < 153
    if answers == "worse" and right and index % 10 == 0:
        right = False
    if right:
        return index % 1000
    return (index + (2 if answers in ("other-wrong", "worse") else 1)) % 1000


def score(log: Path) -> str:
    """accuracy.txt of a tiny_sut accuracy log (also used on TEST01 baseline and compliance logs)."""
    entries = json.loads(Path(log).read_text())
    good = sum(int.from_bytes(bytes.fromhex(e["data"]), "little") == e["qsl_idx"] % 1000 for e in entries)
    return f"accuracy={100 * good / max(len(entries), 1):.3f}%, good={good}, total={len(entries)}\n"


def main(out: Path, mode: str, user_conf: Path, scenario: str, audit_config: Path | None, answers: str,
         query_ms: float = 1.0) -> None:
    import mlperf_loadgen as lg

    out.mkdir(parents=True, exist_ok=True)
    settings = lg.TestSettings()
    settings.FromConfig(str(user_conf), "resnet50", scenario, 1)
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = lg.TestMode.AccuracyOnly if mode == "accuracy" else lg.TestMode.PerformanceOnly
    hold = 0
    if mode == "performance":  # Offline: one query held for min_duration; SingleStream/MultiStream: query_ms
        hold = settings.min_duration_ms / 1000 + 0.05 if scenario == "Offline" else query_ms / 1000

    def issue(samples):
        start = time.monotonic()  # answer `hold` after the query came, however long building the answers took
        buffers = [array.array("B", answer(s.index, answers).to_bytes(4, "little")) for s in samples]
        responses = [lg.QuerySampleResponse(s.id, *b.buffer_info()) for s, b in zip(samples, buffers, strict=True)]
        time.sleep(max(0.0, start + hold - time.monotonic()))
        lg.QuerySamplesComplete(responses)

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(DATASET, PERF_COUNT, lambda _: None, lambda _: None)
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.copy_summary_to_stdout = False
    cwd = os.getcwd()
    if audit_config is not None:
        shutil.copyfile(audit_config, out / "audit.config")
    os.chdir(out)  # LoadGen reads audit.config from the working directory
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log, "audit.config")
    finally:
        os.chdir(cwd)
        (out / "audit.config").unlink(missing_ok=True)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    (out / "mlperf_log_trace.json").unlink(missing_ok=True)
    shutil.copy(user_conf, out / "user.conf")
    (out / "result.json").write_text(json.dumps({"mode": mode, "scenario": scenario}) + "\n")
    if mode == "accuracy":
        (out / "accuracy.txt").write_text(score(out / "mlperf_log_accuracy.json"))


if __name__ == "__main__":
    if sys.argv[1] == "score":
        sys.stdout.write(score(Path(sys.argv[2])))
        sys.exit(0)
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("mode", choices=("performance", "accuracy"))
    p.add_argument("user_conf", type=Path)
    p.add_argument("--scenario", default="Offline", choices=("Offline", "SingleStream", "MultiStream"))
    p.add_argument("--audit-config", type=Path)
    p.add_argument("--answers", default="normal", choices=("normal", "other-wrong", "worse"))
    p.add_argument("--query-ms", type=float, default=1.0, help="SingleStream/MultiStream time per query")
    a = p.parse_args()
    main(a.out, a.mode, a.user_conf.resolve(), a.scenario, a.audit_config.resolve() if a.audit_config else None,
         a.answers, a.query_ms)
