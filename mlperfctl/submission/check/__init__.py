"""`mlperfctl submission check`: our own implementation of the official checker's rules, one module per
concern as the official checker has (structure, system, performance, accuracy, compliance).

Every number, seed, pattern and path comes from the rulebook (mlperf_rules) of the round checked.
Each problem is reported with the path it concerns; nothing is modified.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlperf_rules import Round

from . import accuracy, compliance, performance, structure, system


@dataclass
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class ResultRow:
    division: str
    submitter: str
    system: str
    model: str
    scenario: str
    performance: str = ""
    accuracy: str = ""
    problems: int = 0


@dataclass
class Report:
    root: Path
    version: str
    problems: list[Problem] = field(default_factory=list)
    rows: list[ResultRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"root": str(self.root), "version": self.version, "ok": self.ok,
                "problems": [{"path": p.path, "message": p.message} for p in self.problems],
                "results": [vars(r) for r in self.rows]}


@dataclass
class Context:
    """What every check module gets: the tree, the round's rules, the switches and the report."""

    root: Path
    round: Round
    skip_compliance: bool
    skip_dataset_size_check: bool
    report: Report

    @property
    def layout(self):
        return self.round.layout

    def problem(self, path: Path, message: str) -> None:
        try:
            shown = str(Path(path).relative_to(self.root))
        except ValueError:
            shown = str(path)
        self.report.problems.append(Problem(shown or ".", message))


def check(root: Path, *, rnd: Round, skip_compliance: bool = False, skip_dataset_size_check: bool = False) -> Report:
    """Check a submission tree (the directory holding closed/ and open/) against the rules of the submission
    round `rnd`. skip_dataset_size_check is the official checker's switch of that name: accuracy runs on a
    subset (e.g. demo data)."""
    root = Path(root)
    ctx = Context(root, rnd, skip_compliance, skip_dataset_size_check, Report(root, rnd.version))
    for division, submitter in structure.submitters(ctx):
        base = root / division / submitter
        structure.check_submitter(ctx, base, division)
        results = base / "results"
        if not results.is_dir():
            ctx.problem(results, "missing results directory")
            continue
        for system_name in structure.dirs(results):
            desc = system.check(ctx, base, division, submitter, system_name)
            for model_dir in structure.dirs(results / system_name):
                bench = structure.check_model(ctx, base, division, system_name, model_dir, desc)
                for scenario in structure.dirs(results / system_name / model_dir):
                    _check_scenario(ctx, base, division, submitter, system_name, model_dir, scenario, bench)
    return ctx.report


def _check_scenario(ctx: Context, base: Path, division: str, submitter: str, system_name: str, model_dir: str,
                    scenario: str, bench) -> None:
    row = ResultRow(division, submitter, system_name, model_dir, scenario)
    before = len(ctx.report.problems)
    perf, acc = structure.check_scenario_files(ctx, base, system_name, model_dir, scenario)
    if (perf / "mlperf_log_detail.txt").is_file():
        row.performance = performance.check(ctx, perf, division, scenario, bench)
    if (acc / "mlperf_log_detail.txt").is_file():
        row.accuracy = accuracy.check(ctx, acc, division, scenario, bench)
    if division == "closed" and bench is not None and not ctx.skip_compliance:
        compliance.check(ctx, base, system_name, model_dir, scenario, bench)
    row.problems = len(ctx.report.problems) - before
    ctx.report.rows.append(row)
