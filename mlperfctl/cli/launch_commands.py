"""`mlperfctl run --launcher slurm ...` options and `mlperfctl jobs`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from ..errors import UserError, choices
from ..launch import slurm
from .common import JsonOpt, out

Opt = typer.Option
LAUNCHERS = ("local", "slurm")

LauncherOpt = Annotated[str, Opt(help="local (this host) or slurm (one sbatch job per scenario and mode; "
                                      "the submission dir must be on a filesystem the nodes share).")]
PartitionOpt = Annotated[str | None, Opt(help="Slurm partition (default: the cluster's default).")]
NodesOpt = Annotated[int, Opt(help="Nodes per Slurm job.")]
BundleOpt = Annotated[Path | None, Opt(help="Slurm: load the image from this bundle (`mlperfctl save`) on "
                                            "the node; else it is pulled from --registry when missing.")]
NoWaitOpt = Annotated[bool, Opt("--no-wait", help="Slurm: return after submitting (follow with "
                                                  "`mlperfctl jobs`); by default the command follows the "
                                                  "jobs and Ctrl-C cancels them.")]


def launch(lm, opts, build_opts, *, launcher: str, partition, nodes: int, bundle, no_wait: bool, as_json: bool,
           console) -> None:
    """Hand the run to a launcher instead of running it here."""
    from ..run.plan import plan

    if launcher not in LAUNCHERS:
        raise UserError(f"unknown launcher '{launcher}' {choices(LAUNCHERS)}")
    if nodes < 1:
        raise UserError(f"--nodes {nodes}: give 1 or more")
    p = plan(lm, opts)
    summary = slurm.submit(lm, opts, build_opts, slurm.SlurmOptions(partition=partition, nodes=nodes,
                                                                      bundle=bundle, wait=not no_wait),
                           p, console=console)
    if as_json:
        print(json.dumps(summary, indent=2))
    else:
        out.print(f"{len(summary['jobs'])} job(s); submission tree: {summary['submission_dir']} "
                  f"(state: mlperfctl jobs --submission-dir {summary['submission_dir']})", highlight=False)


def jobs(
    submission_dir: Annotated[Path, Opt(help="The submission tree the jobs write to.")] = Path("mlperf-submission"),
    as_json: JsonOpt = False,
):
    """Show the Slurm jobs submitted for a submission tree (state from scontrol)."""
    rows = slurm.list_jobs(submission_dir)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if not rows:
        out.print(f"no jobs recorded in {slurm.jobs_dir_of(submission_dir)}")
        return
    table = Table(title=f"jobs for {submission_dir}")
    for col in ("job", "cell", "scenario", "mode", "state", "exit", "node", "elapsed", "log"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["id"], r["cell"], r["scenario"], r["mode"], r["state"], r["exit_code"], r["node"],
                      r["elapsed"], r["log"])
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command()(jobs)
