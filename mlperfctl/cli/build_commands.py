"""`mlperfctl build|lock|verify|images|push|pull|save|load` and `mlperfctl base bootstrap`."""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from .. import engines
from .. import matrix as matrix_mod
from ..builder import bundle as bundle_mod
from ..builder import lock as lock_mod
from ..builder.executor import FAILED_STATES, Executor, ImageInfo, Reporter, format_failure
from ..builder.stages import image_repo
from ..errors import UserError
from ..options import build_options
from .common import (
    BackendOpt,
    BaseOpt,
    DeviceOpt,
    ImplOpt,
    JsonOpt,
    MatrixOpt,
    ModelOpt,
    RoundOpt,
    SelectOpt,
    SkipOpt,
    err,
    out,
    select_cells,
    with_round,
)

CaOpt = Annotated[list[Path] | None, typer.Option(
    "--ca-cert", help="Extra CA certificate (PEM) for a TLS-intercepting proxy: used during the build "
                      "only (BuildKit secret). Repeatable; default from MLPERFCTL_CA_CERT (':'-separated), "
                      "plus matrix.yaml's build.ca_certs.")]
CaInImageOpt = Annotated[bool, typer.Option(
    "--ca-in-image", help="Also install the --ca-cert certificates into the image.")]
RegistryOpt = Annotated[str | None, typer.Option(
    "--registry", help="Registry prefix for push/pull, e.g. localhost:5000/lab (default: MLPERFCTL_REGISTRY, "
                       "then matrix.yaml's build.registry).")]
EngineNameOpt = Annotated[str | None, typer.Option(
    "--engine", help="Container engine: docker, podman, or auto (docker when its socket is there, else "
                     "podman; default: MLPERFCTL_ENGINE, else auto).")]
EngineOpt = Annotated[str | None, typer.Option(
    "--engine-url",
    help="Engine socket, e.g. unix:///run/podman/podman.sock (default: MLPERFCTL_ENGINE_URL, DOCKER_HOST, "
         "else the docker socket).")]
WheelDirOpt = Annotated[list[Path] | None, typer.Option(
    "--wheel-dir", help="A folder of wheels the build may use for exact pins it cannot download (e.g. "
                        "torch's CPU build when download.pytorch.org is out of reach). Repeatable; default "
                        "from MLPERFCTL_WHEEL_DIR (':'-separated), which every command reads.")]
BuilderOpt = Annotated[str | None, typer.Option(
    "--builder", help="auto (BuildKit when offered), buildkit or classic (default: MLPERFCTL_BUILDER, else auto).")]


