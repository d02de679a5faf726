"""Plan and build cells' images: each stage a content-addressed image, shared stages once.

A cell's rendered Dockerfile has four stages (device, runtime, framework, implementation). Each
stage is built as its own image FROM its parent stage's image, and tagged with a hash of
everything that determines it: the stage's rendered text, the parent's hash, the files it
COPYs (locks, harness, external code) and, for the device stage, the base reference and its
local image ID. A cell's tag is its top stage's hash. If an image with that hash exists the
cell is up to date and nothing is built; a harness-only change alters only the top hash.
After each build the image is normalised (mlperfctl.normalize) so that rebuilding the same
inputs gives the same image ID.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from . import context as ctx
from . import normalize, render
from .engine import BuildFailed, BuildRequest, Engine
from .errors import UserError
from .lock import is_locked, stage_locks
from .matrix import Cell, LoadedMatrix

HASH_VERSION = "1"
LABEL_HASH = "io.mlperfctl.content-hash"
LABEL_STAGE = "io.mlperfctl.stage"
LABEL_UNLOCKED = "io.mlperfctl.unlocked-stages"
LABEL_BUILDER = "io.mlperfctl.builder"
STAGES = ("device", "runtime", "framework", "implementation")
GENERATED_SOURCES = ("ca-certificates", "wheels")  # context paths mlperfctl writes, not the project
SYSTEM_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")


@dataclass
class BuildOptions:
    """Typed build options, parsed once (CLI flags, environment, matrix.yaml's `build:`)."""

    bases: dict[str, str] = field(default_factory=dict)      # device -> base image override
    ca_certs: list[Path] = field(default_factory=list)       # extra PEM CAs, build time only
    ca_in_image: bool = False                                # also install them in the image
    wheel_dirs: list[Path] = field(default_factory=list)     # local wheels for unlocked stages
    registry: str | None = None                              # prefix for push/pull
    no_cache: bool = False
    push: bool = False
    continue_on_error: bool = False
    engine_url: str | None = None
    builder: str = "auto"                                    # auto | buildkit | classic
    log_dir: Path = Path("out/build-logs")
    pull_bases: bool = True                                  # pull a missing base image
    quiet: bool = False                                      # no live progress

    @classmethod
    def from_env(cls, **overrides) -> BuildOptions:
        """Defaults from MLPERFCTL_BASE_IMAGE (dev=IMAGE,...), MLPERFCTL_CA_CERT and MLPERFCTL_WHEEL_DIR
        (paths, ':'-separated), MLPERFCTL_REGISTRY, MLPERFCTL_ENGINE_URL, MLPERFCTL_BUILDER; then overrides."""
        env = os.environ
        bases = dict(p.split("=", 1) for p in re.split(r"[,\s]+", env.get("MLPERFCTL_BASE_IMAGE", ""))
                     if "=" in p)
        certs = [Path(p) for p in env.get("MLPERFCTL_CA_CERT", "").split(os.pathsep) if p]
        wheel_dirs = [Path(p) for p in env.get("MLPERFCTL_WHEEL_DIR", "").split(os.pathsep) if p]
        opts = cls(bases=bases, ca_certs=certs, wheel_dirs=wheel_dirs, registry=env.get("MLPERFCTL_REGISTRY") or None,
                   engine_url=env.get("MLPERFCTL_ENGINE_URL") or None,
                   builder=env.get("MLPERFCTL_BUILDER", "auto"))
        for k, v in overrides.items():
            if v is not None:
                setattr(opts, k, v)
        return opts


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

    def dockerfile(self) -> str:
        """The stage as a Dockerfile of its own: FROM the parent stage's image."""
        if self.parent is None:
            return self.text
        return re.sub(r"^FROM \S+ AS (\w+)", lambda m: f"FROM {self.parent.tag} AS {m.group(1)}",
                      self.text, count=1, flags=re.M)


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


@dataclass
class ImageInfo:
    """What `ensure_image`/`build_cells` report for one cell."""

    cell: str
    tag: str
    content_hash: str
    state: str                 # built | cached | pulled | failed | skipped
    image_id: str | None = None
    labels: dict[str, str] = field(default_factory=dict)
    size: int | None = None
    seconds: float = 0.0
    stages_built: list[str] = field(default_factory=list)
    unlocked: list[str] = field(default_factory=list)
    log: str | None = None
    error: str | None = None
    failed_step: str | None = None
    log_tail: list[str] = field(default_factory=list)
    pushed: str | None = None  # the registry reference, with --push

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


class CellBuildError(UserError):
    """A cell failed to build: the cell, the failing step and the log's tail."""

    exit_code = 1

    def __init__(self, info: ImageInfo):
        self.info = info
        super().__init__(format_failure(info))


def format_failure(info: ImageInfo) -> str:
    lines = [f"{info.cell}: build failed at {info.failed_step or 'an unknown step'}"]
    if info.error and not info.failed_step:
        lines = [f"{info.cell}: {info.error}"]
    lines += [f"  | {ln}" for ln in info.log_tail[-15:]]
    if info.log:
        lines.append(f"  full log: {info.log}")
    return "\n".join(lines)


# ---------------------------------------------------------------- planning

def split_stages(text: str) -> list[tuple[str, str]]:
    """[(stage name, its Dockerfile text)] in order, without comment lines: a stage's text
    depends only on what builds it, so cells that share a stage share its text and hash."""
    body = "".join(ln for ln in text.splitlines(keepends=True) if not ln.lstrip().startswith("#"))
    out = []
    for part in re.split(r"^(?=FROM )", body, flags=re.M)[1:]:
        name = re.match(r"FROM \S+ AS (\w+)", part).group(1)
        out.append((name, part.strip("\n") + "\n"))
    return out


def _sha(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def _stage_key(cell: Cell, stage: str) -> str:
    return {"device": f"{cell.device}-device", "runtime": f"{cell.device}-runtime",
            "framework": f"{cell.device}-{cell.backend}"}.get(stage, cell.id)


def image_repo(cell_id: str, registry: str | None = None) -> str:
    return (registry.rstrip("/") + "/" if registry else "") + f"mlperfctl/{cell_id}"


def ca_bundle_files(lm: LoadedMatrix, options: BuildOptions) -> list[Path]:
    files = [Path(p) for p in options.ca_certs] + [lm.root / p for p in lm.matrix.build.ca_certs]
    for f in files:
        if not f.is_file():
            raise UserError(f"--ca-cert {f}: no such file (give a PEM certificate)")
    return files


def plan(lm: LoadedMatrix, cells: list[Cell], options: BuildOptions, engine: Engine | None = None,
         base_ids: dict[str, str | None] | None = None) -> list[CellPlan]:
    """Each cell's stages with content hashes and tags; equal stages are one StagePlan."""
    epoch = lm.matrix.build.source_date_epoch
    interned: dict[str, StagePlan] = {}
    base_ids = {} if base_ids is None else base_ids
    ca_extra = _ca_context(lm, options) if options.ca_in_image else {}
    context_cache: dict[str, str] = {}
    plans = []
    for cell in cells:
        sc = render.stage_context(lm, cell, options.bases, buildkit=True, ca_in_image=options.ca_in_image,
                                  wheel_dirs=options.wheel_dirs)
        text = render.render_context(lm, sc)
        local = {"runtime": sc["runtime"]["wheels"], "framework": sc["framework"]["wheels"],
                 "implementation": sc["impl"]["wheels"]}
        base = re.search(r"^FROM (\S+) AS device", text, flags=re.M).group(1)
        if base not in base_ids:
            info = engine.image(base) if engine else None
            base_ids[base] = info["Id"] if info else None
        locks = stage_locks(lm, cell)
        parent, stages = None, []
        for name, body in split_stages(text):
            sources = ctx.copy_sources(body)
            stage_wheels = local.get(name, [])
            key = "\0".join(sources + [str(w.path) for w in stage_wheels])
            if key not in context_cache:
                extra = {k: v for k, v in ca_extra.items() if any(k.startswith(s) for s in sources)}
                # a wheel's (cached) sha256 stands for its bytes: a large wheel is read once per file change
                extra.update({f"wheels/{w.path.name}": w.sha256.encode() for w in stage_wheels})
                plain = [s for s in sources if not s.startswith(GENERATED_SOURCES)]
                try:
                    context_cache[key] = ctx.digest(ctx.entries(lm.root, plain, extra))
                except UserError as e:
                    context_cache[key] = "missing: " + _missing_hint(lm, cell, str(e))
            h = _sha({"v": HASH_VERSION, "stage": name, "text": body, "epoch": epoch,
                      "parent": parent.hash if parent else None, "context": context_cache[key],
                      "base": [base, base_ids[base]] if name == "device" else None})
            if h not in interned:
                skey = _stage_key(cell, name)
                if name == "implementation":
                    tag = f"{image_repo(cell.id)}:{h[:16]}"
                else:
                    tag = f"mlperfctl/stage:{skey}-{h[:16]}"
                lock = locks.get(name)
                unlocked = name in ("runtime", "framework") or (name == "implementation" and lock is not None)
                unlocked = unlocked and (lock is None or not is_locked(lm, lock))
                missing = context_cache[key][9:] if context_cache[key].startswith("missing: ") else None
                interned[h] = StagePlan(name, skey, body, parent, sources, h, tag, unlocked, missing,
                                        [w.path for w in stage_wheels])
            parent = interned[h]
            stages.append(parent)
        plans.append(CellPlan(cell, stages, base))
    return plans


def _missing_hint(lm: LoadedMatrix, cell: Cell, error: str) -> str:
    impl = lm.matrix.implementations[cell.implementation]
    if impl.kind == "external":
        return (f"external/{cell.implementation} is missing: fetch it with `git clone --depth 1 --branch "
                f"{impl.ref} {impl.repo} {lm.root / 'external' / cell.implementation}`")
    return error


def _wheel_context(paths: list[Path]) -> dict[str, bytes]:
    return {f"wheels/{p.name}": p.read_bytes() for p in paths}


def _ca_context(lm: LoadedMatrix, options: BuildOptions) -> dict[str, bytes]:
    return {f"ca-certificates/{i:02d}-{f.stem}.crt": f.read_bytes()
            for i, f in enumerate(ca_bundle_files(lm, options))}


# ---------------------------------------------------------------- building

class Reporter:
    """Progress callbacks; the CLI supplies a rich one, ensure_image a plain one."""

    def notice(self, text: str) -> None: ...
    def stage_start(self, cell: str, stage: StagePlan) -> None: ...
    def step(self, cell: str, stage: StagePlan, text: str) -> None: ...
    def stage_done(self, cell: str, stage: StagePlan, seconds: float) -> None: ...
    def cell_done(self, info: ImageInfo) -> None: ...


def existing_by_hash(engine: Engine) -> dict[str, dict]:
    """{content hash: image summary} for every image mlperfctl made or pulled (one API call)."""
    out = {}
    for img in engine.images_with_label(LABEL_HASH):
        h = (img.get("Labels") or {}).get(LABEL_HASH)
        if h and (h not in out or img.get("RepoTags")):
            out[h] = img
    return out


def ensure_base(engine: Engine, base: str, device: str, pull: bool) -> str:
    info = engine.image(base)
    if info:
        return info["Id"]
    why = "pulling is off"
    if pull:
        try:
            return engine.pull(base)
        except UserError as e:
            why = str(e).split(": ", 1)[-1][:200]
    raise UserError(f"base image '{base}' for {device} is not here and cannot be pulled ({why}); "
                    f"make one with `mlperfctl base bootstrap` or pick another with --base-image {device}=IMAGE")


class Builder:
    """Builds plans on one engine, each distinct stage at most once per run."""

    def __init__(self, lm: LoadedMatrix, options: BuildOptions, engine: Engine | None = None,
                 reporter: Reporter | None = None):
        self.lm, self.options = lm, options
        self.engine = engine or Engine(options.engine_url)
        self.reporter = reporter or Reporter()
        self._builder = None
        self.done: dict[str, str] = {}          # stage hash -> image id built this run
        self.failed: dict[str, str] = {}        # stage hash -> cell whose build failed it
        self.build_calls = 0
        self._ca_bundle: Path | None = None
        self._bases: dict[str, str] = {}
        self._tmp = tempfile.TemporaryDirectory(prefix="mlperfctl-build-")

    @property
    def builder(self):
        if self._builder is None:
            self._builder = self.engine.builder(self.options.builder, notice=self.reporter.notice)
        return self._builder

    def close(self):
        self._tmp.cleanup()

    def plans(self, cells: list[Cell]) -> list[CellPlan]:
        return plan(self.lm, cells, self.options, self.engine)

    def plans_for_build(self, cells: list[Cell]) -> list[CellPlan]:
        """Plans, after making sure the base of every cell that needs building is here (pulled
        if need be: a missing, unpullable base is a one-line error before anything builds)."""
        plans = self.plans(cells)
        existing = {} if self.options.no_cache else existing_by_hash(self.engine)
        pulled = False
        for cp in plans:
            if cp.hash not in existing and cp.base not in self._bases:
                had = self.engine.image(cp.base) is not None
                self._bases[cp.base] = ensure_base(self.engine, cp.base, cp.cell.device, self.options.pull_bases)
                pulled = pulled or not had
        return self.plans(cells) if pulled else plans

    def secrets(self) -> dict[str, str]:
        files = ca_bundle_files(self.lm, self.options)
        if not files:
            return {}
        if self._ca_bundle is None:
            system = next((Path(p) for p in SYSTEM_CA_BUNDLES if Path(p).is_file()), None)
            if system is None:
                import certifi

                system = Path(certifi.where())
            bundle = Path(self._tmp.name, "ca-bundle.pem")
            bundle.write_bytes(b"\n".join([system.read_bytes()] + [f.read_bytes() for f in files]) + b"\n")
            bundle.chmod(0o600)
            self._ca_bundle = bundle
        return {"ca-bundle": str(self._ca_bundle)}

    def build_all(self, plans: list[CellPlan]) -> list[ImageInfo]:
        existing = {} if self.options.no_cache else existing_by_hash(self.engine)
        results = []
        for cp in plans:
            info = self.build_cell(cp, existing)
            if self.options.push and self.options.registry and info.state != "failed":
                info.pushed = self.push(cp)
            results.append(info)
            self.reporter.cell_done(info)
            if info.state == "failed" and not self.options.continue_on_error:
                for rest in plans[len(results):]:
                    results.append(ImageInfo(rest.cell.id, rest.tag, rest.hash, "skipped",
                                             error="not built: an earlier cell failed"))
                break
        return results

    def _info(self, cp: CellPlan, state: str, started: float, **kw) -> ImageInfo:
        img = self.engine.image(cp.tag)
        return ImageInfo(cp.cell.id, cp.tag, cp.hash, state, image_id=img["Id"] if img else None,
                         labels=(img or {}).get("Config", {}).get("Labels") or {},
                         size=(img or {}).get("Size"), seconds=round(time.monotonic() - started, 2),
                         unlocked=cp.unlocked, **kw)

    def build_cell(self, cp: CellPlan, existing: dict[str, dict] | None = None) -> ImageInfo:
        started = time.monotonic()
        existing = existing if existing is not None else {}
        opts = self.options
        if cp.hash in existing and not opts.no_cache:
            found = existing[cp.hash]
            if cp.tag not in (found.get("RepoTags") or []):
                self.engine.tag(found["Id"], cp.tag)
            state = "pulled" if found.get("RepoDigests") else "cached"
            return self._info(cp, state, started)
        if opts.registry and not opts.no_cache:
            remote = f"{image_repo(cp.cell.id, opts.registry)}:{cp.hash[:16]}"
            try:
                image_id = self.engine.pull(remote)
                self.engine.tag(image_id, cp.tag)
                return self._info(cp, "pulled", started)
            except UserError:
                pass  # not in the registry: build it
        log_path = Path(opts.log_dir).resolve() / f"{cp.cell.id}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        built = []
        with open(log_path, "w") as log:
            log.write(f"# mlperfctl build {cp.cell.id} -> {cp.tag}\n")
            for stage in cp.stages:
                if stage.hash in self.failed:
                    return self._failed(cp, started, log_path, built,
                                        f"shared stage {stage.key} failed (see cell {self.failed[stage.hash]})")
                if stage.hash in self.done:
                    log.write(f"# stage {stage.name}: built earlier in this run as {stage.tag}\n")
                    continue
                if not opts.no_cache and (stage.hash in existing or self.engine.image(stage.tag)):
                    if stage.hash in existing and stage.tag not in (existing[stage.hash].get("RepoTags") or []):
                        self.engine.tag(existing[stage.hash]["Id"], stage.tag)
                    log.write(f"# stage {stage.name}: up to date ({stage.tag})\n")
                    continue
                try:
                    self._build_stage(cp, stage, log)
                    built.append(stage.name)
                except BuildFailed as e:
                    self.failed[stage.hash] = cp.cell.id
                    log.write(f"# FAILED at {e.step}\n")
                    return self._failed(cp, started, log_path, built, None, e.step, e.tail)
                except UserError as e:
                    self.failed[stage.hash] = cp.cell.id
                    log.write(f"# error: {e}\n")
                    return self._failed(cp, started, log_path, built, str(e))
        return self._info(cp, "built" if built else "cached", started, stages_built=built, log=str(log_path))

    def _failed(self, cp, started, log_path, built, error, step=None, tail=None) -> ImageInfo:
        return ImageInfo(cp.cell.id, cp.tag, cp.hash, "failed", seconds=round(time.monotonic() - started, 2),
                         stages_built=built, unlocked=cp.unlocked, log=str(log_path), error=error,
                         failed_step=step, log_tail=list(tail or []))

    def _build_stage(self, cp: CellPlan, stage: StagePlan, log) -> None:
        t0 = time.monotonic()
        epoch = self.lm.matrix.build.source_date_epoch
        if stage.missing:
            raise UserError(stage.missing)
        if stage.parent is None:
            ensure_base(self.engine, cp.base, cp.cell.device, self.options.pull_bases)
        self.reporter.stage_start(cp.cell.id, stage)
        log.write(f"# stage {stage.name} ({stage.key}) -> {stage.tag}"
                  f"{' [unlocked: exact pins, no hashes]' if stage.unlocked else ''}\n")
        log.flush()
        wants_ca = any(s.startswith("ca-certificates") for s in stage.sources)
        extra = {**(_ca_context(self.lm, self.options) if wants_ca else {}), **_wheel_context(stage.wheels)}
        plain = [s for s in stage.sources if not s.startswith(GENERATED_SOURCES)]
        dockerfile = stage.dockerfile()
        builder = self.builder
        if builder.kind == "classic":
            if stage.wheels:
                raise UserError("--wheel-dir needs BuildKit (the classic builder cannot mount the wheels "
                                "without baking them into a layer): install docker-buildx or Debian's docker.io")
            dockerfile = _classic(dockerfile)
        items = ctx.entries(self.lm.root, plain, {**extra, "Dockerfile": dockerfile.encode()})
        labels = {LABEL_HASH: stage.hash, LABEL_STAGE: stage.name, LABEL_BUILDER: builder.kind}
        if stage.name == "implementation":
            labels[LABEL_UNLOCKED] = ",".join(cp.unlocked)
        request = BuildRequest(ctx.tar_bytes(items, epoch), labels=labels, no_cache=self.options.no_cache,
                               secrets=self.secrets() if builder.supports_secrets else {}, log=log,
                               on_step=lambda text: self.reporter.step(cp.cell.id, stage, text))
        if not builder.supports_secrets and ca_bundle_files(self.lm, self.options):
            builder.build(BuildRequest(b"", secrets={"ca-bundle": "x"}))  # raises the one-line refusal
        self.build_calls += 1
        raw_id = builder.build(request)
        keep = len(self.engine.image(stage.parent.tag)["RootFS"]["Layers"]) if stage.parent else \
            len(self.engine.image(cp.base)["RootFS"]["Layers"])
        image_id = normalize.normalise_image(self.engine, raw_id, stage.tag, epoch, keep)
        if raw_id != image_id:
            try:
                self.engine.remove(raw_id)
            except Exception:  # noqa: BLE001 - a leftover raw image is harmless
                pass
        log.write(f"# stage {stage.name}: {image_id} (normalised from {raw_id})\n")
        self.done[stage.hash] = image_id
        self.reporter.stage_done(cp.cell.id, stage, time.monotonic() - t0)

    def push(self, cp: CellPlan) -> str:
        if not self.options.registry:
            raise UserError("push needs a registry: --registry HOST[:PORT][/PREFIX] (or MLPERFCTL_REGISTRY)")
        remote = f"{image_repo(cp.cell.id, self.options.registry)}:{cp.hash[:16]}"
        if not self.engine.image(cp.tag):
            raise UserError(f"{cp.cell.id} is not built: run `mlperfctl build --select {cp.cell.id}` first")
        self.engine.tag(cp.tag, remote)
        self.engine.push(remote)
        return remote


def _classic(dockerfile: str) -> str:
    """The classic builder has no RUN --mount: drop the mount flags and pip's cache."""
    text = re.sub(r"RUN --mount=\S+ \\\n(\s+--mount=\S+ \\\n)*\s+", "RUN ", dockerfile)
    text = text.replace(" && if [ -f /run/secrets/ca-bundle ]; then export PIP_CERT=/run/secrets/ca-bundle "
                        "SSL_CERT_FILE=/run/secrets/ca-bundle; fi \\\n", "")
    return text.replace("pip install --no-compile", "pip install --no-compile --no-cache-dir")


# ---------------------------------------------------------------- entry points for run/CLI

def build_cells(lm: LoadedMatrix, cells: list[Cell], options: BuildOptions, engine: Engine | None = None,
                reporter: Reporter | None = None) -> list[ImageInfo]:
    b = Builder(lm, options, engine, reporter)
    try:
        return b.build_all(b.plans_for_build(cells))
    finally:
        b.close()


class _PlainReporter(Reporter):
    def __init__(self, quiet: bool):
        from rich.console import Console

        self.console = Console(stderr=True, soft_wrap=True)
        self.quiet = quiet

    def notice(self, text):
        self.console.print(text, highlight=False)

    def stage_start(self, cell, stage):
        if not self.quiet:
            self.console.print(f"[bold]{cell}[/]: building stage {stage.name} ({stage.key})"
                               f"{' [yellow]unlocked[/]' if stage.unlocked else ''}", highlight=False)

    def stage_done(self, cell, stage, seconds):
        if not self.quiet:
            self.console.print(f"{cell}: stage {stage.name} done in {seconds:.1f}s", highlight=False)


def ensure_image(lm: LoadedMatrix, cell: Cell, options: BuildOptions | None = None,
                 engine: Engine | None = None, reporter: Reporter | None = None) -> ImageInfo:
    """The cell's current image: the existing one, pulled from options.registry, or built.
    Raises CellBuildError (one message: cell, failing step, log tail) when the build fails."""
    options = options or BuildOptions.from_env()
    info = build_cells(lm, [cell], options, engine, reporter or _PlainReporter(options.quiet))[0]
    if info.state == "failed":
        raise CellBuildError(info)
    return info
