"""The ContainerSpecs of a run, one per (scenario, mode), for exporters: the same harness command
line and hardening as `mlperfctl run`, with the paths as the target platform will see them (they
need not exist here) and the image as a pullable reference (by digest when one is known)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import engines
from ..builder.plan import plan as build_plan
from ..builder.stages import image_repo
from ..engines.base import ContainerSpec
from ..errors import UserError
from ..options import BuildOptions, RunOptions
from ..run.container import CONTAINER_USER, container_spec, harness_args
from ..run.plan import plan as run_plan


@dataclass(frozen=True)
class Job:
    cell: str
    scenario: str
    mode: str
    spec: ContainerSpec
    image_pinned: bool          # the image is referenced by a registry digest

    @property
    def name(self) -> str:
        return f"mlperf-{self.cell}-{self.scenario}-{self.mode}".lower().replace("_", "-").replace(".", "-")


def image_ref(lm, p, build: BuildOptions, image: str | None) -> tuple[str, bool]:
    """(reference, pinned): --image as given; else the cell's registry digest when the engine knows
    one; else its registry tag (--registry) or local tag."""
    if image:
        return image, "@sha256:" in image
    try:
        engine = engines.get(build.engine, build.engine_url)
    except UserError:
        engine = None
    cp = build_plan(lm, [p.cell], build, engine)[0]
    remote = f"{image_repo(cp.cell.id, build.registry)}:{cp.hash[:16]}" if build.registry else None
    if engine is not None:
        for ref in (remote, cp.tag):
            found = engine.inspect_image(ref) if ref else None
            if found and found.digests:
                repo = image_repo(cp.cell.id, build.registry) if build.registry else None
                digest = next((d for d in found.digests if repo and d.startswith(repo + "@")), found.digests[0])
                return digest, True
    return remote or cp.tag, False


def jobs(lm, opts: RunOptions, build: BuildOptions, *, image: str | None = None,
         results_dir: Path = Path("/results"), cache_dir: Path = Path("/cache")) -> list[Job]:
    """One Job per (scenario, mode) of the run's plan."""
    p = run_plan(lm, opts)
    if opts.dataset_dir is None or opts.model_path is None:
        raise UserError("--dataset-dir and --model-path are required: the paths on the target platform's "
                        "nodes (they need not exist here)")
    ref, pinned = image_ref(lm, p, build, image)
    model_path = Path(opts.model_path)
    model_target = f"/model/{model_path.name}"
    if model_path.name != p.model_file:     # a folder holding the model file
        model_target = f"{model_target}/{p.model_file}"
    out = []
    for scenario in p.scenarios:
        for mode in p.modes:
            command = harness_args(p, opts, scenario, mode, model_target, f"/results/{scenario}/{mode}")
            spec = container_spec(p, image=ref, dataset_dir=Path(opts.dataset_dir), model_path=model_path,
                                  results_dir=results_dir, cache_dir=cache_dir, command=command,
                                  user=CONTAINER_USER, owner="export", gpus=opts.gpus)
            out.append(Job(p.cell.id, scenario, mode, spec, pinned))
    return out
