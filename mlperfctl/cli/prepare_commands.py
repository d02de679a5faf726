"""`mlperfctl prepare`: a raw download -> the layout `run` reads, in the cell's container (mlperfctl/prepare.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .. import matrix as matrix_mod
from ..options import build_options
from .build_commands import CaOpt, EngineNameOpt, EngineOpt, RegistryOpt, RichReporter, WheelDirOpt
from .common import BaseOpt, JsonOpt, MatrixOpt, err, out

Opt = typer.Option


def prepare(
    model: Annotated[str, Opt("--model", "-m", help="The benchmark whose data to prepare (resnet50, rnnt, ...).")],
    raw: Annotated[Path, Opt("--raw", metavar="DIR", help="The raw files as published (what `mlperfctl get` "
                                                          "fetched), mounted read-only.")],
    dest: Annotated[Path, Opt("--dest", metavar="DIR", help="Where the prepared layout goes (new or empty; "
                                                            "it appears only when complete).")],
    checkpoint: Annotated[bool, Opt("--checkpoint", help="Prepare the model checkpoint (dlrm-v2's torchsnapshot) "
                                                         "instead of the dataset.")] = False,
    count: Annotated[int | None, Opt(help="Prepare only the first N samples (a quick subset).")] = None,
    backend: Annotated[str | None, Opt("--backend", "-b", help="The cell whose container prepares (default: "
                                                               "the model's first backend, as `run`).")] = None,
    device: Annotated[str | None, Opt("--device", "-d", help="cpu, cuda or rocm (default: detected).")] = None,
    force: Annotated[bool, Opt(help="Replace a --dest that holds something else (kept until the new one is "
                                    "complete).")] = False,
    as_json: JsonOpt = False,
    base_image: BaseOpt = None,
    ca_cert: CaOpt = None,
    registry: RegistryOpt = None,
    engine: EngineNameOpt = None, engine_url: EngineOpt = None,
    wheel_dir: WheelDirOpt = None,
    matrix: MatrixOpt = None,
):
    """Turn a raw download into exactly the layout `run` reads: the reference's preprocessing, in the model's own
    container (raw data read-only, no network). Interrupted or failed, --dest is left as it was; run again with
    the same options on a finished --dest, it is kept."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    from .. import prepare as prep

    lm = matrix_mod.load(matrix)
    opts = prep.PrepareOptions(model=model, raw=raw, dest=dest, checkpoint=checkpoint, count=count,
                               backend=backend, device=device, force=force)
    build_opts = build_options(lm, base_image=base_image, ca_cert=ca_cert, registry=registry, engine=engine,
                               engine_url=engine_url, wheel_dir=wheel_dir, quiet=as_json)
    console = err if as_json else out
    progress = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                        console=console, disable=as_json or not console.is_terminal)
    task = None

    def on_progress(done: int, total: int, what: str) -> None:
        nonlocal task
        if task is None:
            task = progress.add_task(f"prepare {model}: {what}", total=total)
        progress.update(task, completed=done, total=total)
        if progress.disable and (done == total or done % 1000 == 0):
            console.print(f"{done}/{total} {what}", highlight=False, markup=False)

    def on_line(line: str) -> None:
        progress.console.print(f"[dim]prepare |[/dim] {escape(line)}", highlight=False)

    with progress:
        summary = prep.execute(lm, opts, build_opts, reporter=RichReporter(quiet=as_json), on_line=on_line,
                               on_progress=on_progress,
                               notice=lambda s: console.print(s, highlight=False, markup=False))
    if as_json:
        print(json.dumps(summary, indent=2))
        return
    table = Table(title=f"{model} {summary['kind']} {summary['status']} in {summary['dest']}")
    table.add_column("field")
    table.add_column("value")
    for key, value in summary["summary"].items():
        table.add_row(key, escape(str(value)))
    table.add_row("cell", summary["cell"])
    table.add_row("seconds", str(summary["seconds"]))
    out.print(table)
    out.print(f"next: {summary['run_command']}", highlight=False, markup=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    app.command()(prepare)
