"""systems/<system>.json: present, a JSON object, every field of the round, valid values."""

from __future__ import annotations

import json
from pathlib import Path

from ..sysinfo import validate_system


def check(ctx, base: Path, division: str, submitter: str, system_name: str) -> dict | None:
    path = base / ctx.layout.system_file(system_name)
    if not path.is_file():
        ctx.problem(path, "missing system description")
        return None
    try:
        desc = json.loads(path.read_text())
    except json.JSONDecodeError as e:
        ctx.problem(path, f"invalid JSON: {e.msg} (line {e.lineno})")
        return None
    if not isinstance(desc, dict):
        ctx.problem(path, "not a JSON object")
        return None
    for message in validate_system(desc, division=division, submitter=submitter, fields=ctx.round.system_fields):
        ctx.problem(path, message)
    return desc