class RichReporter(Reporter):
    """Live progress: one status line for the stage being built, a line per finished stage."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self.status = None

    def notice(self, text):
        err.print(text, highlight=False)

    def stage_start(self, cell, stage):
        if self.quiet:
            return
        mark = " [yellow](unlocked)[/]" if stage.unlocked else ""
        err.print(f"[bold]{escape(cell)}[/] ▸ building stage [cyan]{stage.name}[/] ({stage.key}){mark}",
                  highlight=False)
        self.status = err.status(f"{cell} ▸ {stage.name}: starting", spinner="dots")
        self.status.start()

    def step(self, cell, stage, text):
        if self.status:
            self.status.update(escape(f"{cell} ▸ {stage.name}: {text[:100]}"))

    def stage_done(self, cell, stage, seconds):
        if self.status:
            self.status.stop()
            self.status = None
        if not self.quiet:
            err.print(f"  {stage.name} done in {seconds:.1f}s → {stage.tag}", highlight=False)

    def cell_done(self, info: ImageInfo):
        if self.status:
            self.status.stop()
            self.status = None
        if info.state == "failed":
            err.print(f"[red]error:[/] {escape(format_failure(info))}", highlight=False)
        elif info.state == "unavailable":
            err.print(f"[yellow]skipped {escape(info.cell)}:[/] {escape(info.error or '')}", highlight=False)
        elif not self.quiet:
            err.print(f"[bold]{info.cell}[/]: {info.state} ({info.seconds:.1f}s)", highlight=False)


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f}{unit}" if unit == "B" else f"{n:.1f}{unit}"
        n /= 1000
    return str(n)


def _summary(results: list[ImageInfo], seconds: float) -> None:
    table = Table(title=f"{len(results)} cells in {seconds:.1f}s")
    for col in ("cell", "tag", "size", "seconds", "result"):
        table.add_column(col)
    colour = {"built": "green", "cached": "blue", "pulled": "blue", "failed": "red", "skipped": "yellow",
              "unavailable": "yellow"}
    for r in results:
        result = f"[{colour.get(r.state, 'white')}]{r.state}[/]"
        if r.state == "built":
            result += f" ({', '.join(r.stages_built)})"
        if r.state == "unavailable":
            result += " (external source not here: see the line above)"
        if r.unlocked:
            result += f" [yellow]unlocked: {', '.join(r.unlocked)}[/]"
        table.add_row(r.cell, r.tag.rsplit(":", 1)[-1], _size(r.size), f"{r.seconds:.1f}", result)
    out.print(table)


def build(
    matrix: MatrixOpt = None, implementation: ImplOpt = None, backend: BackendOpt = None,
    device: DeviceOpt = None, model: ModelOpt = None, select: SelectOpt = None, skip: SkipOpt = None,
    base_image: BaseOpt = None, ca_cert: CaOpt = None, ca_in_image: CaInImageOpt = False,
    registry: RegistryOpt = None,
    engine: EngineNameOpt = None, engine_url: EngineOpt = None, builder: BuilderOpt = None,
    wheel_dir: WheelDirOpt = None, version: RoundOpt = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Rebuild every stage from scratch.")] = False,
    push: Annotated[bool, typer.Option("--push", help="Push each cell's image to --registry.")] = False,
    continue_on_error: Annotated[bool, typer.Option(
        "--continue-on-error", help="Go on with the other cells when one fails.")] = False,
    log_dir: Annotated[Path, typer.Option("--log-dir", help="Where each cell's full build log goes.")]
    = Path("out/build-logs"),
    as_json: JsonOpt = False,
):
    """Build the selected cells' images: shared stages once, content-addressed, reproducible."""
    started = time.monotonic()
    lm = with_round(matrix_mod.load(matrix), version)
    cells = select_cells(lm, implementation, backend, device, model, select, skip)
    opts = build_options(lm, base_image=base_image, ca_cert=ca_cert, ca_in_image=ca_in_image, registry=registry,
                         engine=engine, engine_url=engine_url,
                         builder=builder, wheel_dir=wheel_dir, no_cache=no_cache, push=push,
                         continue_on_error=continue_on_error, log_dir=log_dir)
    if push and not opts.registry:
        raise UserError("--push needs a registry: --registry HOST[:PORT][/PREFIX] (or MLPERFCTL_REGISTRY)")
    b = Executor(lm, opts, engines.get(opts.engine, opts.engine_url), RichReporter(quiet=as_json))
    try:
        results = b.build_all(b.plans_for_build(cells))
    finally:
        b.close()
    seconds = time.monotonic() - started
    if as_json:
        print(json.dumps({"seconds": round(seconds, 2), "build_calls": b.build_calls,
                          "cells": [r.as_dict() for r in results]}, indent=2))
    else:
        _summary(results, seconds)
    if any(r.state in FAILED_STATES for r in results):
        raise typer.Exit(1)
    if results and all(r.state == "unavailable" for r in results):
        raise typer.Exit(2)  # nothing could be built: each cell's line says how to provide its source


def lock(
    matrix: MatrixOpt = None, implementation: ImplOpt = None, backend: BackendOpt = None,
    device: DeviceOpt = None, model: ModelOpt = None, select: SelectOpt = None, skip: SkipOpt = None,
    version: RoundOpt = None, as_json: JsonOpt = False,
):
    """Write hashed lock files per stage (locks/<device>/...) with `uv pip compile --generate-hashes`;
    with --version only the runtime stage's lock for that round's LoadGen (runtime-loadgen-<version>.txt)."""
    lm = with_round(matrix_mod.load(matrix), version)
    cells = select_cells(lm, implementation, backend, device, model, select, skip)

    def show(r):
        if not as_json:
            colour = "green" if r.ok else "yellow"
            err.print(f"[{colour}]{r.lock.src}[/]: {r.message}", highlight=False)

    results = lock_mod.lock_cells(lm, cells, progress=show)
    if as_json:
        print(json.dumps([{"lock": r.lock.src, "stage": r.lock.stage, "locked": r.ok, "message": r.message}
                          for r in results], indent=2))
    else:
        bad = [r for r in results if not r.ok]
        out.print(f"{len(results) - len(bad)} of {len(results)} stage locks written or current"
                  + (f"; {len(bad)} not locked (they build from exact pins, marked 'unlocked')" if bad else "")
                  + "; run `mlperfctl generate` to render them into images/", highlight=False)


