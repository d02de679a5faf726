"""From one scenario's raw outputs to the TESTxx directories the tree writer places
(ResultSet.compliance = {test: staging/TESTxx}; the round's layout puts them under
results/<sys>/<model>/<Scenario>/TESTxx (v6.x) or compliance/<sys>/<model>/<Scenario>/TESTxx (v4.x/v5.x))."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

import mlperf_rules

from ..errors import UserError
from . import verifiers
from .audit import tests_for
from .base import Inputs, Scorer, Verdict


def verify_scenario(staging: Path, *, rnd: mlperf_rules.Round, model: str, scenario: str, performance_dir: Path | None,
                    accuracy_dir: Path | None, compliance_dirs: Mapping[str, Path], scorer: Scorer | None = None,
                    dtype: Mapping[str, str] | None = None, eos_token_id: int = 2) -> dict[str, Verdict]:
    """Verify every compliance test the round requires of the model and write staging/TESTxx for each.

    compliance_dirs: test -> the compliance run's output directory. dtype: test -> payload dtype
    (default: each verifier's rule). Returns test -> Verdict, in the rulebook's order. A test whose run
    is missing, or one the round does not require, is refused (UserError) before anything is written.
    """
    required = tests_for(model, rnd=rnd)
    missing = [t for t in required if t not in compliance_dirs]
    extra = [t for t in compliance_dirs if t not in required]
    if missing:
        raise UserError(f"{model} {scenario}: no compliance run for {', '.join(missing)} "
                        f"({rnd.version} requires {', '.join(required)})")
    if extra:
        raise UserError(f"{model} {scenario}: {', '.join(extra)} is not a {rnd.version} compliance test of {model} "
                        f"(required: {', '.join(required) or 'none'})")
    modules = {t: verifiers.get(t) for t in required}
    staging = Path(staging)
    staging.mkdir(parents=True, exist_ok=True)
    verdicts = {}
    for test, module in modules.items():
        inp = Inputs(rnd, model, scenario, _dir(performance_dir), _dir(accuracy_dir), Path(compliance_dirs[test]),
                     scorer=scorer, dtype=(dtype or {}).get(test), eos_token_id=eos_token_id)
        work = Path(tempfile.mkdtemp(prefix=f".{test}-", dir=staging))
        try:
            verdicts[test] = module.verify(inp, work / test)
            final = staging / test
            if final.exists():
                shutil.rmtree(final)
            (work / test).rename(final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return verdicts


def tree_path(system: str, model: str, scenario: str, test: str, *, rnd: mlperf_rules.Round) -> PurePosixPath:
    """Where the checker of the submission round `rnd` reads the TESTxx directory, relative to
    <division>/<submitter>/."""
    return rnd.layout.compliance_dir(system, model, scenario, test)


def _dir(path: Path | None) -> Path | None:
    return Path(path) if path is not None else None
