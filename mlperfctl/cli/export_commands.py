"""`mlperfctl export kubernetes` and `mlperfctl export apptainer`: a run written out for another
platform from the same ContainerSpec as `mlperfctl run`."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml

from .. import matrix as matrix_mod
from ..errors import UserError
from ..export import apptainer as apptainer_mod
from ..export import kubernetes as k8s
from ..export import specs
from ..options import build_options, run_options
from .build_commands import EngineNameOpt, EngineOpt, RegistryOpt
from .common import BaseOpt, MatrixOpt, out

Opt = typer.Option
export_app = typer.Typer(help="Write a run out for Kubernetes or Apptainer (nothing is run).",
                         no_args_is_help=True)

ScenarioOpt = Annotated[str, Opt(help="Offline, Server, SingleStream, MultiStream.")]
ModeOpt = Annotated[str, Opt(help="performance, accuracy, or all.")]
ExecOpt = Annotated[str, Opt(help="test, fast or valid.")]
DataOpt = Annotated[Path | None, Opt(help="The dataset folder as the nodes see it (need not exist here).")]
ModelPathOpt = Annotated[Path | None, Opt(help="The model file or folder as the nodes see it.")]
ImageOpt = Annotated[str | None, Opt(help="Image reference to use (default: the cell's, by registry digest "
                                          "when the engine knows one).")]


def _kv(items, what: str) -> dict[str, str]:
    result = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"{what} '{item}' must be KEY=VALUE")
        result[key] = value
    return result


@export_app.command()
def kubernetes(
    model: Annotated[str, Opt("--model", "-m", help="The benchmark.")],
    output: Annotated[Path, Opt("--output", "-o", help="Folder for the manifests (one file per Job).")],
    scenario: ScenarioOpt = "Offline", mode: ModeOpt = "all", execution_mode: ExecOpt = "test",
    device: Annotated[str | None, Opt("--device", "-d")] = "cpu",
    backend: Annotated[str | None, Opt("--backend", "-b")] = None,
    implementation: Annotated[str | None, Opt("--implementation", "-i")] = None,
    precision: Annotated[str | None, Opt()] = None,
    dataset_dir: DataOpt = None, model_path: ModelPathOpt = None,
    target_qps: Annotated[float | None, Opt()] = None, target_latency: Annotated[float | None, Opt()] = None,
    threads: Annotated[int | None, Opt()] = None, count: Annotated[int | None, Opt()] = None,
    image: ImageOpt = None,
    namespace: Annotated[str | None, Opt(help="The Jobs' namespace.")] = None,
    node_selector: Annotated[list[str] | None, Opt(help="KEY=VALUE node label (repeatable).")] = None,
    claim: Annotated[list[str] | None, Opt(help="PATH=PVC: mount this PersistentVolumeClaim read-only at "
                                                "/data or /model (default: hostPath of the given paths).")] = None,
    results_claim: Annotated[str | None, Opt(help="PVC for the results (default: a hostPath).")] = None,
    results_host_path: Annotated[str | None, Opt(help="hostPath for the results without --results-claim.")] = None,
    gpus: Annotated[int, Opt(help="GPUs per Job (nvidia.com/gpu or amd.com/gpu) for cuda and rocm cells.")] = 1,
    registry: RegistryOpt = None, engine: EngineNameOpt = None, engine_url: EngineOpt = None,
    base_image: BaseOpt = None, matrix: MatrixOpt = None,
):
    """One batch/v1 Job per (cell, scenario, mode), plus a NetworkPolicy denying all traffic."""
    lm = matrix_mod.load(matrix)
    opts = run_options(model=model, scenario=scenario, mode=mode, execution_mode=execution_mode, device=device,
                       backend=backend, implementation=implementation, precision=precision,
                       dataset_dir=dataset_dir, model_path=model_path, target_qps=target_qps,
                       target_latency=target_latency, threads=threads, count=count)
    build = build_options(lm, base_image=base_image, registry=registry, engine=engine, engine_url=engine_url,
                          quiet=True)
    found = specs.jobs(lm, opts, build, image=image)
    claims = _kv(claim, "--claim")
    selector = _kv(node_selector, "--node-selector")
    output.mkdir(parents=True, exist_ok=True)
    written = []
    for job in found:
        manifest = k8s.job_manifest(job, namespace=namespace, node_selector=selector, claims=claims, gpus=gpus,
                                    results_claim=results_claim, results_host_path=results_host_path)
        path = output / f"{manifest['metadata']['name']}.yaml"
        path.write_text(yaml.safe_dump(manifest, sort_keys=False))
        written.append(path)
    policy = output / "networkpolicy.yaml"
    policy.write_text(yaml.safe_dump(k8s.network_policy(namespace), sort_keys=False))
    written.append(policy)
    for path in written:
        out.print(str(path), highlight=False)
    if not found[0].image_pinned:
        out.print(f"note: image {found[0].spec.image} by tag (no registry digest known: `mlperfctl push` first)",
                  highlight=False)
    out.print(f"apply: kubectl apply -f {output}", highlight=False)


@export_app.command()
def apptainer(
    cell: Annotated[str, typer.Argument(help="The cell, e.g. python-onnxruntime-cpu-resnet50.")],
    output: Annotated[Path, Opt("--output", "-o", help="Folder for the .def, run.sh and README.md.")] = Path("."),
    scenario: ScenarioOpt = "Offline", mode: ModeOpt = "all", execution_mode: ExecOpt = "test",
    dataset_dir: DataOpt = None, model_path: ModelPathOpt = None,
    results_dir: Annotated[Path, Opt(help="Host folder for the results.")] = Path("results"),
    cache_dir: Annotated[Path, Opt(help="Host folder for the preprocessed-data cache.")] = Path("cache"),
    bundle: Annotated[Path | None, Opt(help="Bootstrap from this docker-archive (docker save or podman "
                                            "save of the image) instead of the local docker daemon.")] = None,
    target_qps: Annotated[float | None, Opt()] = None, target_latency: Annotated[float | None, Opt()] = None,
    image: ImageOpt = None, registry: RegistryOpt = None, engine: EngineNameOpt = None,
    engine_url: EngineOpt = None, base_image: BaseOpt = None, matrix: MatrixOpt = None,
):
    """A definition file that bootstraps from the cell's image, and the `apptainer exec` lines."""
    lm = matrix_mod.load(matrix)
    match = [c for c in lm.matrix.cells() if c.id == cell]
    if not match:
        raise UserError(f"unknown cell '{cell}' (see `mlperfctl matrix list`)")
    c = match[0]
    opts = run_options(model=c.model, scenario=scenario, mode=mode, execution_mode=execution_mode, device=c.device,
                       backend=c.backend, implementation=c.implementation, dataset_dir=dataset_dir,
                       model_path=model_path, target_qps=target_qps, target_latency=target_latency)
    build = build_options(lm, base_image=base_image, registry=registry, engine=engine, engine_url=engine_url,
                          quiet=True)
    found = specs.jobs(lm, opts, build, image=image)
    bundle = bundle.resolve() if bundle else None
    for path in apptainer_mod.write(found, output, bundle=bundle, results=results_dir.resolve(),
                                    cache=cache_dir.resolve()):
        out.print(str(path), highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(export_app, name="export")
