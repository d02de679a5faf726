"""`mlperfctl matrix list|explain|validate` and `mlperfctl generate`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .. import matrix as matrix_mod
from ..builder import render
from ..options import parse_bases
from .common import (
    BackendOpt,
    BaseOpt,
    DeviceOpt,
    ImplOpt,
    JsonOpt,
    MatrixOpt,
    ModelOpt,
    RoundOpt,
    SelectOpt,
    SkipOpt,
    cell_row,
    err,
    out,
    select_cells,
    with_round,
)

matrix_app = typer.Typer(help="Inspect and validate the build matrix (matrix.yaml).", no_args_is_help=True)


@matrix_app.command("list")
def matrix_list(
    matrix: MatrixOpt = None, implementation: ImplOpt = None, backend: BackendOpt = None,
    device: DeviceOpt = None, model: ModelOpt = None, select: SelectOpt = None,
    skip: SkipOpt = None, version: RoundOpt = None, as_json: JsonOpt = False,
):
    """List the valid cells that the filters select."""
    lm = with_round(matrix_mod.load(matrix), version)
    cells = select_cells(lm, implementation, backend, device, model, select, skip)
    rows = [cell_row(lm, c) for c in cells]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    hidden = sorted({c.implementation for c in select_cells(lm, implementation, backend, device, model, select,
                                                            skip, external=True)} - {c.implementation for c in cells})
    note = f" (external implementations shown with --implementation: {', '.join(hidden)})" if hidden else ""
    loadgen = f"LoadGen {lm.loadgen}" + (f" ({version}'s)" if version
                                         else " (runtime.loadgen; --version ROUND: the round's)")
    table = Table(title=f"{len(rows)} cells in {lm.path.name}, {loadgen}{note}")
    for col in ("cell", "implementation", "backend", "device", "model", "runnable"):
        table.add_column(col)
    for r in rows:
        if r["runnable"] == "external":
            runnable = "[yellow]external: build only[/]"
        else:
            runnable = "builtin" if r["implemented"] else "[yellow]builtin: not yet[/]"
        table.add_row(r["id"], r["implementation"], r["backend"], r["device"], r["model"], runnable)
    out.print(table)


@matrix_app.command("explain")
def matrix_explain(cell: Annotated[str, typer.Argument(help="A cell identifier.")],
                   matrix: MatrixOpt = None, as_json: JsonOpt = False):
    """Say why a cell is in the matrix, or which rule keeps it out."""
    lm = matrix_mod.load(matrix)
    c = lm.parse_cell(cell)
    index = lm.matrix.excluded_by(c)
    if index is not None:
        rule = lm.matrix.rules[index]
        where = lm.where(("rules", index))
        info = {"id": c.id, "valid": False, "rule": index + 1, "where": where,
                "reason": rule.reason, "exclude": rule.exclude}
        text = f"{c.id} is excluded by rule {index + 1} ({where}): {rule.reason}"
    else:
        ctx = render.stage_context(lm, c)
        m = lm.matrix.models[c.model]
        note = lm.matrix.devices[c.device].note
        info = {"id": c.id, "valid": True, "implemented": m.implemented, "device_note": note,
                "stages": {"device": ctx["device"]["base"],
                           "runtime": ctx["runtime"]["packages"],
                           "framework": ctx["framework"]["packages"],
                           "implementation": ctx["impl"]["packages"]}}
        pins = lambda d: ", ".join(f"{k}=={v}" for k, v in sorted(d.items()))  # noqa: E731
        text = "\n".join([
            f"{c.id} is in the matrix: no rule excludes it.",
            f"  device base     {ctx['device']['base']}",
            f"  runtime         {pins(ctx['runtime']['packages'])}",
            f"  framework       {pins(ctx['framework']['packages'])}",
            f"  implementation  {c.implementation} ({ctx['impl']['kind']}) "
            f"{pins(ctx['impl']['packages'])}",
            f"  harness         {'runs ' + c.model if m.implemented else c.model + ' is not implemented yet'}",
            *([f"  device note     {note}"] if note else []),
        ])
    if as_json:
        print(json.dumps(info, indent=2))
    else:
        out.print(text, highlight=False)


@matrix_app.command("validate")
def matrix_validate(file: Annotated[Path | None, typer.Argument(
        help="The matrix file (default: ./matrix.yaml).")] = None, matrix: MatrixOpt = None):
    """Check a matrix file; print file:line errors and exit 2 if it is invalid."""
    lm = matrix_mod.load(file or matrix)
    m = lm.matrix
    out.print(f"{lm.path}: valid: {len(m.cells())} cells "
              f"({len(m.all_combinations()) - len(m.cells())} excluded by {len(m.rules)} rules)",
              highlight=False)


def generate(
    matrix: MatrixOpt = None, implementation: ImplOpt = None, backend: BackendOpt = None,
    device: DeviceOpt = None, model: ModelOpt = None, select: SelectOpt = None,
    skip: SkipOpt = None, base_image: BaseOpt = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Where to write <cell>/Dockerfile (default: images/ beside the matrix).")] = None,
    check: Annotated[bool, typer.Option(
        "--check", help="Write nothing; exit 1 if any rendered file differs from what is on disk.")] = False,
):
    """Render images/<cell>/Dockerfile for the selected cells."""
    lm = matrix_mod.load(matrix)
    cells = select_cells(lm, implementation, backend, device, model, select, skip, external=True)
    bases = parse_bases(lm, base_image)
    out_dir = output or lm.root / "images"
    if check:
        stale = [c.id for c in cells
                 if not (p := out_dir / c.id / "Dockerfile").exists()
                 or p.read_text() != render.render(lm, c, bases)]
        for cell_id in stale:
            err.print(f"out of date: {out_dir / cell_id / 'Dockerfile'}", highlight=False)
        if stale:
            err.print("run `mlperfctl generate` to render them again", highlight=False)
            raise typer.Exit(1)
        out.print(f"{len(cells)} Dockerfiles up to date in {out_dir}", highlight=False)
        return
    paths = render.write(lm, cells, out_dir, bases)
    out.print(f"rendered {len(paths)} Dockerfiles into {out_dir}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the main app."""
    app.add_typer(matrix_app, name="matrix")
    app.command()(generate)
