"""The container engine behind a small interface.

docker-py (`Engine.client`) does everything except BuildKit builds: inspect, list, tag,
remove, run, push, pull, save and load. Builds go through a `Builder`: BuildKit through a
docker CLI that offers it (`docker buildx build`, or `DOCKER_BUILDKIT=1 docker build` with a
pre-23 client), else the classic builder through docker-py. The same interface works against
podman's docker-compatible socket (`--engine-url unix:///run/podman/podman.sock`), which only
takes the classic path."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from .errors import UserError

DEFAULT_URL = "unix:///var/run/docker.sock"
FIX = "start it: sudo scripts/engine-setup.sh"


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
    on_step: object = None          # callable(step text) for live progress


def engine_url(url: str | None = None) -> str:
    return url or os.environ.get("MLPERFCTL_ENGINE_URL") or os.environ.get("DOCKER_HOST") or DEFAULT_URL


class Engine:
    """A reachable engine. `client` is the docker-py DockerClient."""

    def __init__(self, url: str | None = None, timeout: int = 600):
        import docker

        self.url = engine_url(url)
        try:
            self.client = docker.DockerClient(base_url=self.url, timeout=timeout)
            self.client.ping()
        except Exception:  # noqa: BLE001 - any failure means no usable engine
            raise UserError(f"cannot reach the container engine at {self.url} ({FIX})") from None
        self._version: dict | None = None

    # ---- facts ----
    @property
    def version(self) -> dict:
        if self._version is None:
            self._version = self.client.version()
        return self._version

    @property
    def is_podman(self) -> bool:
        return any("podman" in c.get("Name", "").lower() for c in self.version.get("Components") or [])

    def run_defaults(self) -> dict:
        """Extra docker-py `containers.run` arguments this engine needs (podman: ulimits)."""
        if self.is_podman:
            import docker

            return {"ulimits": [docker.types.Ulimit(name="nofile", soft=65536, hard=65536),
                                docker.types.Ulimit(name="nproc", soft=65536, hard=65536)]}
        return {}

    # ---- images ----
    def image(self, ref: str) -> dict | None:
        import docker

        try:
            return self.client.api.inspect_image(ref)
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as e:
            if getattr(e, "status_code", None) in (400, 404):
                return None
            raise

    def images_with_label(self, label: str) -> list[dict]:
        """Summaries (Id, RepoTags, RepoDigests, Labels, Size) of images carrying the label."""
        return self.client.api.images(filters={"label": label})

    def tag(self, image_id: str, ref: str) -> None:
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        self.client.api.tag(image_id, repo, tag)

    def remove(self, ref: str, force: bool = False) -> None:
        import docker

        try:
            self.client.api.remove_image(ref, force=force, noprune=False)
        except docker.errors.NotFound:
            pass

    def pull(self, ref: str) -> str:
        """Pull an image; return its ID. Raises UserError with the engine's reason."""
        import docker

        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        try:
            for event in self.client.api.pull(repo, tag, stream=True, decode=True):
                if "error" in event:
                    raise UserError(f"cannot pull {ref}: {event['error'].strip()}")
        except docker.errors.APIError as e:
            raise UserError(f"cannot pull {ref}: {e.explanation or e}") from None
        return self.image(ref)["Id"]

    def push(self, ref: str) -> None:
        import docker

        repo, _, tag = ref.rpartition(":")
        try:
            for event in self.client.api.push(repo, tag, stream=True, decode=True):
                if "error" in event:
                    raise UserError(f"cannot push {ref}: {event['error'].strip()}")
        except docker.errors.APIError as e:
            raise UserError(f"cannot push {ref}: {e.explanation or e}") from None

    def save(self, refs: list[str], fileobj) -> None:
        """`docker save` of several images into one tar (shared layers stored once)."""
        api = self.client.api
        res = api._get(api._url("/images/get"), params={"names": refs}, stream=True)
        api._raise_for_status(res)
        for chunk in res.iter_content(chunk_size=1 << 20):
            fileobj.write(chunk)

    def load(self, fileobj) -> list[str]:
        """`docker load`; returns the engine's messages (e.g. 'Loaded image: ...')."""
        out = []
        for event in self.client.api.load_image(fileobj):
            if "error" in event:
                raise UserError(f"docker load failed: {event['error']}")
            if "stream" in event:
                out.append(event["stream"].strip())
        return out

    # ---- builders ----
    def builder(self, preference: str = "auto", notice=None) -> Builder:
        """The builder to use: BuildKit when the engine and a CLI offer it, else classic."""
        if preference not in ("auto", "buildkit", "classic"):
            raise UserError(f"unknown builder '{preference}' (choose: auto, buildkit, classic)")
        if preference == "classic":
            return ClassicBuilder(self)
        if self.is_podman:
            if preference == "buildkit":
                raise UserError("podman's socket offers no BuildKit: use --builder classic (or auto)")
            return ClassicBuilder(self)
        cli = find_buildkit_cli()
        if cli:
            return BuildKitBuilder(self, *cli)
        if preference == "buildkit":
            raise UserError("no docker CLI with BuildKit here (need `docker buildx`, or docker < 23 "
                            "with DOCKER_BUILDKIT=1): install docker-buildx or set MLPERFCTL_DOCKER_CLI")
        if notice:
            notice("notice: no BuildKit-capable docker CLI found; using the classic builder "
                   "(no pip cache mounts, no --ca-cert)")
        return ClassicBuilder(self)


_CLI_CACHE: dict[str, tuple[str, str] | None] = {}


