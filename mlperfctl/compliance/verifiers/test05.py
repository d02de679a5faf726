"""TEST05 (v4.0, v4.1): a performance run with the round's alternative seeds (audit.config
`test05 = 1`) must perform like the submission: Offline/Server not more than 5 % slower, the streams'
latency not more than 5 % higher (20 % for short latencies). Summary logs, as the official script.

Files: verify_performance.txt and performance/run_1/mlperf_log_summary.txt, mlperf_log_detail.txt.
The run needs the round's LoadGen (4.1.x): LoadGen reads `test05` from audit.config only up to that line.
"""

from __future__ import annotations

from pathlib import Path

from .. import performance
from ..base import DETAIL, SUMMARY, Inputs, Verdict, copy_into, need_file, write_text

TEST = "TEST05"
NEEDS = ("performance",)


def verify(inp: Inputs, out: Path) -> Verdict:
    if inp.performance_dir is None:
        raise ValueError("TEST05 needs the submission's performance run")
    text = performance.verify_summary(need_file(inp.performance_dir / SUMMARY, "performance run"),
                                      need_file(inp.compliance_dir / SUMMARY, f"{TEST} compliance run"),
                                      rule=TEST, extended=False, stderr=False)
    files = [write_text(out / "verify_performance.txt", text)]
    files += copy_into(inp.compliance_dir, out / "performance" / "run_1", SUMMARY, DETAIL)
    passed = "TEST PASS" in text
    return Verdict(TEST, passed, [f"Performance check pass: {passed}", f"{TEST} verification complete"],
                   sorted(str(f.relative_to(out)) for f in files), {"performance_pass": passed})
