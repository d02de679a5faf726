"""Run real LoadGen (resnet50 rules from the embedded mlperf.conf) in performance mode against an in-process SUT
with one worker that spends --service-ms on each sample, and leave LoadGen's logs in OUT_DIR: a stand-in for
the harness's short find-performance runs. Offline answers at the worker's rate (1000 / service-ms samples/s);
Server arrivals beyond that rate queue up, so the p99 latency grows past resnet50's 15 ms bound.

usage: tiny_probe_sut.py OUT_DIR SCENARIO [--target-qps Q] [--service-ms MS] [--min-duration-ms D]
                        [--target-latency-ms L]   (Server: LoadGen's latency bound in place of resnet50's 15 ms)
"""

import argparse
import array
import queue
import threading
import time
from pathlib import Path

import mlperf_loadgen as lg

DATASET = PERF_COUNT = 1024


def main(out: Path, scenario: str, target_qps: float | None, service_ms: float, min_duration_ms: int,
         target_latency_ms: float | None = None) -> None:
    out.mkdir(parents=True, exist_ok=True)
    key = f"resnet50.{scenario}"
    lines = [f"{key}.min_duration = {min_duration_ms}", f"{key}.min_query_count = 32"]
    if target_qps is not None:
        lines.append(f"{key}.target_qps = {target_qps:g}")
    if target_latency_ms is not None:
        lines.append(f"{key}.target_latency = {target_latency_ms:g}")
    (out / "user.conf").write_text("\n".join(lines) + "\n")
    settings = lg.TestSettings()
    settings.FromConfig(str(out / "user.conf"), "resnet50", scenario, 1)
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = lg.TestMode.PerformanceOnly
    work: queue.Queue = queue.Queue()

    def worker():
        while (samples := work.get()) is not None:
            end = time.monotonic() + service_ms / 1000 * len(samples)
            buffers = [array.array("B", b"\0\0\0\0") for _ in samples]
            responses = [lg.QuerySampleResponse(s.id, *b.buffer_info()) for s, b in zip(samples, buffers,
                                                                                         strict=True)]
            time.sleep(max(0.0, end - time.monotonic()))
            lg.QuerySamplesComplete(responses)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    sut = lg.ConstructSUT(work.put, lambda: None)
    qsl = lg.ConstructQSL(DATASET, PERF_COUNT, lambda _: None, lambda _: None)
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.copy_summary_to_stdout = False
    lg.StartTestWithLogSettings(sut, qsl, settings, log, "")
    work.put(None)
    thread.join()
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    (out / "mlperf_log_trace.json").unlink(missing_ok=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("scenario", choices=("Offline", "Server", "SingleStream", "MultiStream"))
    p.add_argument("--target-qps", type=float)
    p.add_argument("--service-ms", type=float, default=2.0)
    p.add_argument("--min-duration-ms", type=int, default=1000)
    p.add_argument("--target-latency-ms", type=float)
    a = p.parse_args()
    main(a.out, a.scenario, a.target_qps, a.service_ms, a.min_duration_ms, a.target_latency_ms)
