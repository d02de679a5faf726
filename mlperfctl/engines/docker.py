"""The docker engine: the only module that imports docker-py or reads docker's JSON shapes.

docker-py does everything except BuildKit builds: inspect, list, tag, remove, run, push, pull,
save and load. Builds go through a `Builder`: BuildKit through a docker CLI that offers it
(`docker buildx build`, or `DOCKER_BUILDKIT=1 docker build` with a pre-23 client), else the
classic builder through docker-py. The same engine works against podman's docker-compatible
socket (`--engine-url unix:///run/podman/podman.sock`), which only takes the classic path."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections import deque
from collections.abc import Callable
from pathlib import Path

import docker
from docker.types import DeviceRequest, Ulimit
from docker.types import Mount as DockerMount

from ..errors import UserError
from .base import (
    Builder,
    BuildFailed,
    BuildRequest,
    ContainerEngine,
    ContainerResult,
    ContainerSpec,
    Image,
)

DEFAULT_URL = "unix:///var/run/docker.sock"
FIX = "start it: sudo scripts/engine-setup.sh"
PODMAN_ULIMITS = (("nofile", 65536, 65536), ("nproc", 65536, 65536))


def _split_ref(ref: str) -> tuple[str, str]:
    repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
    return repo, tag


def _image(d: dict) -> Image:
    """docker's inspect or list JSON as a neutral Image."""
    labels = d.get("Labels") if "Labels" in d else (d.get("Config") or {}).get("Labels")
    return Image(id=d["Id"], tags=tuple(d.get("RepoTags") or ()), digests=tuple(d.get("RepoDigests") or ()),
                 labels=dict(labels or {}), size=d.get("Size"),
                 layers=tuple((d.get("RootFS") or {}).get("Layers") or ()))


