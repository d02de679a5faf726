"""Options, consoles and helpers shared by the command modules."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from ..errors import UserError, choices

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
BaseOpt = Annotated[list[str] | None, typer.Option(
    "--base-image", help="Override a device's base image: DEVICE=IMAGE (repeatable).")]


def split(values: list[str] | None) -> list[str]:
    return [v.strip() for item in values or [] for v in item.split(",") if v.strip()]


def select_cells(lm, implementation, backend, device, model, select, skip):
    cells = lm.select(
        {"implementation": split(implementation), "backend": split(backend),
         "device": split(device), "model": split(model)},
        select=split(select), skip=split(skip))
    if not cells:
        raise UserError("no cell matches these filters (see `mlperfctl matrix list`)")
    return cells


def parse_bases(lm, values: list[str] | None) -> dict[str, str]:
    """`cpu=IMAGE` pairs into {device: image}, checking the device names."""
    bases = {}
    for item in values or []:
        device, sep, image = item.partition("=")
        devices = lm.matrix.names("device")
        if not sep or not image.strip():
            raise UserError(f"--base-image '{item}' must be DEVICE=IMAGE, e.g. cpu=debian:bookworm-slim")
        if device not in devices:
            raise UserError(f"--base-image: unknown device '{device}' {choices(devices)}")
        bases[device] = image.strip()
    return bases


def cell_row(lm, cell) -> dict:
    model = lm.matrix.models[cell.model]
    return {"id": cell.id, **cell.keys(), "implemented": model.implemented,
            "precisions": model.precisions,
            "scenarios": model.scenarios.model_dump()}


