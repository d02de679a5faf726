"""A cell's stages as plain values: the stage text, its parent, what it COPYs, its content hash
and tag. A cell's tag is its top stage's hash; equal stages are one StagePlan object."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from ..matrix import Cell

HASH_VERSION = "1"
LABEL_HASH = "io.mlperfctl.content-hash"
LABEL_STAGE = "io.mlperfctl.stage"
LABEL_UNLOCKED = "io.mlperfctl.unlocked-stages"
LABEL_BUILDER = "io.mlperfctl.builder"
STAGES = ("device", "runtime", "framework", "implementation")
GENERATED_SOURCES = ("ca-certificates", "wheels")  # context paths mlperfctl writes, not the project


@dataclass(eq=False)
class StagePlan:
    name: str
    key: str                   # readable: cpu-runtime, cpu-onnxruntime, <cell id>
    text: str                  # the stage's Dockerfile section (FROM <parent stage name>)
    parent: StagePlan | None
    sources: list[str]         # context paths it COPYs
    hash: str
    tag: str
    unlocked: bool             # installs packages without a hashed lock
    missing: str | None = None  # why its context cannot be made (e.g. external code not fetched)
    wheels: list[Path] = field(default_factory=list)  # local wheels it installs (--wheel-dir)

    def dockerfile(self, text: str | None = None) -> str:
        """The stage (or another rendering of it, e.g. the classic builder's) as a Dockerfile of
        its own: FROM the parent stage's image."""
        text = self.text if text is None else text
        if self.parent is None:
            return text
        return re.sub(r"^FROM \S+ AS (\w+)", lambda m: f"FROM {self.parent.tag} AS {m.group(1)}",
                      text, count=1, flags=re.M)


@dataclass
class CellPlan:
    cell: Cell
    stages: list[StagePlan]
    base: str

    @property
    def top(self) -> StagePlan:
        return self.stages[-1]

    @property
    def tag(self) -> str:
        return self.top.tag

    @property
    def hash(self) -> str:
        return self.top.hash

    @property
    def unlocked(self) -> list[str]:
        return [s.name for s in self.stages if s.unlocked]


def split_stages(text: str) -> list[tuple[str, str]]:
    """[(stage name, its Dockerfile text)] in order, without comment lines: a stage's text
    depends only on what builds it, so cells that share a stage share its text and hash."""
    body = "".join(ln for ln in text.splitlines(keepends=True) if not ln.lstrip().startswith("#"))
    out = []
    for part in re.split(r"^(?=FROM )", body, flags=re.M)[1:]:
        name = re.match(r"FROM \S+ AS (\w+)", part).group(1)
        out.append((name, part.strip("\n") + "\n"))
    return out


def content_hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def stage_key(cell: Cell, stage: str) -> str:
    return {"device": f"{cell.device}-device", "runtime": f"{cell.device}-runtime",
            "framework": f"{cell.device}-{cell.backend}"}.get(stage, cell.id)


def image_repo(cell_id: str, registry: str | None = None) -> str:
    return (registry.rstrip("/") + "/" if registry else "") + f"mlperfctl/{cell_id}"
