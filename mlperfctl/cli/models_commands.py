"""`mlperfctl models`: every benchmark the harness runs, from the registry and the rulebook."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from ..models import markdown, model_rows
from .common import JsonOpt, out


def models(as_json: JsonOpt = False,
           as_markdown: Annotated[bool, typer.Option("--markdown", help="Print the README's table.")] = False):
    """Every benchmark: family, devices, backends and their model files, the rounds where it is closed, its
    scenarios per system type (newest closed round), its dataset and files."""
    rows = model_rows()
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    if as_markdown:
        print(markdown(rows), end="")
        return
    table = Table(title="models")
    for col in ("model", "family", "backends by device", "closed in", "scenarios", "dataset"):
        table.add_column(col)
    for r in rows:
        table.add_row(r["model"], r["family"], "\n".join(f"{d}: {', '.join(b)}" for d, b in r["backends"].items()),
                      ", ".join(r["closed_rounds"]) or "-",
                      "\n".join(f"{t}: {', '.join(s)}" for t, s in r["scenarios"].items()) or "open only",
                      r["dataset"])
    out.print(table)


def register(app: typer.Typer) -> None:
    app.command()(models)
