"""Plan cells' builds: render each cell once, split it into stages, hash what determines each.

A stage's hash covers its rendered text, its parent's hash, the files it COPYs (locks, harness,
external code), the local wheels it installs and, for the device stage, the base reference and
its local image ID. Equal stages of different cells are one StagePlan (built once per run)."""

from __future__ import annotations

import re
from pathlib import Path

from ..engines.base import ContainerEngine
from ..errors import UserError
from ..matrix import Cell, LoadedMatrix
from ..options import BuildOptions
from . import context as ctx
from . import external, render
from .lock import is_locked, stage_locks
from .stages import (
    GENERATED_SOURCES,
    HASH_VERSION,
    CellPlan,
    StagePlan,
    content_hash,
    image_repo,
    split_stages,
    stage_key,
)


def ca_bundle_files(options: BuildOptions) -> list[Path]:
    files = [Path(p) for p in options.ca_certs]
    for f in files:
        if not f.is_file():
            raise UserError(f"--ca-cert {f}: no such file (give a PEM certificate)")
    return files


def plan(lm: LoadedMatrix, cells: list[Cell], options: BuildOptions, engine: ContainerEngine | None = None,
         base_ids: dict[str, str | None] | None = None) -> list[CellPlan]:
    """Each cell's stages with content hashes and tags; equal stages are one StagePlan."""
    epoch = lm.matrix.build.source_date_epoch
    interned: dict[str, StagePlan] = {}
    base_ids = {} if base_ids is None else base_ids
    ca_extra = ca_context(options) if options.ca_in_image else {}
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
            info = engine.inspect_image(base) if engine else None
            base_ids[base] = info.id if info else None
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
            h = content_hash({"v": HASH_VERSION, "stage": name, "text": body, "epoch": epoch,
                              "parent": parent.hash if parent else None, "context": context_cache[key],
                              "base": [base, base_ids[base]] if name == "device" else None})
            if h not in interned:
                skey = stage_key(cell, name)
                # another LoadGen than the matrix's (a round's, --version) shows in the tags of the runtime
                # stage and every stage above it (their hashes differ anyway, through the parent)
                lg = "" if lm.default_loadgen or name == "device" else f"loadgen-{lm.loadgen}-"
                if name == "implementation":
                    tag = f"{image_repo(cell.id)}:{lg}{h[:16]}"
                else:
                    skey += f"-{lg[:-1]}" if lg else ""
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


def classic_dockerfile(lm: LoadedMatrix, cp: CellPlan, stage: StagePlan, options: BuildOptions) -> str:
    """The stage as the classic builder builds it: the template rendered for the classic builder
    (no RUN --mount: no cache mount, no secret, no wheel mount), FROM the parent stage's image."""
    text = render.render(lm, cp.cell, options.bases, buildkit=False, ca_in_image=options.ca_in_image,
                         wheel_dirs=options.wheel_dirs)
    body = dict(split_stages(text))[stage.name]
    return stage.dockerfile(body)


def _missing_hint(lm: LoadedMatrix, cell: Cell, error: str) -> str:
    impl = lm.matrix.implementations[cell.implementation]
    if impl.kind == "external":
        return f"the source of external implementation {cell.implementation} is not here: " \
               + external.how_to_provide(lm, cell.implementation)
    return error


def wheel_context(paths: list[Path]) -> dict[str, bytes]:
    return {f"wheels/{p.name}": p.read_bytes() for p in paths}


def ca_context(options: BuildOptions) -> dict[str, bytes]:
    return {f"ca-certificates/{i:02d}-{f.stem}.crt": f.read_bytes()
            for i, f in enumerate(ca_bundle_files(options))}