def find_buildkit_cli() -> tuple[str, str] | None:
    """(path, mode) of a docker CLI that builds with BuildKit: mode 'buildx' or 'env'."""
    candidates = [os.environ.get("MLPERFCTL_DOCKER_CLI"), shutil.which("docker"), "/usr/bin/docker"]
    for path in dict.fromkeys(c for c in candidates if c and Path(c).exists()):
        if path in _CLI_CACHE:
            found = _CLI_CACHE[path]
        else:
            found = None
            try:
                if subprocess.run([path, "buildx", "version"], capture_output=True, timeout=20).returncode == 0:
                    found = (path, "buildx")
                else:
                    r = subprocess.run([path, "version", "--format", "{{.Client.Version}}"],
                                       capture_output=True, text=True, timeout=20)
                    major = re.match(r"(\d+)\.", r.stdout.strip())
                    if major and int(major.group(1)) < 23:
                        found = (path, "env")
            except (OSError, subprocess.TimeoutExpired):
                found = None
            _CLI_CACHE[path] = found
        if found:
            return found
    return None


class Builder:
    kind = "?"
    supports_secrets = False

    def build(self, request: BuildRequest) -> str:
        raise NotImplementedError


class BuildKitBuilder(Builder):
    """`docker buildx build --load` or `DOCKER_BUILDKIT=1 docker build`, context on stdin."""

    kind = "buildkit"
    supports_secrets = True
    STEP = re.compile(r"^#(\d+) (\[[^\]]*\] .*)$")

    def __init__(self, engine: Engine, cli: str, mode: str):
        self.engine, self.cli, self.mode = engine, cli, mode

    def build(self, request: BuildRequest) -> str:
        with tempfile.TemporaryDirectory(prefix="mlperfctl-bk-") as tmp:
            iid = Path(tmp, "iid")
            cmd = [self.cli] + (["buildx", "build", "--load"] if self.mode == "buildx" else ["build"])
            cmd += ["--progress=plain", "--iidfile", str(iid), "-f", "Dockerfile"]
            if request.no_cache:
                cmd.append("--no-cache")
            for k, v in sorted(request.labels.items()):
                cmd += ["--label", f"{k}={v}"]
            for sid, src in sorted(request.secrets.items()):
                cmd += ["--secret", f"id={sid},src={src}"]
            cmd.append("-")
            env = {**os.environ, "DOCKER_BUILDKIT": "1", "DOCKER_HOST": self.engine.url,
                   "BUILDKIT_PROGRESS": "plain"}
            ctx = Path(tmp, "context.tar")
            ctx.write_bytes(request.context)
            steps: dict[str, str] = {}
            failed: str | None = None
            tail: deque[str] = deque(maxlen=25)
            at_error: list[str] = []
            with open(ctx, "rb") as stdin:
                proc = subprocess.Popen(cmd, stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                        text=True, errors="replace", env=env)
                for line in proc.stdout:
                    line = line.rstrip("\n")
                    if request.log:
                        request.log.write(line + "\n")
                    tail.append(line)
                    m = self.STEP.match(line)
                    if m:
                        steps[m.group(1)] = m.group(2)
                        if request.on_step:
                            request.on_step(m.group(2))
                    m = re.match(r"^#(\d+) ERROR", line)
                    if m and failed is None:
                        failed = steps.get(m.group(1), line)
                        at_error = list(tail)  # what follows repeats the command: keep the step's output
                rc = proc.wait()
            if rc != 0:
                if failed is None:
                    failed, at_error = next((ln for ln in reversed(tail) if "error" in ln.lower()), "the build"), tail
                raise BuildFailed(_short(failed), [_short(ln, 300) for ln in at_error])
            return iid.read_text().strip()


class ClassicBuilder(Builder):
    """The engine's classic builder through docker-py."""

    kind = "classic"

    def __init__(self, engine: Engine):
        self.engine = engine

    def build(self, request: BuildRequest) -> str:
        import io

        import docker

        if request.secrets:
            raise UserError("--ca-cert needs BuildKit (secrets keep the certificate out of the image); "
                            "use --builder buildkit with a BuildKit-capable docker CLI, or drop --ca-cert")
        step, tail, image_id = "the build", deque(maxlen=25), None
        try:
            stream = self.engine.client.api.build(
                fileobj=io.BytesIO(request.context), custom_context=True, dockerfile="Dockerfile",
                labels=request.labels, nocache=request.no_cache, rm=True, forcerm=True, pull=False,
                decode=True)
            for event in stream:
                text = event.get("stream", "")
                for line in text.splitlines():
                    if request.log:
                        request.log.write(line + "\n")
                    tail.append(line)
                    if line.startswith("Step "):
                        step = line.split(" : ", 1)[-1] if " : " in line else line
                        if request.on_step:
                            request.on_step(line)
                if "aux" in event and "ID" in event["aux"]:
                    image_id = event["aux"]["ID"]
                if "error" in event:
                    msg = event["error"].strip()
                    if request.log:
                        request.log.write(msg + "\n")
                    tail.append(msg)
                    raise BuildFailed(_short(step), list(tail))
        except docker.errors.APIError as e:
            raise BuildFailed(_short(step), [*tail, str(e)]) from None
        if not image_id:
            raise BuildFailed(_short(step), list(tail))
        return image_id


def _short(step: str, width: int = 160) -> str:
    step = " ".join(step.split())
    return step if len(step) <= width else step[:width - 3] + "..."


def dumps(obj) -> str:
    return json.dumps(obj, indent=2, sort_keys=True)
