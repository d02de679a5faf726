"""Container engines behind one interface (`base.ContainerEngine`), as plugins.

`ENGINES` is the registry: a name and the module:class that implements it. Only the chosen
engine's module is imported, so an engine's client library is needed only when it is used."""

from __future__ import annotations

import importlib

from ..errors import UserError, choices
from .base import ContainerEngine

ENGINES: dict[str, str] = {
    "docker": "mlperfctl.engines.docker:DockerEngine",
}


def get(name: str = "docker", url: str | None = None) -> ContainerEngine:
    """A connected engine by registry name (UserError with the fix when it is not reachable)."""
    if name not in ENGINES:
        raise UserError(f"unknown engine '{name}' {choices(list(ENGINES))}")
    module, _, cls = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)(url)
