"""TEST04: the SUT must not gain from answering the same sample again (audit.config
performance_issue_same_index: LoadGen issues one sample over and over). The compliance run's score
must stay below the submission's performance score * (1 + t) (summary logs, one-sided).

Files (the official run_verification.py's): verify_performance.txt and
performance/run_1/mlperf_log_summary.txt, mlperf_log_detail.txt.
"""

from __future__ import annotations

from pathlib import Path

from .. import performance
from ..base import DETAIL, SUMMARY, Inputs, Verdict, copy_into, modern, need_file, write_text

TEST = "TEST04"
NEEDS = ("performance",)


def verify(inp: Inputs, out: Path) -> Verdict:
    if inp.performance_dir is None:
        raise ValueError("TEST04 needs the submission's performance run")
    new = modern(inp.round)
    text = performance.verify_summary(need_file(inp.performance_dir / SUMMARY, "performance run"),
                                      need_file(inp.compliance_dir / SUMMARY, f"{TEST} compliance run"),
                                      rule=TEST, extended=new, stderr=new)
    files = [write_text(out / "verify_performance.txt", text)]
    files += copy_into(inp.compliance_dir, out / "performance" / "run_1", SUMMARY, DETAIL)
    passed = "TEST PASS" in text
    return Verdict(TEST, passed, [f"Performance check pass: {passed}", f"{TEST} verification complete"],
                   sorted(str(f.relative_to(out)) for f in files), {"performance_pass": passed})
