"""The container engine interface and the neutral values that cross it.

Everything above this package (build, run, bundles) talks to a `ContainerEngine` and passes
plain values: a `ContainerSpec` to run, a `BuildRequest` to build, and gets `Image` records
back. An engine translates them to its own API; nothing outside `mlperfctl/engines` knows an
engine's client library or its JSON shapes. A cluster launcher (Slurm, Kubernetes) can take the
same `ContainerSpec` through `to_dict()`."""

from __future__ import annotations

import abc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO


class BuildFailed(Exception):
    """A build step failed: which one, and the log's last lines."""

    def __init__(self, step: str, tail: list[str]):
        self.step, self.tail = step, tail
        super().__init__(f"failed at {step}")


@dataclass
class BuildRequest:
    context: bytes                  # a tar with the Dockerfile at its root
    labels: dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    secrets: dict[str, str] = field(default_factory=dict)  # id -> host file (BuildKit only)
    log: IO[str] | None = None
    on_step: Callable[[str], None] | None = None  # live progress: the step being run


class Builder(abc.ABC):
    """One way of building on an engine. `kind` names it ("buildkit", "classic") for labels
    and for the template's variant: the classic builder has no RUN --mount (cache, secrets)."""

    kind = "?"
    supports_secrets = False

    @abc.abstractmethod
    def build(self, request: BuildRequest) -> str:
        """Build the request's context; return the new image's ID or raise BuildFailed."""


@dataclass(frozen=True)
class Image:
    """What the engine knows of one image, in the engine's neutral terms."""

    id: str
    tags: tuple[str, ...] = ()
    digests: tuple[str, ...] = ()          # registry digests (repo@sha256:...): it was pulled or pushed
    labels: dict[str, str] = field(default_factory=dict, hash=False)
    size: int | None = None
    layers: tuple[str, ...] = ()           # diff IDs, bottom first (empty in list_images summaries)


@dataclass(frozen=True)
class Mount:
    source: str                            # host path (absolute)
    target: str                            # path in the container
    read_only: bool = True


@dataclass(frozen=True)
class GpuRequest:
    vendor: str                            # "nvidia" | "amd"
    count: int = -1                        # -1: all


@dataclass(frozen=True)
class ContainerSpec:
    """One container to run, as a plain value. Defaults are the hardened ones."""

    image: str
    argv: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    devices: tuple[str, ...] = ()          # host device paths passed through as-is (rwm)
    gpu: GpuRequest | None = None
    group_add: tuple[str, ...] = ()        # extra group IDs (e.g. the groups owning /dev/kfd, /dev/dri)
    user: str | None = None                # "uid:gid"
    env: tuple[tuple[str, str], ...] = ()
    working_dir: str | None = None
    network: str = "none"                  # "none" is the only value launchers must support
    read_only_root: bool = True
    tmpfs: tuple[tuple[str, str], ...] = (("/tmp", "rw,exec,size=4g"),)
    cap_drop: tuple[str, ...] = ("ALL",)
    security_opt: tuple[str, ...] = ("no-new-privileges",)
    shm_size: str | None = None
    labels: tuple[tuple[str, str], ...] = ()
    limits: tuple[tuple[str, int, int], ...] = ()   # ulimits: (name, soft, hard)
    entrypoint: tuple[str, ...] | None = None       # None: the image's own

    def to_dict(self) -> dict:
        """JSON-ready: for a launcher that writes the container out (Slurm script, Kubernetes Job)."""
        d = asdict(self)
        for key in ("env", "tmpfs", "labels"):
            d[key] = dict(getattr(self, key))
        d["limits"] = [{"name": n, "soft": s, "hard": h} for n, s, h in self.limits]
        for key, value in d.items():
            if isinstance(value, tuple):
                d[key] = list(value)
        d["mounts"] = [asdict(m) for m in self.mounts]
        return d


@dataclass(frozen=True)
class ContainerResult:
    exit_code: int
    tail: str                              # the last lines of the output


class ContainerEngine(abc.ABC):
    """A reachable container engine: images, builds and containers."""

    name = "?"
    url: str

    # ---- facts ----
    @abc.abstractmethod
    def runtimes(self) -> set[str]:
        """The OCI runtimes the engine offers (e.g. {"runc", "nvidia"})."""

    @abc.abstractmethod
    def info(self) -> dict:
        """Engine facts for people and logs (name, version, url)."""

    # ---- images ----
    @abc.abstractmethod
    def inspect_image(self, ref: str) -> Image | None:
        """The image by tag or ID, or None when the engine has no such image."""

    @abc.abstractmethod
    def list_images(self, label: str) -> list[Image]:
        """Images carrying the label (`key` or `key=value`)."""

    @abc.abstractmethod
    def tag(self, image_id: str, ref: str) -> None: ...

    @abc.abstractmethod
    def remove_image(self, ref: str, force: bool = False) -> None:
        """Remove an image; no error when it is already gone."""

    @abc.abstractmethod
    def builder(self, preference: str = "auto", notice: Callable[[str], None] | None = None) -> Builder:
        """The builder to use: `auto`, `buildkit` or `classic` (UserError when not offered)."""

    @abc.abstractmethod
    def pull(self, ref: str) -> str:
        """Pull an image; return its ID. UserError with the engine's reason."""

    @abc.abstractmethod
    def push(self, ref: str) -> None: ...

    @abc.abstractmethod
    def save(self, refs: list[str], fileobj) -> None:
        """A docker-archive tar of the images (shared layers once) into fileobj."""

    @abc.abstractmethod
    def load(self, fileobj) -> list[str]:
        """Load a docker-archive tar; returns the engine's messages."""

    @abc.abstractmethod
    def import_rootfs(self, stream, ref: str, changes: list[str]) -> str:
        """Import a root filesystem tar stream as image `ref` with Dockerfile `changes`; its ID."""

    # ---- containers ----
    @abc.abstractmethod
    def run(self, spec: ContainerSpec, on_line: Callable[[str], None] | None = None,
            tail_lines: int = 30) -> ContainerResult:
        """Run the container to its end, streaming output lines (stdout and stderr) to on_line;
        the container is always removed."""

    @abc.abstractmethod
    def output(self, spec: ContainerSpec) -> str:
        """Run the container to its end and return its stdout (UserError when it fails)."""

    @abc.abstractmethod
    def stop(self, container_id: str, timeout: int = 10) -> None: ...

    @abc.abstractmethod
    def remove_container(self, container_id: str) -> None:
        """Remove (force) a container; no error when it is already gone."""

    @abc.abstractmethod
    def list_containers(self, label: str) -> list[tuple[str, dict[str, str]]]:
        """(id, labels) of every container, running or not, carrying the label (`key` or `key=value`)."""

    def remove_containers(self, label: str) -> int:
        """Remove every container carrying the label; how many."""
        found = self.list_containers(label)
        for cid, _ in found:
            self.remove_container(cid)
        return len(found)

    @abc.abstractmethod
    def copy_from_image(self, image: str, path: str, dest: Path) -> None:
        """Copy a folder out of an image, without running it, into dest."""
