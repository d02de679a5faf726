"""audit.config for a compliance run, from the rulebook of the round, and what each run must be.

A compliance run is a LoadGen performance-mode run of the same SUT and settings as the submission's
performance run, with audit.config in LoadGen's working directory (the harness's --audit-config copies
it there and removes it afterwards). Its values override mlperf.conf and user.conf.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mlperf_rules

from ..errors import UserError
from . import verifiers
from .base import ACCURACY_LOG, DETAIL, SUMMARY


@dataclass(frozen=True)
class ComplianceRun:
    """One compliance run to make for a (round, model, scenario)."""

    test: str
    mode: str  # the harness mode to run in (audit.config itself sets LoadGen's mode to PerformanceOnly)
    audit_config: str  # the text of audit.config
    outputs: tuple[str, ...]  # the files the run must leave in its output directory
    needs: tuple[str, ...]  # the submission runs its verification compares with ("performance", "accuracy")

    def to_dict(self) -> dict:
        return {"test": self.test, "mode": self.mode, "audit_config": self.audit_config,
                "outputs": list(self.outputs), "needs": list(self.needs)}


def tests_for(model: str, *, rnd: mlperf_rules.Round) -> tuple[str, ...]:
    """The compliance tests the round `rnd` requires of the model in the closed division."""
    if rnd.benchmark(model) is None:
        raise UserError(f"no {rnd.version} rules for model '{model}' (compliance tests come from the rulebook)")
    return rnd.compliance_tests(model)


def audit_config_text(test: str, model: str, *, rnd: mlperf_rules.Round) -> str:
    """audit.config as the round's compliance/TESTxx[/<model>]/audit.config has it (comments left out)."""
    try:
        return rnd.audit_config_text(test, model)
    except KeyError as e:
        raise UserError(str(e.args[0])) from None


def write_audit_config(dest: Path, test: str, model: str, *, rnd: mlperf_rules.Round) -> Path:
    """Write audit.config to dest (a directory: dest/audit.config); returns the file."""
    dest = Path(dest)
    path = dest / "audit.config" if dest.is_dir() else dest
    path.write_text(audit_config_text(test, model, rnd=rnd))
    return path


def compliance_runs(model: str, *, rnd: mlperf_rules.Round) -> list[ComplianceRun]:
    """Every compliance run the round requires of the model, in order, with its audit.config."""
    runs = []
    for test in tests_for(model, rnd=rnd):
        module = verifiers.get(test)
        outputs = (SUMMARY, DETAIL) if test in ("TEST04", "TEST05") else (SUMMARY, DETAIL, ACCURACY_LOG)
        runs.append(ComplianceRun(test, "performance", audit_config_text(test, model, rnd=rnd), outputs,
                                  module.NEEDS))
    return runs
