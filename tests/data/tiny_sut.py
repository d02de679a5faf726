"""Run real LoadGen (Offline, resnet50 rules from the embedded mlperf.conf) against an in-process
SUT that answers from memory, and leave a harness-style output directory.

usage: tiny_sut.py OUT_DIR performance|accuracy USER_CONF

The SUT answers each sample with a 4-byte "class id": right (index % 1000) for 153 of every 200
samples, so accuracy.txt (computed from the real mlperf_log_accuracy.json) says 76.500%. In
performance mode it holds the answers for the configured min_duration, so LoadGen's min-duration
rule is met and the result is VALID.
"""

import array
import json
import shutil
import sys
import time
from pathlib import Path

import mlperf_loadgen as lg

DATASET, PERF_COUNT = 50000, 1024


def answer(index: int) -> int:
    return index % 1000 if index % 200 < 153 else (index + 1) % 1000


def main(out: Path, mode: str, user_conf: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    settings = lg.TestSettings()
    settings.FromConfig(str(user_conf), "resnet50", "Offline", 1)
    settings.scenario = lg.TestScenario.Offline
    settings.mode = lg.TestMode.AccuracyOnly if mode == "accuracy" else lg.TestMode.PerformanceOnly
    hold = settings.min_duration_ms / 1000 + 0.05 if mode == "performance" else 0

    def issue(samples):
        time.sleep(hold)
        buffers = [array.array("B", answer(s.index).to_bytes(4, "little")) for s in samples]
        responses = [lg.QuerySampleResponse(s.id, *b.buffer_info()) for s, b in zip(samples, buffers, strict=True)]
        lg.QuerySamplesComplete(responses)

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(DATASET, PERF_COUNT, lambda _: None, lambda _: None)
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.copy_summary_to_stdout = False
    lg.StartTestWithLogSettings(sut, qsl, settings, log)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    (out / "mlperf_log_trace.json").unlink(missing_ok=True)
    shutil.copy(user_conf, out / "user.conf")
    (out / "result.json").write_text(json.dumps({"mode": mode, "scenario": "Offline"}) + "\n")
    if mode == "accuracy":
        entries = json.loads((out / "mlperf_log_accuracy.json").read_text())
        good = sum(int.from_bytes(bytes.fromhex(e["data"]), "little") == e["qsl_idx"] % 1000 for e in entries)
        (out / "accuracy.txt").write_text(f"accuracy={100 * good / len(entries):.3f}%, good={good}, "
                                          f"total={len(entries)}\n")


if __name__ == "__main__":
    main(Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]))
