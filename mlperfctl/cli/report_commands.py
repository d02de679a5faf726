"""`mlperfctl report TREE [TREE2] -o DIR`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

import mlperf_rules

from .. import report as report_mod
from .. import submission
from ..errors import choices
from .common import JsonOpt, out


def report(tree: Annotated[Path, typer.Argument(help="A submission root (the directory holding closed/ or open/).")],
           output: Annotated[Path, typer.Option(
               "--output", "-o", help="Directory for summary.csv, summary.json (summary2.* for TREE2) and "
                                      "report.html; created if its parent exists.")],
           tree2: Annotated[Path | None, typer.Argument(
               help="A second submission root, shown side by side with the first.")] = None,
           version: Annotated[str, typer.Option(
               "--version", help="Submission round whose checker's CSV columns and rules apply "
                                 f"{choices(mlperf_rules.versions())}.")] = mlperf_rules.LATEST,
           as_json: JsonOpt = False):
    """Write the official summary (the round's checker's --csv columns, as CSV and JSON) and one
    self-contained HTML page: results, validity, accuracy against the round's targets, compliance,
    throughput, latency percentiles, LLM token latencies, memory; with TREE2 the differences side by side."""
    rnd = submission.check_version(version)
    trees = [tree] if tree2 is None else [tree, tree2]
    written = report_mod.build(trees, output, rnd)
    if as_json:
        print(json.dumps(written, indent=2))
        return
    for t in written["trees"]:
        valid = sum(r["valid"] for r in t["results"])
        out.print(f"{t['tree']}: {len(t['results'])} result(s), {valid} valid -> {t['csv']}, {t['json']}",
                  highlight=False)
    out.print(f"report: {written['html']}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add the command to the main app."""
    app.command("report")(report)
