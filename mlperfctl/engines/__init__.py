"""Container engines behind one interface (`base.ContainerEngine`), as plugins.

`ENGINES` is the registry: a name and the module:class that implements it. Only the chosen
engine's module is imported, so an engine's client library is needed only when it is used."""

from __future__ import annotations

import importlib
import os
import shutil

from ..errors import UserError, choices
from .base import ContainerEngine

ENGINES: dict[str, str] = {
    "docker": "mlperfctl.engines.docker:DockerEngine",
    "podman": "mlperfctl.engines.podman:PodmanEngine",
}
DOCKER_SOCKET = "/var/run/docker.sock"


def detect(url: str | None = None) -> str:
    """`auto`: docker when a socket is given or present (DOCKER_HOST, /var/run/docker.sock), else
    podman when it is installed, else docker (whose error says how to set one up)."""
    if url or os.environ.get("DOCKER_HOST") or os.path.exists(DOCKER_SOCKET):
        return "docker"
    return "podman" if shutil.which("podman") else "docker"


def get(name: str = "auto", url: str | None = None) -> ContainerEngine:
    """A connected engine by registry name, or `auto` (see detect); UserError with the fix when
    it is not reachable."""
    if name == "auto":
        name = detect(url)
    if name not in ENGINES:
        raise UserError(f"unknown engine '{name}' {choices(['auto', *ENGINES])}")
    module, _, cls = ENGINES[name].partition(":")
    return getattr(importlib.import_module(module), cls)(url)
