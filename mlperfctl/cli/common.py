"""Options, consoles and helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..errors import UserError
from ..run.rulebook import pinned_rounds

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

MatrixOpt = Annotated[Path | None, typer.Option(
    "--matrix", envvar="MLPERFCTL_MATRIX",
    help="The matrix file (default: ./matrix.yaml, else the project's own).")]
ImplOpt = Annotated[list[str] | None, typer.Option(
    "--implementation", "-i", help="Implementation name or glob; repeat or comma-separate.")]
BackendOpt = Annotated[list[str] | None, typer.Option(
    "--backend", "-b", help="Backend name or glob (onnxruntime, pytorch, tensorrt).")]
DeviceOpt = Annotated[list[str] | None, typer.Option(
    "--device", "-d", help="Device name or glob (cpu, cuda, rocm).")]
ModelOpt = Annotated[list[str] | None, typer.Option(
    "--model", "-m", help="Model name or glob (resnet50, sdxl, 'bert-*', ...).")]
SelectOpt = Annotated[list[str] | None, typer.Option(
    "--select", help="Keep only cells whose identifier matches this glob.")]
SkipOpt = Annotated[list[str] | None, typer.Option(
    "--skip", help="Drop cells whose identifier matches this glob.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RoundOpt = Annotated[str | None, typer.Option(
    "--version", help="Build with this MLPerf round's own LoadGen, the one whose built-in seeds are the round's ("
                      + pinned_rounds()
                      + "); the runtime stage and every stage above it get their own images and tags. "
                        "Default: matrix.yaml's runtime.loadgen.")]
BaseOpt = Annotated[list[str] | None, typer.Option(
    "--base-image", help="Override a device's base image: DEVICE=IMAGE (repeatable).")]


def split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def select_cells(lm, implementation, backend, device, model, select, skip, external: bool = False):
    """The cells the filters select; external implementations only when asked for by name (or
    always, with external=True: rendering Dockerfiles needs no external source)."""
    cells = lm.select(
        {"implementation": split(implementation), "backend": split(backend),
         "device": split(device), "model": split(model)},
        select=split(select), skip=split(skip), external=external or None)
    if not cells:
        others = sorted({c.implementation for c in lm.select(
            {"implementation": split(implementation), "backend": split(backend), "device": split(device),
             "model": split(model)}, select=split(select), skip=split(skip), external=True)})
        if others:
            raise UserError(f"only cells of external implementations match these filters: ask for them with "
                            f"--implementation {','.join(others)}")
        raise UserError("no cell matches these filters (see `mlperfctl matrix list`)")
    return cells


def with_round(lm, version: str | None):
    """The matrix whose runtime stage gets round `version`'s LoadGen (None: the matrix's own)."""
    from ..options import resolve_round
    from ..run.rulebook import build_loadgen

    choice = resolve_round(version) if version is not None else None
    return lm.with_loadgen(build_loadgen(choice, lm.matrix.runtime.loadgen))


def cell_row(lm, cell) -> dict:
    model = lm.matrix.models[cell.model]
    kind = lm.matrix.implementations[cell.implementation].kind
    return {"id": cell.id, **cell.keys(), "implemented": model.implemented,
            "runnable": kind,  # builtin: `mlperfctl run` drives it; external: build only, for now
            "loadgen": lm.loadgen,  # the LoadGen its runtime stage gets (matrix default or --version's)
            "precisions": model.precisions, "backends": model.backends}