def verify(
    cell: Annotated[str, typer.Argument(help="The cell to rebuild from scratch and compare.")],
    matrix: MatrixOpt = None, base_image: BaseOpt = None, ca_cert: CaOpt = None,
    engine: EngineNameOpt = None, engine_url: EngineOpt = None,
    builder: BuilderOpt = None, wheel_dir: WheelDirOpt = None, version: RoundOpt = None,
    as_json: JsonOpt = False,
):
    """Rebuild a cell with --no-cache and report whether its image ID is identical."""
    lm = with_round(matrix_mod.load(matrix), version)
    c = lm.parse_cell(cell)
    opts = build_options(lm, base_image=base_image, ca_cert=ca_cert,
    engine=engine, engine_url=engine_url, builder=builder,
                         wheel_dir=wheel_dir)
    engine = engines.get(opts.engine, opts.engine_url)
    b = Executor(lm, opts, engine, RichReporter(quiet=as_json))
    try:
        cp = b.plans([c])[0]
        before = engine.inspect_image(cp.tag)
        if before is None:
            raise UserError(f"{c.id} is not built yet: run `mlperfctl build --select {c.id}` first")
        b.options = dataclasses.replace(opts, no_cache=True)
        info = b.build_all([cp])[0]
    finally:
        b.close()
    if info.state == "failed":
        raise typer.Exit(1)
    after = engine.inspect_image(cp.tag)
    old_layers, new_layers = before.layers, after.layers
    differing = [{"index": i, "before": a, "after": bb}
                 for i, (a, bb) in enumerate(zip(old_layers, new_layers, strict=False)) if a != bb]
    if len(old_layers) != len(new_layers):
        differing.append({"index": min(len(old_layers), len(new_layers)), "before": f"{len(old_layers)} layers",
                          "after": f"{len(new_layers)} layers"})
    same = before.id == after.id
    report = {"cell": c.id, "identical": same, "before": before.id, "after": after.id,
              "differing_layers": differing, "config_differs": same is False and not differing}
    if as_json:
        print(json.dumps(report, indent=2))
    elif same:
        out.print(f"{c.id}: identical: {after.id}", highlight=False)
    else:
        out.print(f"{c.id}: DIFFERENT: {before.id} → {after.id}", highlight=False)
        for d in differing:
            out.print(f"  layer {d['index']}: {d['before']} → {d['after']}", highlight=False)
        if not differing:
            out.print("  the layers are identical: the image config differs", highlight=False)
    if not same:
        raise typer.Exit(1)


def images(
    matrix: MatrixOpt = None, implementation: ImplOpt = None, backend: BackendOpt = None,
    device: DeviceOpt = None, model: ModelOpt = None, select: SelectOpt = None, skip: SkipOpt = None,
    base_image: BaseOpt = None, engine: EngineNameOpt = None, engine_url: EngineOpt = None, version: RoundOpt = None,
    as_json: JsonOpt = False,
):
    """List cells with their image state (built, outdated, missing, pulled), tag and size."""
    lm = with_round(matrix_mod.load(matrix), version)
    cells = select_cells(lm, implementation, backend, device, model, select, skip)
    opts = build_options(lm, base_image=base_image, engine=engine, engine_url=engine_url)
    engine = engines.get(opts.engine, opts.engine_url)
    rows = bundle_mod.image_states(lm, cells, opts, engine)
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} cells")
    for col in ("cell", "state", "tag", "size"):
        table.add_column(col)
    colour = {"built": "green", "pulled": "blue", "outdated": "yellow", "missing": "red"}
    for r in rows:
        table.add_row(r["cell"], f"[{colour[r['state']]}]{r['state']}[/]", r["tag"], _size(r["size"]))
    out.print(table)


def push(
    matrix: MatrixOpt = None, implementation: ImplOpt = None, backend: BackendOpt = None,
    device: DeviceOpt = None, model: ModelOpt = None, select: SelectOpt = None, skip: SkipOpt = None,
    base_image: BaseOpt = None, registry: RegistryOpt = None,
    engine: EngineNameOpt = None, engine_url: EngineOpt = None, version: RoundOpt = None,
):
    """Push the selected cells' current images to --registry."""
    lm = with_round(matrix_mod.load(matrix), version)
    cells = select_cells(lm, implementation, backend, device, model, select, skip)
    opts = build_options(lm, base_image=base_image, registry=registry, engine=engine, engine_url=engine_url)
    b = Executor(lm, opts, engines.get(opts.engine, opts.engine_url))
    try:
        for cp in b.plans(cells):
            out.print(f"{cp.cell.id}: pushed {b.push(cp)}", highlight=False)
    finally:
        b.close()


