"""`mlperfctl submission check|truncate|package|system`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

import mlperf_rules

from .. import submission
from ..errors import UserError, choices
from ..submission import check as submission_check
from ..submission import sysinfo
from .common import JsonOpt, err, out

submission_app = typer.Typer(help="Check, truncate and package an MLPerf submission tree.", no_args_is_help=True)
DirArg = Annotated[Path, typer.Argument(help="The submission root (the directory holding closed/ or open/).")]
VersionOpt = Annotated[str, typer.Option(
    "--version", help=f"Submission round, whose rulebook applies {choices(mlperf_rules.versions())}.")]


@submission_app.command("check")
def check(directory: DirArg, version: VersionOpt = mlperf_rules.LATEST, as_json: JsonOpt = False,
          skip_compliance: Annotated[bool, typer.Option(
              "--skip-compliance", help="Do not require the TEST0x compliance runs (closed division).")] = False,
          skip_dataset_size_check: Annotated[bool, typer.Option(
              "--skip-dataset-size-check", help="Accept accuracy runs on a subset of the dataset "
                                                "(as the official checker's flag of that name).")] = False):
    """Check the tree against the submission rules; one line per problem, exit 1 if any."""
    rnd = submission.check_version(version)  # the round, resolved once
    if not directory.is_dir():
        raise UserError(f"{directory} is not a directory")
    report = submission_check.check(directory, rnd=rnd, skip_compliance=skip_compliance,
                                    skip_dataset_size_check=skip_dataset_size_check)
    if as_json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for problem in report.problems:
            err.print(f"{directory / problem.path}: {problem.message}", highlight=False, markup=False)
        table = Table(title=f"{directory} ({version}): {len(report.rows)} results, {len(report.problems)} problems")
        for col in ("division", "submitter", "system", "model", "scenario", "performance", "accuracy", "status"):
            table.add_column(col)
        for r in report.rows:
            status = "[green]ok[/]" if not r.problems else f"[red]{r.problems} problem(s)[/]"
            table.add_row(r.division, r.submitter, r.system, r.model, r.scenario, r.performance, r.accuracy, status)
        out.print(table)
    if not report.ok:
        raise typer.Exit(1)


@submission_app.command("truncate")
def truncate(directory: DirArg, backup: Annotated[Path | None, typer.Option(
        "--backup", help="Where the full accuracy logs go (default: <DIR>/../<name>-accuracy-backup).")] = None,
        as_json: JsonOpt = False):
    """Truncate accuracy logs over 10 KiB and record their sha256 in accuracy.txt."""
    if not directory.is_dir():
        raise UserError(f"{directory} is not a directory")
    done = submission.truncate_accuracy_logs(directory, backup)
    if as_json:
        print(json.dumps(done, indent=2))
        return
    for d in done:
        what = f"truncated {d['size']} bytes, full log in {d['backup']}" if d["truncated"] else "hash added"
        out.print(f"{d['accuracy_dir']}: {what}", highlight=False)
    out.print(f"{len(done)} accuracy log(s) processed", highlight=False)


@submission_app.command("package")
def package(directory: DirArg, output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="The archive (default: <DIR>.tar.gz beside the tree).")] = None,
        as_json: JsonOpt = False):
    """Pack the tree into a reproducible tar.gz with a .sha256 file."""
    archive, sha = submission.package(directory, output)
    digest = sha.read_text().split()[0]
    if as_json:
        print(json.dumps({"archive": str(archive), "sha256_file": str(sha), "sha256": digest}))
    else:
        out.print(f"{archive}\nsha256 {digest} ({sha.name})", highlight=False)


@submission_app.command("system")
def system(division: Annotated[str, typer.Option(help="closed or open.")] = "open",
           submitter: Annotated[str, typer.Option(help="The submitting organisation.")] = "mlperfctl",
           system_name: Annotated[str | None, typer.Option(
               help="Default: <host>_<device>_<backend> (<host>_<device> without --backend).")] = None,
           category: Annotated[str, typer.Option(help="edge, datacenter or datacenter,edge.")] = "edge",
           device: Annotated[str, typer.Option(help="cpu, cuda or rocm.")] = "cpu",
           backend: Annotated[str | None, typer.Option(
               help="The run's backend (framework field, default name).")] = None,
           path: Annotated[Path, typer.Option(help="Where the submission tree lives (storage probe).")] = Path("."),
           system_json: Annotated[Path | None, typer.Option(
               "--system-json", help="A JSON object of fields overriding the probe.")] = None):
    """Print the system description this host would get (systems/<system>.json)."""
    name = system_name or sysinfo.default_system_name(device, backend)
    desc = sysinfo.system_description(
        division=division, submitter=submitter, system_name=name, category=category, device=device,
        framework=backend or "", path=path, overrides=sysinfo.load_overrides(system_json))
    print(json.dumps(desc, indent=2))


def register(app: typer.Typer) -> None:
    """Add these commands to the main app."""
    app.add_typer(submission_app, name="submission")
