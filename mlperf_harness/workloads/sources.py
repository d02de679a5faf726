"""Where a model's data comes from: the official sources of its dataset and of each backend's model file.

Standard library only (the host's `mlperfctl get` reads these). Each family declares its sources as plain data in
workloads/<family>/sources.py:

  SOURCES = {model name: (Source(...), ...)}   the files `mlperfctl get` fetches, as the MLCommons reference
                                               implementations publish them
  UNDECLARED = {model name: "why, and where the reference gets it"}   models with no plain-file source yet

A checksum the reference does not publish is None; `mlperfctl get` then refuses the file unless --no-verify, and
records the sha256 it computed in the manifest. API: sources_for(model) -> tuple[Source, ...] (UsageError when the
model has none), problems(source) -> what is malformed in a declaration (the tests check every one).
"""

from __future__ import annotations

import importlib
import re
from dataclasses import asdict, dataclass, fields
from pathlib import PurePosixPath

from mlperf_harness.errors import UsageError

KINDS = ("dataset", "checkpoint")
NEEDS = (None, "agreement", "token")
_HEX = re.compile(r"[0-9a-f]+")


@dataclass(frozen=True)
class Source:
    name: str  # what it is, for people: "ImageNet 2012 validation images"
    url: str  # the official https URL
    path: str  # where it goes, relative to `get --dest` (and to a --mirror)
    kind: str = "checkpoint"  # "dataset" or "checkpoint"
    backends: tuple[str, ...] = ()  # a checkpoint's backends (the model file they read); () for a dataset
    size: int | None = None  # bytes, where published
    md5: str | None = None  # the published checksum (hex), where there is one
    sha256: str | None = None
    licence: str = ""
    needs: str | None = None  # None, "agreement" (accepted by a person at agreement_url) or "token"
    token_env: str = ""  # needs="token": the environment variable holding it (sent as a bearer token, never stored)
    agreement_url: str = ""  # needs="agreement" (or a token's licence): where a person accepts the terms
    checksum_from: str = ""  # where the published checksum comes from (file or page), for people checking it

    @property
    def verifiable(self) -> bool:
        return bool(self.md5 or self.sha256)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["backends"] = list(self.backends)
        return d

    @classmethod
    def from_dict(cls, data: dict, where: str = "sources") -> Source:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(f"{where}: unknown source field(s) {', '.join(unknown)}",
                             f"use {', '.join(sorted(known))}")
        try:
            src = cls(**{**data, "backends": tuple(data.get("backends", ()))})
        except TypeError as e:
            raise UsageError(f"{where}: {e}", "give each source at least name, url and path") from None
        return src


def problems(s: Source, https_only: bool = True) -> list[str]:
    """What is malformed in a declaration (empty when it is well formed)."""
    out = []
    scheme = s.url.split("://", 1)[0]
    if scheme not in (("https",) if https_only else ("https", "http")):
        out.append(f"{s.name}: url {s.url!r} is not https")
    p = PurePosixPath(s.path)
    if not s.path or p.is_absolute() or ".." in p.parts or s.path.endswith("/"):
        out.append(f"{s.name}: path {s.path!r} must be a relative file path inside --dest")
    if s.kind not in KINDS:
        out.append(f"{s.name}: kind {s.kind!r} is not one of {', '.join(KINDS)}")
    if s.kind == "checkpoint" and not s.backends:
        out.append(f"{s.name}: a checkpoint names the backends that read it")
    if s.size is not None and (not isinstance(s.size, int) or s.size <= 0):
        out.append(f"{s.name}: size {s.size!r} must be a positive number of bytes")
    for algo, length in (("md5", 32), ("sha256", 64)):
        value = getattr(s, algo)
        if value is not None and (len(value) != length or not _HEX.fullmatch(value)):
            out.append(f"{s.name}: {algo} {value!r} is not {length} lowercase hex digits")
    if (s.md5 or s.sha256) and not s.checksum_from:
        out.append(f"{s.name}: say where the checksum is published (checksum_from)")
    if s.needs not in NEEDS:
        out.append(f"{s.name}: needs {s.needs!r} is not one of None, agreement, token")
    if s.needs == "token" and not re.fullmatch(r"[A-Z_][A-Z0-9_]*", s.token_env or ""):
        out.append(f"{s.name}: a token source names its environment variable (token_env)")
    if s.needs == "agreement" and not s.agreement_url.startswith("https://"):
        out.append(f"{s.name}: an agreement source names where to accept it (agreement_url)")
    return out


def _family_module(model: str):
    from . import get as workload

    return workload(model).family, importlib.import_module(f"{__package__}.{workload(model).family}.sources")


def sources_for(model: str) -> tuple[Source, ...]:
    """The declared sources of `model` (UsageError naming why when it has none)."""
    family, module = _family_module(model)
    found = getattr(module, "SOURCES", {}).get(model)
    if not found:
        why = getattr(module, "UNDECLARED", {}).get(model, "no source declared yet")
        raise UsageError(f"{model} has no files `mlperfctl get` can fetch: {why}",
                         f"declare them in mlperf_harness/workloads/{family}/sources.py")
    return tuple(found)


def all_sources() -> dict[str, tuple[Source, ...]]:
    """model -> its declared sources, for every model that has some."""
    from . import names

    out = {}
    for model in names():
        _, module = _family_module(model)
        if model in getattr(module, "SOURCES", {}):
            out[model] = tuple(module.SOURCES[model])
    return out