def pull(
    cells: Annotated[list[str], typer.Argument(help="Cell identifiers.")],
    matrix: MatrixOpt = None, base_image: BaseOpt = None, registry: RegistryOpt = None,
    engine: EngineNameOpt = None, engine_url: EngineOpt = None, version: RoundOpt = None,
):
    """Pull cells' current images from --registry (run then uses them without building)."""
    lm = with_round(matrix_mod.load(matrix), version)
    opts = build_options(lm, base_image=base_image, registry=registry, engine=engine, engine_url=engine_url)
    if not opts.registry:
        raise UserError("pull needs a registry: --registry HOST[:PORT][/PREFIX] (or MLPERFCTL_REGISTRY)")
    engine = engines.get(opts.engine, opts.engine_url)
    b = Executor(lm, opts, engine)
    try:
        for cp in b.plans([lm.parse_cell(c) for c in cells]):
            remote = f"{image_repo(cp.cell.id, opts.registry)}:{cp.hash[:16]}"
            image_id = engine.pull(remote)
            engine.tag(image_id, cp.tag)
            out.print(f"{cp.cell.id}: pulled {remote} ({image_id[:19]})", highlight=False)
    finally:
        b.close()


def save(
    output: Annotated[Path, typer.Option("--output", "-o", help="The bundle file to write (.tar).")],
    matrix: MatrixOpt = None, implementation: ImplOpt = None, backend: BackendOpt = None,
    device: DeviceOpt = None, model: ModelOpt = None, select: SelectOpt = None, skip: SkipOpt = None,
    base_image: BaseOpt = None, engine: EngineNameOpt = None, engine_url: EngineOpt = None,
    version: RoundOpt = None,
):
    """Write one bundle: the cells' image tars and a manifest of digests and cell keys."""
    lm = with_round(matrix_mod.load(matrix), version)
    cells = select_cells(lm, implementation, backend, device, model, select, skip)
    opts = build_options(lm, base_image=base_image, engine=engine, engine_url=engine_url)
    manifest = bundle_mod.save(lm, cells, opts, engines.get(opts.engine, opts.engine_url), output)
    out.print(f"wrote {output}: {len(manifest['images'])} images, {_size(output.stat().st_size)}",
              highlight=False)


def load(
    bundle: Annotated[Path, typer.Argument(help="A bundle written by `mlperfctl save`.")],
    engine: EngineNameOpt = None, engine_url: EngineOpt = None,
):
    """Load a bundle and check every image ID against its manifest."""
    opts = build_options(None, engine=engine, engine_url=engine_url)
    loaded = bundle_mod.load(bundle, engines.get(opts.engine, opts.engine_url))
    for item in loaded:
        out.print(f"{item['cell']}: loaded {item['tag']} ({item['image_id'][:19]})", highlight=False)


base_app = typer.Typer(help="Base images for sites without a registry.", no_args_is_help=True)


@base_app.command("bootstrap")
def base_bootstrap(
    tag: Annotated[str, typer.Option("--tag", help="The image to create.")] = "mlperfctl/debian:bookworm",
    suite: Annotated[str, typer.Option("--suite", help="Debian suite.")] = "bookworm",
    mirror: Annotated[str, typer.Option("--mirror", help="Debian mirror.")] = "http://deb.debian.org/debian",
    engine: EngineNameOpt = None, engine_url: EngineOpt = None,
    force: Annotated[bool, typer.Option("--force", help="Rebuild even if the image exists.")] = False,
):
    """Build a Debian base image locally (debootstrap --variant=minbase + import); needs root."""
    opts = build_options(None, engine=engine, engine_url=engine_url)
    engine = engines.get(opts.engine, opts.engine_url)
    if engine.inspect_image(tag) and not force:
        out.print(f"{tag} exists (use --force to make it again)", highlight=False)
        return
    image_id = bundle_mod.bootstrap_base(engine, tag, suite, mirror, log=lambda t: err.print(t, highlight=False))
    out.print(f"created {tag} ({image_id[:19]}); use it with --base-image cpu={tag}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add these commands to the main app."""
    for fn in (build, lock, verify, images, push, pull, save, load):
        app.command()(fn)
    app.add_typer(base_app, name="base")

