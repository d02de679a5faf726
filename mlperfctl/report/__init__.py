"""`mlperfctl report`: the official summary (CSV and JSON, the round's checker's columns and value rules) and
one self-contained HTML page of a submission tree, or of two side by side.

summary.py reads the tree (through our checker, MLLog and the tree's JSON files); page.py draws it."""

from __future__ import annotations

import json
import os
from pathlib import Path

from mlperf_rules import Round
from mlperf_rules.common import DIVISIONS

from ..errors import UserError
from .page import render
from .summary import COLUMNS_V5, COLUMNS_V6, Result, columns, csv_text, read_tree

__all__ = ["COLUMNS_V5", "COLUMNS_V6", "Result", "build", "check_output", "check_tree", "columns", "csv_text",
           "read_tree", "render"]


def check_tree(path: Path) -> Path:
    """A submission root: a directory holding closed/, open/ or network/."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{path}: not a directory; give the submission root (the directory holding closed/ or open/)")
    if not any((path / d).is_dir() for d in DIVISIONS):
        raise UserError(f"{path}: not a submission tree (no {', '.join(d + '/' for d in DIVISIONS)}); give the "
                        "submission root (the directory holding closed/ or open/)")
    return path


def check_output(out: Path) -> Path:
    """The output directory: an existing directory, or a new one in a writable existing parent."""
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise UserError(f"-o {out}: exists and is not a directory; give a directory to write the report into")
    parent = out.resolve().parent
    if not out.exists() and not parent.is_dir():
        raise UserError(f"-o {out}: its parent {parent} does not exist; create it or give another -o")
    target = out if out.exists() else parent
    if not os.access(target, os.W_OK | os.X_OK):
        raise UserError(f"-o {out}: {target} is not writable; give a directory you can write to")
    return out


def _names(trees: list[Path]) -> list[str]:
    names = [t.resolve().name or str(t) for t in trees]
    if len(set(names)) < len(names):
        names = [f"{i}:{n}" for i, n in enumerate(names, 1)]
    return names


def build(trees: list[Path], out: Path, rnd: Round) -> dict:
    """Write summary.csv and summary.json (summary2.* for a second tree) and report.html into `out`;
    returns what was written and the rows."""
    trees = [check_tree(t) for t in trees]
    out = check_output(out)
    read = [(name, read_tree(tree, rnd)) for name, tree in zip(_names(trees), trees, strict=True)]
    written: dict = {"version": rnd.version, "trees": []}
    try:
        out.mkdir(exist_ok=True)
        for i, ((name, results), tree) in enumerate(zip(read, trees, strict=True)):
            stem = "summary" if i == 0 else f"summary{i + 1}"
            csv_path, json_path = out / f"{stem}.csv", out / f"{stem}.json"
            csv_path.write_text(csv_text(rnd, results))
            json_path.write_text(json.dumps([r.row for r in results], indent=2) + "\n")
            written["trees"].append({"tree": str(tree), "name": name, "csv": str(csv_path), "json": str(json_path),
                                     "results": [r.to_dict() for r in results]})
        html_path = out / "report.html"
        html_path.write_text(render(read, rnd.version), encoding="utf-8")
    except OSError as e:
        raise UserError(f"-o {out}: cannot write the report ({e.strerror or e}); give a writable directory") from e
    written["html"] = str(html_path)
    return written
