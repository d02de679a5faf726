"""Closed-division compliance: the audit.config of each test from the rulebook, and the verification
the official compliance/TESTxx/run_verification.py scripts perform, reimplemented (one module per test
in verifiers/), writing exactly the files the official checker reads.

    from mlperfctl import compliance
    rnd = options.resolve_round("v6.1", "resnet50").rules   # the round, resolved once by the caller
    for run in compliance.compliance_runs("resnet50", rnd=rnd):          # TEST01, TEST04
        # harness: same settings as the performance run, mode run.mode, audit.config = run.audit_config
        ...
    verdicts = compliance.verify_scenario(staging, rnd=rnd, model="resnet50", scenario="Offline",
                                          performance_dir=perf, accuracy_dir=acc,
                                          compliance_dirs={"TEST01": t01, "TEST04": t04}, scorer=score)
    # ResultSet(..., compliance={t: staging / t for t in verdicts}) -> submission.write_results
"""

from .audit import ComplianceRun, audit_config_text, compliance_runs, tests_for, write_audit_config
from .base import Inputs, Scorer, Verdict
from .stage import tree_path, verify_scenario
from .verifiers import VERIFIERS

__all__ = ["ComplianceRun", "Inputs", "Scorer", "VERIFIERS", "Verdict", "audit_config_text", "compliance_runs",
           "tests_for", "tree_path", "verify_scenario", "write_audit_config"]
