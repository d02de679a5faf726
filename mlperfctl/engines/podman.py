"""The podman engine, through the `podman` CLI (no API service).

Why the CLI and not docker-py against `podman system service`: the CLI needs no long-running
service (HPC nodes and Slurm jobs have none, and rootless users would each have to start one),
it is the same binary rootful and rootless, and it offers podman's own build (buildah: RUN
--mount cache and secrets) and CDI GPU devices, which the docker-compatible API does not. The
docker engine still talks to the socket for those who run one (`--engine docker --engine-url
unix:///run/podman/podman.sock`).

Image IDs: podman prints IDs without `sha256:`; this module adds it, strips podman's implicit
`localhost/` from tags, and reports only registry digests (not localhost/ ones). Builds are
made reproducible by the project's normalisation (build/normalize.py: save, rewrite the layers
and the config with SOURCE_DATE_EPOCH, load), the same as with docker; podman keeps the loaded
image's ID."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import uuid
from collections import deque
from collections.abc import Callable
from pathlib import Path

from ..errors import UserError
from .base import Builder, BuildFailed, BuildRequest, ContainerEngine, ContainerResult, ContainerSpec, Image
from .cliargs import run_args

FIX = "install it: sudo scripts/podman-setup.sh (or pass --engine docker)"


def _sha(image_id: str) -> str:
    return image_id if image_id.startswith("sha256:") else f"sha256:{image_id}"


def _local(name: str) -> str:
    return name[len("localhost/"):] if name.startswith("localhost/") else name


def _image(d: dict) -> Image:
    tags = d.get("RepoTags") or d.get("Names") or ()
    labels = d.get("Labels") if "Labels" in d else (d.get("Config") or {}).get("Labels")
    return Image(id=_sha(d["Id"]), tags=tuple(_local(t) for t in tags),
                 digests=tuple(x for x in d.get("RepoDigests") or () if not x.startswith("localhost/")),
                 labels=dict(labels or {}), size=d.get("Size"),
                 layers=tuple((d.get("RootFS") or {}).get("Layers") or ()))


class PodmanEngine(ContainerEngine):
    """podman through its CLI. `url` is the binary (default: `podman` on PATH, or MLPERFCTL_PODMAN)."""

    name = "podman"
    load_needs_all_layers = True   # `podman load` of a docker-archive wants every layer's tarball

    def __init__(self, url: str | None = None):
        binary = url or os.environ.get("MLPERFCTL_PODMAN") or shutil.which("podman")
        if not binary or not Path(binary).exists():
            raise UserError(f"podman is not installed ({FIX})")
        self.url = self.binary = binary
        r = self._run(["version", "--format", "{{.Client.Version}}"], check=False)
        if r.returncode != 0:
            raise UserError(f"podman does not work here: {r.stderr.strip().splitlines()[-1:]} ({FIX})")
        self.version = r.stdout.strip()
        self.rootless = os.getuid() != 0

    def _run(self, args: list[str], *, check: bool = True, what: str | None = None, **kw):
        r = subprocess.run([self.binary, *args], capture_output=True, text=True, **kw)
        if check and r.returncode != 0:
            msg = (r.stderr.strip().splitlines() or ["(no message)"])[-1]
            raise UserError(f"{what or 'podman ' + args[0]} failed: {msg}")
        return r

    # ---- facts ----
    def runtimes(self) -> set[str]:
        info = json.loads(self._run(["info", "--format", "json"]).stdout)
        found = {((info.get("host") or {}).get("ociRuntime") or {}).get("name") or "runc"}
        found.update(((info.get("host") or {}).get("runtimes") or {}).keys() if isinstance(
            (info.get("host") or {}).get("runtimes"), dict) else ())
        return found

    def info(self) -> dict:
        return {"engine": "podman", "version": self.version, "rootless": self.rootless, "url": self.binary}

    # ---- images ----
    def inspect_image(self, ref: str) -> Image | None:
        r = self._run(["image", "inspect", "--format", "json", ref], check=False)
        if r.returncode != 0:
            return None
        data = json.loads(r.stdout or "[]")
        return _image(data[0]) if data else None

    def list_images(self, label: str) -> list[Image]:
        r = self._run(["images", "--filter", f"label={label}", "--format", "json"])
        return [_image(d) for d in json.loads(r.stdout or "[]")]

    def tag(self, image_id: str, ref: str) -> None:
        self._run(["tag", image_id, ref])

    def remove_image(self, ref: str, force: bool = False) -> None:
        r = self._run(["rmi", *(["--force"] if force else []), ref], check=False)
        if r.returncode != 0 and "image not known" not in r.stderr and "no such image" not in r.stderr.lower():
            raise UserError(f"podman rmi {ref} failed: {r.stderr.strip()}")

    def pull(self, ref: str) -> str:
        self._run(["pull", "--quiet", ref], what=f"cannot pull {ref}: podman pull")
        return self.inspect_image(ref).id

    def push(self, ref: str) -> None:
        self._run(["push", ref], what=f"cannot push {ref}: podman push")

    def save(self, refs: list[str], fileobj) -> None:
        with tempfile.TemporaryDirectory(prefix="mlperfctl-save-") as tmp:
            path = Path(tmp, "images.tar")
            multi = ["--multi-image-archive"] if len(refs) > 1 else []
            self._run(["save", "--format", "docker-archive", *multi, "-o", str(path), *refs])
            with open(path, "rb") as f:
                shutil.copyfileobj(f, fileobj, 1 << 20)

    def load(self, fileobj) -> list[str]:
        with tempfile.TemporaryDirectory(prefix="mlperfctl-load-") as tmp:
            path = Path(tmp, "images.tar")
            with open(path, "wb") as f:
                shutil.copyfileobj(fileobj, f, 1 << 20)
            r = self._run(["load", "-i", str(path)], check=False)
            if r.returncode != 0:   # podman tries each archive format; the docker-archive reason is the one
                reasons = [ln.strip(" *") for ln in r.stderr.splitlines() if "docker-archive" in ln]
                raise UserError(f"podman load failed: {(reasons or r.stderr.strip().splitlines() or ['?'])[-1]}")
        return [line.strip() for line in r.stdout.splitlines() if line.strip()]

    def import_rootfs(self, stream, ref: str, changes: list[str]) -> str:
        args = ["import"]
        for change in changes:
            args += ["--change", change]
        with tempfile.TemporaryDirectory(prefix="mlperfctl-import-") as tmp:
            path = Path(tmp, "rootfs.tar")
            with open(path, "wb") as f:
                shutil.copyfileobj(stream, f, 1 << 20)
            self._run([*args, str(path), ref], what="podman import")
        return self.inspect_image(ref).id

    # ---- builders ----
    def builder(self, preference: str = "auto", notice: Callable[[str], None] | None = None) -> Builder:
        if preference not in ("auto", "buildkit", "classic"):
            raise UserError(f"unknown builder '{preference}' (choose: auto, buildkit, classic)")
        if preference == "buildkit":
            raise UserError("podman builds with its own builder (buildah), not BuildKit: use --builder auto")
        return PodmanBuilder(self)

    # ---- containers ----
    def run_argv(self, spec: ContainerSpec, name: str | None = None) -> list[str]:
        return run_args(spec, cli=self.binary, name=name, rootless=self.rootless)

    def run(self, spec: ContainerSpec, on_line: Callable[[str], None] | None = None,
            tail_lines: int = 30) -> ContainerResult:
        name = f"mlperfctl-{uuid.uuid4().hex[:12]}"
        tail: deque[str] = deque(maxlen=tail_lines)
        proc = subprocess.Popen(self.run_argv(spec, name), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace")
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                if on_line:
                    on_line(line)
            code = proc.wait()
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self.remove_container(name)
        if code == 125:
            raise UserError(f"the engine could not start the container: {' / '.join(list(tail)[-3:])}")
        return ContainerResult(code, "\n".join(tail))

    def output(self, spec: ContainerSpec) -> str:
        r = subprocess.run(self.run_argv(spec), capture_output=True, text=True, errors="replace",
                           stdin=subprocess.DEVNULL)
        if r.returncode == 125:
            raise UserError(f"the engine could not start the container: {r.stderr.strip()}")
        if r.returncode != 0:
            err = r.stderr.strip().splitlines()[-3:]
            raise UserError(f"{spec.image} {' '.join(spec.argv)} failed (exit code {r.returncode}): "
                            f"{' / '.join(err)}")
        return r.stdout

    def stop(self, container_id: str, timeout: int = 10) -> None:
        self._run(["stop", "--ignore", "--time", str(timeout), container_id], check=False)

    def remove_container(self, container_id: str) -> None:
        self._run(["rm", "--force", "--ignore", container_id], check=False)

    def list_containers(self, label: str) -> list[tuple[str, dict[str, str]]]:
        r = self._run(["ps", "--all", "--filter", f"label={label}", "--format", "json"])
        return [(c["Id"], dict(c.get("Labels") or {})) for c in json.loads(r.stdout or "[]")]

    def copy_from_image(self, image: str, path: str, dest: Path) -> None:
        cid = self._run(["create", "--network", "none", image, "true"], what="podman create").stdout.strip()
        try:
            with tempfile.TemporaryFile() as f:
                proc = subprocess.run([self.binary, "cp", f"{cid}:{path}", "-"], stdout=f,
                                      stderr=subprocess.PIPE, text=False)
                if proc.returncode != 0:
                    raise UserError(f"podman cp {image}:{path} failed: {proc.stderr.decode(errors='replace')}")
                f.seek(0)
                with tarfile.open(fileobj=f) as tar:
                    tar.extractall(dest, filter="data")
        finally:
            self.remove_container(cid)


class PodmanBuilder(Builder):
    """`podman build` (buildah): RUN --mount cache and secrets work, so the template's full variant."""

    kind = "buildah"
    supports_secrets = True

    def __init__(self, engine: PodmanEngine):
        self.engine = engine

    def build(self, request: BuildRequest) -> str:
        with tempfile.TemporaryDirectory(prefix="mlperfctl-pb-") as tmp:
            ctx = Path(tmp, "context")
            ctx.mkdir()
            with tempfile.TemporaryFile() as f:
                f.write(request.context)
                f.seek(0)
                with tarfile.open(fileobj=f) as tar:
                    tar.extractall(ctx, filter="tar")
            iid = Path(tmp, "iid")
            cmd = [self.engine.binary, "build", "--layers", "--iidfile", str(iid),
                   "-f", str(ctx / "Dockerfile")]
            if request.no_cache:
                cmd.append("--no-cache")
            for k, v in sorted(request.labels.items()):
                cmd += ["--label", f"{k}={v}"]
            for sid, src in sorted(request.secrets.items()):
                cmd += ["--secret", f"id={sid},src={src}"]
            cmd.append(str(ctx))
            tail: deque[str] = deque(maxlen=25)
            step = "the build"
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                    errors="replace", stdin=subprocess.DEVNULL)
            for line in proc.stdout:
                line = line.rstrip("\n")
                if request.log:
                    request.log.write(line + "\n")
                tail.append(line)
                if line.startswith("STEP "):
                    step = line.split(": ", 1)[-1]
                    if request.on_step:
                        request.on_step(line)
            if proc.wait() != 0 or not iid.exists():
                raise BuildFailed(" ".join(step.split())[:160], list(tail))
            return _sha(iid.read_text().strip())
