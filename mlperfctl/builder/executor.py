"""Build plans on a container engine: each distinct stage at most once per run, a stage whose
tag exists is not built again, every new image normalised so that the same inputs give the same
image ID. `ensure_image` is what `run` uses: the cell's current image, pulled or built."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .. import engines
from ..engines.base import BuildFailed, BuildRequest, ContainerEngine, Image
from ..errors import UserError
from ..matrix import Cell, LoadedMatrix
from ..options import BuildOptions
from . import context as ctx
from . import external, normalize
from .plan import ca_bundle_files, ca_context, classic_dockerfile, plan, wheel_context
from .stages import (
    GENERATED_SOURCES,
    LABEL_BUILDER,
    LABEL_HASH,
    LABEL_STAGE,
    LABEL_UNLOCKED,
    CellPlan,
    StagePlan,
    image_repo,
)

SYSTEM_CA_BUNDLES = ("/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt")
FAILED_STATES = ("failed", "skipped")  # skipped: not built because an earlier cell failed


@dataclass
class ImageInfo:
    """What `ensure_image`/`build_cells` report for one cell."""

    cell: str
    tag: str
    content_hash: str
    state: str                 # built | cached | pulled | failed | skipped | unavailable
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


class Reporter:
    """Progress callbacks; the CLI supplies a rich one, ensure_image a plain one."""

    def notice(self, text: str) -> None: ...
    def stage_start(self, cell: str, stage: StagePlan) -> None: ...
    def step(self, cell: str, stage: StagePlan, text: str) -> None: ...
    def stage_done(self, cell: str, stage: StagePlan, seconds: float) -> None: ...
    def cell_done(self, info: ImageInfo) -> None: ...


def existing_by_hash(engine: ContainerEngine) -> dict[str, Image]:
    """{content hash: image summary} for every image mlperfctl made or pulled (one API call)."""
    out = {}
    for img in engine.list_images(LABEL_HASH):
        h = img.labels.get(LABEL_HASH)
        if h and (h not in out or img.tags):
            out[h] = img
    return out


def ensure_base(engine: ContainerEngine, base: str, device: str, pull: bool) -> str:
    info = engine.inspect_image(base)
    if info:
        return info.id
    why = "pulling is off"
    if pull:
        try:
            return engine.pull(base)
        except UserError as e:
            why = str(e).split(": ", 1)[-1][:200]
    raise UserError(f"base image '{base}' for {device} is not here and cannot be pulled ({why}); "
                    f"make one with `mlperfctl base bootstrap` or pick another with --base-image {device}=IMAGE")


class Executor:
    """Builds plans on one engine, each distinct stage at most once per run."""

    def __init__(self, lm: LoadedMatrix, options: BuildOptions, engine: ContainerEngine | None = None,
                 reporter: Reporter | None = None):
        self.lm, self.options = lm, options
        self.engine = engine or engines.get(options.engine, options.engine_url)
        self.reporter = reporter or Reporter()
        self._builder = None
        self.done: dict[str, str] = {}          # stage hash -> image id built this run
        self.failed: dict[str, str] = {}        # stage hash -> cell whose build failed it
        self.build_calls = 0
        self.unavailable: dict[str, str] = {}  # external implementation -> why its source is not here
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
        fetched = False
        for name in dict.fromkeys(cp.cell.implementation for cp in plans if cp.top.missing):
            if self.lm.matrix.implementations[name].kind == "external":
                why = external.fetch(self.lm, name)
                if why is None:
                    fetched = True
                    self.reporter.notice(f"fetched {name} into {external.source_dir(self.lm, name)}")
                else:
                    self.unavailable[name] = f"{name}: cannot fetch its source ({why}); " \
                        + external.how_to_provide(self.lm, name)
        plans = self.plans(cells) if fetched else plans
        existing = {} if self.options.no_cache else existing_by_hash(self.engine)
        pulled = False
        for cp in plans:
            if cp.hash not in existing and cp.base not in self._bases and not cp.top.missing:
                had = self.engine.inspect_image(cp.base) is not None
                self._bases[cp.base] = ensure_base(self.engine, cp.base, cp.cell.device, self.options.pull_bases)
                pulled = pulled or not had
        return self.plans(cells) if pulled else plans

    def secrets(self) -> dict[str, str]:
        files = ca_bundle_files(self.options)
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
            if self.options.push and self.options.registry and info.state not in ("failed", "unavailable"):
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
        img = self.engine.inspect_image(cp.tag)
        return ImageInfo(cp.cell.id, cp.tag, cp.hash, state, image_id=img.id if img else None,
                         labels=img.labels if img else {},
                         size=img.size if img else None, seconds=round(time.monotonic() - started, 2),
                         unlocked=cp.unlocked, **kw)

    def build_cell(self, cp: CellPlan, existing: dict[str, Image] | None = None) -> ImageInfo:
        started = time.monotonic()
        existing = existing if existing is not None else {}
        opts = self.options
        if cp.hash in existing and not opts.no_cache:
            found = existing[cp.hash]
            if cp.tag not in found.tags:
                self.engine.tag(found.id, cp.tag)
            state = "pulled" if found.digests else "cached"
            return self._info(cp, state, started)
        if opts.registry and not opts.no_cache:
            remote = f"{image_repo(cp.cell.id, opts.registry)}:{cp.hash[:16]}"
            try:
                image_id = self.engine.pull(remote)
                self.engine.tag(image_id, cp.tag)
                return self._info(cp, "pulled", started)
            except UserError:
                pass  # not in the registry: build it
        missing = next((s.missing for s in cp.stages if s.missing), None)
        impl = self.lm.matrix.implementations[cp.cell.implementation]
        if missing and impl.kind == "external":
            why = self.unavailable.get(cp.cell.implementation) or missing
            return ImageInfo(cp.cell.id, cp.tag, cp.hash, "unavailable", unlocked=cp.unlocked, error=why)
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
                if not opts.no_cache and (stage.hash in existing or self.engine.inspect_image(stage.tag)):
                    if stage.hash in existing and stage.tag not in existing[stage.hash].tags:
                        self.engine.tag(existing[stage.hash].id, stage.tag)
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
        extra = {**(ca_context(self.options) if wants_ca else {}), **wheel_context(stage.wheels)}
        plain = [s for s in stage.sources if not s.startswith(GENERATED_SOURCES)]
        dockerfile = stage.dockerfile()
        builder = self.builder
        if builder.kind == "classic":
            if stage.wheels:
                raise UserError("--wheel-dir needs BuildKit (the classic builder cannot mount the wheels "
                                "without baking them into a layer): install docker-buildx or Debian's docker.io")
            dockerfile = classic_dockerfile(self.lm, cp, stage, self.options)
        items = ctx.entries(self.lm.root, plain, {**extra, "Dockerfile": dockerfile.encode()})
        labels = {LABEL_HASH: stage.hash, LABEL_STAGE: stage.name, LABEL_BUILDER: builder.kind}
        if stage.name == "implementation":
            labels[LABEL_UNLOCKED] = ",".join(cp.unlocked)
        request = BuildRequest(ctx.tar_bytes(items, epoch), labels=labels, no_cache=self.options.no_cache,
                               secrets=self.secrets() if builder.supports_secrets else {}, log=log,
                               on_step=lambda text: self.reporter.step(cp.cell.id, stage, text))
        if not builder.supports_secrets and ca_bundle_files(self.options):
            builder.build(BuildRequest(b"", secrets={"ca-bundle": "x"}))  # raises the one-line refusal
        self.build_calls += 1
        raw_id = builder.build(request)
        keep = len(self.engine.inspect_image(stage.parent.tag if stage.parent else cp.base).layers)
        image_id = normalize.normalise_image(self.engine, raw_id, stage.tag, epoch, keep)
        if raw_id != image_id:
            try:
                self.engine.remove_image(raw_id)
            except Exception:  # noqa: BLE001 - a leftover raw image is harmless
                pass
        log.write(f"# stage {stage.name}: {image_id} (normalised from {raw_id})\n")
        self.done[stage.hash] = image_id
        self.reporter.stage_done(cp.cell.id, stage, time.monotonic() - t0)

    def push(self, cp: CellPlan) -> str:
        if not self.options.registry:
            raise UserError("push needs a registry: --registry HOST[:PORT][/PREFIX] (or MLPERFCTL_REGISTRY)")
        remote = f"{image_repo(cp.cell.id, self.options.registry)}:{cp.hash[:16]}"
        if not self.engine.inspect_image(cp.tag):
            raise UserError(f"{cp.cell.id} is not built: run `mlperfctl build --select {cp.cell.id}` first")
        self.engine.tag(cp.tag, remote)
        self.engine.push(remote)
        return remote


# ---------------------------------------------------------------- entry points for run/CLI

def build_cells(lm: LoadedMatrix, cells: list[Cell], options: BuildOptions, engine: ContainerEngine | None = None,
                reporter: Reporter | None = None) -> list[ImageInfo]:
    b = Executor(lm, options, engine, reporter)
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


def ensure_image(lm: LoadedMatrix, cell: Cell, options: BuildOptions,
                 engine: ContainerEngine | None = None, reporter: Reporter | None = None) -> ImageInfo:
    """The cell's current image: the existing one, pulled from options.registry, or built.
    Raises CellBuildError (one message: cell, failing step, log tail) when the build fails."""
    info = build_cells(lm, [cell], options, engine, reporter or _PlainReporter(options.quiet))[0]
    if info.state == "failed":
        raise CellBuildError(info)
    if info.state == "unavailable":
        raise UserError(info.error)
    return info