class DockerEngine(ContainerEngine):
    """A reachable docker (or podman-compatible) socket. `client` is the docker-py DockerClient."""

    name = "docker"

    def __init__(self, url: str | None = None, timeout: int = 600):
        self.url = url or os.environ.get("DOCKER_HOST") or DEFAULT_URL
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

    def runtimes(self) -> set[str]:
        return set(self.client.info().get("Runtimes") or {})

    def info(self) -> dict:
        return {"engine": "podman" if self.is_podman else "docker", "version": self.version.get("Version"),
                "api": self.version.get("ApiVersion"), "url": self.url}

    # ---- images ----
    def inspect_image(self, ref: str) -> Image | None:
        try:
            return _image(self.client.api.inspect_image(ref))
        except docker.errors.ImageNotFound:
            return None
        except docker.errors.APIError as e:
            if getattr(e, "status_code", None) in (400, 404):
                return None
            raise

    def list_images(self, label: str) -> list[Image]:
        return [_image(d) for d in self.client.api.images(filters={"label": label})]

    def tag(self, image_id: str, ref: str) -> None:
        self.client.api.tag(image_id, *_split_ref(ref))

    def remove_image(self, ref: str, force: bool = False) -> None:
        try:
            self.client.api.remove_image(ref, force=force, noprune=False)
        except docker.errors.NotFound:
            pass

    def pull(self, ref: str) -> str:
        repo, tag = _split_ref(ref)
        try:
            for event in self.client.api.pull(repo, tag, stream=True, decode=True):
                if "error" in event:
                    raise UserError(f"cannot pull {ref}: {event['error'].strip()}")
        except docker.errors.APIError as e:
            raise UserError(f"cannot pull {ref}: {e.explanation or e}") from None
        return self.inspect_image(ref).id

    def push(self, ref: str) -> None:
        repo, _, tag = ref.rpartition(":")
        try:
            for event in self.client.api.push(repo, tag, stream=True, decode=True):
                if "error" in event:
                    raise UserError(f"cannot push {ref}: {event['error'].strip()}")
        except docker.errors.APIError as e:
            raise UserError(f"cannot push {ref}: {e.explanation or e}") from None

    def save(self, refs: list[str], fileobj) -> None:
        api = self.client.api
        res = api._get(api._url("/images/get"), params={"names": refs}, stream=True)
        api._raise_for_status(res)
        for chunk in res.iter_content(chunk_size=1 << 20):
            fileobj.write(chunk)

    def load(self, fileobj) -> list[str]:
        out = []
        for event in self.client.api.load_image(fileobj):
            if "error" in event:
                raise UserError(f"docker load failed: {event['error']}")
            if "stream" in event:
                out.append(event["stream"].strip())
        return out

    def import_rootfs(self, stream, ref: str, changes: list[str]) -> str:
        repo, tag = _split_ref(ref)
        result = self.client.api.import_image_from_stream(stream, repository=repo, tag=tag, changes=changes)
        if "error" in str(result):
            raise UserError(f"import failed: {result}")
        return self.inspect_image(ref).id

    # ---- builders ----
    def builder(self, preference: str = "auto", notice: Callable[[str], None] | None = None) -> Builder:
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

    # ---- containers ----
    def run_kwargs(self, spec: ContainerSpec) -> dict:
        """The spec as docker-py `containers.run` keyword arguments (never privileged)."""
        kw = {
            "image": spec.image,
            "command": list(spec.argv),
            "detach": True,
            "mounts": [DockerMount(m.target, m.source, type="bind", read_only=m.read_only) for m in spec.mounts],
            "network_mode": spec.network,
            "environment": dict(spec.env),
            "read_only": spec.read_only_root,
            "privileged": False,
            "cap_drop": list(spec.cap_drop),
            "security_opt": list(spec.security_opt),
            "labels": dict(spec.labels),
        }
        for key, value in (("user", spec.user), ("working_dir", spec.working_dir), ("shm_size", spec.shm_size)):
            if value is not None:
                kw[key] = value
        if spec.entrypoint is not None:
            kw["entrypoint"] = list(spec.entrypoint)
        if spec.tmpfs:
            kw["tmpfs"] = dict(spec.tmpfs)
        if spec.devices:
            kw["devices"] = [f"{d}:{d}:rwm" for d in spec.devices]
        if spec.group_add:
            kw["group_add"] = list(spec.group_add)
        if spec.gpu is not None:
            if spec.gpu.vendor != "nvidia":
                raise UserError(f"the docker engine requests {spec.gpu.vendor} GPUs through devices, "
                                "not a GPU request (pass /dev/kfd and /dev/dri)")
            kw["device_requests"] = [DeviceRequest(count=spec.gpu.count, capabilities=[["gpu"]])]
        limits = spec.limits or (PODMAN_ULIMITS if self.is_podman else ())
        if limits:
            kw["ulimits"] = [Ulimit(name=n, soft=s, hard=h) for n, s, h in limits]
        return kw

    def run(self, spec: ContainerSpec, on_line: Callable[[str], None] | None = None,
            tail_lines: int = 30) -> ContainerResult:
        try:
            container = self.client.containers.run(**self.run_kwargs(spec))
        except docker.errors.APIError as e:
            raise UserError(f"the engine could not start the container: {e.explanation or e}") from None
        tail: deque[str] = deque(maxlen=tail_lines)
        try:
            buffer = b""
            for chunk in container.logs(stream=True, follow=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode(errors="replace")
                    tail.append(line)
                    if on_line:
                        on_line(line)
            if buffer:
                line = buffer.decode(errors="replace")
                tail.append(line)
                if on_line:
                    on_line(line)
            code = container.wait().get("StatusCode", 1)
            return ContainerResult(code, "\n".join(tail))
        finally:
            container.remove(force=True)

    def output(self, spec: ContainerSpec) -> str:
        kw = self.run_kwargs(spec)
        kw.pop("detach")
        try:
            out = self.client.containers.run(**kw, remove=True)
        except docker.errors.ContainerError as e:
            err = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-3:]
            raise UserError(f"{spec.image} {' '.join(spec.argv)} failed (exit code {e.exit_status}): "
                            f"{' / '.join(err)}") from None
        except docker.errors.APIError as e:
            raise UserError(f"the engine could not start the container: {e.explanation or e}") from None
        return out.decode(errors="replace")

    def stop(self, container_id: str, timeout: int = 10) -> None:
        try:
            self.client.api.stop(container_id, timeout=timeout)
        except docker.errors.NotFound:
            pass

    def remove_container(self, container_id: str) -> None:
        try:
            self.client.api.remove_container(container_id, force=True)
        except docker.errors.NotFound:
            pass

    def list_containers(self, label: str) -> list[tuple[str, dict[str, str]]]:
        return [(c["Id"], dict(c.get("Labels") or {}))
                for c in self.client.api.containers(all=True, filters={"label": label})]

    def copy_from_image(self, image: str, path: str, dest: Path) -> None:
        container = self.client.api.create_container(image, command=["true"], network_disabled=True)
        cid = container["Id"]
        try:
            stream, _ = self.client.api.get_archive(cid, path)
            with tempfile.TemporaryFile() as f:
                for chunk in stream:
                    f.write(chunk)
                f.seek(0)
                with tarfile.open(fileobj=f) as tar:
                    tar.extractall(dest, filter="data")
        finally:
            self.remove_container(cid)


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


class BuildKitBuilder(Builder):
    """`docker buildx build --load` or `DOCKER_BUILDKIT=1 docker build`, context on stdin."""

    kind = "buildkit"
    supports_secrets = True
    STEP = re.compile(r"^#(\d+) (\[[^\]]*\] .*)$")

    def __init__(self, engine: DockerEngine, cli: str, mode: str):
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

    def __init__(self, engine: DockerEngine):
        self.engine = engine

    def build(self, request: BuildRequest) -> str:
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
