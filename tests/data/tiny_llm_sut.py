"""Run real LoadGen with llama2-70b's rules (token latencies on, from the embedded mlperf.conf) against
an in-process SUT that answers with int32 token ids, and leave a harness-style output directory.

usage: tiny_llm_sut.py OUT_DIR USER_CONF --scenario Offline|Server [--audit-config FILE] [--defect D]
                       [--lg-model llama2-70b-interactive]   (the Interactive settings: a Server run, TTFT/TPOT 450/40)

Each answer is 3..7 tokens (100 + index % 50, ...) ending with one EOS token (2). Every answer reports
its first token with lg.FirstTokenComplete before the whole answer, and its token count. --defect
spoils the answers of every 7th sample: "two-eos" ends them with two EOS tokens, "first-token"
reports a wrong first token, "count" reports one token too many.
"""

import argparse
import array
import os
import shutil
from pathlib import Path

import mlperf_loadgen as lg

DATASET = PERF_COUNT = 24576
EOS = 2


def tokens(index: int, defect: str) -> list[int]:
    body = [100 + (index + k) % 50 for k in range(2 + index % 5)] + [EOS]
    if defect == "two-eos" and index % 7 == 0:
        body.append(EOS)
    return body


def main(out: Path, user_conf: Path, scenario: str, audit_config: Path | None, defect: str,
         lg_model: str = "llama2-70b") -> None:
    out.mkdir(parents=True, exist_ok=True)
    settings = lg.TestSettings()
    settings.FromConfig(str(user_conf), lg_model, scenario, 1)
    settings.scenario = getattr(lg.TestScenario, scenario)
    settings.mode = lg.TestMode.PerformanceOnly
    keep = []  # LoadGen copies the data during the calls; keep the buffers alive until then anyway

    def issue(samples):
        for s in samples:
            answer = tokens(s.index, defect)
            first = array.array("i", [answer[0] + (1 if defect == "first-token" and s.index % 7 == 0 else 0)])
            whole = array.array("i", answer)
            keep.extend((first, whole))
            lg.FirstTokenComplete([lg.QuerySampleResponse(s.id, *first.buffer_info()[:1], 4, 1)])
            count = len(answer) + (1 if defect == "count" and s.index % 7 == 0 else 0)
            lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, whole.buffer_info()[0], 4 * len(answer), count)])

    sut = lg.ConstructSUT(issue, lambda: None)
    qsl = lg.ConstructQSL(DATASET, PERF_COUNT, lambda _: None, lambda _: None)
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.log_output.copy_summary_to_stdout = False
    cwd = os.getcwd()
    if audit_config is not None:
        shutil.copyfile(audit_config, out / "audit.config")
    os.chdir(out)
    try:
        lg.StartTestWithLogSettings(sut, qsl, settings, log, "audit.config")
    finally:
        os.chdir(cwd)
        (out / "audit.config").unlink(missing_ok=True)
    lg.DestroyQSL(qsl)
    lg.DestroySUT(sut)
    (out / "mlperf_log_trace.json").unlink(missing_ok=True)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("out", type=Path)
    p.add_argument("user_conf", type=Path)
    p.add_argument("--scenario", required=True, choices=("Offline", "Server"))
    p.add_argument("--audit-config", type=Path)
    p.add_argument("--defect", default="none", choices=("none", "two-eos", "first-token", "count"))
    p.add_argument("--lg-model", default="llama2-70b", choices=("llama2-70b", "llama2-70b-interactive"))
    a = p.parse_args()
    main(a.out, a.user_conf.resolve(), a.scenario, a.audit_config.resolve() if a.audit_config else None, a.defect,
         a.lg_model)
