"""What an Apptainer site needs for a cell: a definition file and the exact `apptainer exec` lines.

The definition bootstraps from the built image in the local docker daemon (`Bootstrap:
docker-daemon`) or from a docker-archive (`Bootstrap: docker-archive`: `docker save IMAGE -o FILE`
or `podman save`; an `mlperfctl save` bundle wraps one and is not one). Hardening as in the
ContainerSpec, in Apptainer's terms: the SIF is read-only (the read-only root), --containall
(own /tmp, PID and IPC namespaces, no host environment or home), --no-home, --cleanenv,
read-only binds for data and model (`:ro`), no setuid inside (Apptainer runs as the invoking
user with no capabilities), --nv / --rocm for GPUs. Apptainer shares the host's network unless
the site allows `--net --network none` (root or a configured network); the line leaves that to
the site. Not installable here: content tests only."""

from __future__ import annotations

import shlex
from pathlib import Path

from .specs import Job

ENTRYPOINT = ("python3", "-m", "mlperf_harness")   # the built-in images' ENTRYPOINT (templates/Dockerfile.j2)


def definition(job: Job, *, bundle: Path | None = None) -> str:
    """The .def file for the job's image."""
    if bundle is not None:
        head = ["Bootstrap: docker-archive", f"From: {bundle}"]
    else:
        head = ["Bootstrap: docker-daemon", f"From: {job.spec.image}"]
    return "\n".join([
        *head, "",
        "%labels",
        f"    io.mlperfctl.cell {job.cell}",
        f"    io.mlperfctl.image {job.spec.image}",
        "",
        "%environment",
        *(f"    export {k}={shlex.quote(v)}" for k, v in job.spec.env),
        "",
        "%runscript",
        f"    exec {shlex.join(ENTRYPOINT)} \"$@\"",
        "",
    ])


def exec_args(job: Job, *, sif: str, results: Path, cache: Path) -> list[str]:
    """`apptainer exec ...` for the job: results and cache are the host folders to write to."""
    spec = job.spec
    args = ["apptainer", "exec", "--containall", "--no-home", "--cleanenv"]
    for m in spec.mounts:
        source = {"/results": str(results), "/cache": str(cache)}.get(m.target, m.source)
        args += ["--bind", f"{source}:{m.target}" + (":ro" if m.read_only else "")]
    env = list(spec.env)
    if spec.gpu is not None and spec.gpu.vendor == "nvidia" and spec.gpu.count > 0:  # --nv binds every GPU
        env.append(("CUDA_VISIBLE_DEVICES", ",".join(map(str, range(spec.gpu.count)))))
    if env:
        args += ["--env", ",".join(f"{k}={v}" for k, v in env)]
    if spec.working_dir:
        args += ["--pwd", spec.working_dir]
    if spec.gpu is not None and spec.gpu.vendor == "nvidia":
        args.append("--nv")
    elif spec.gpu is not None or "/dev/kfd" in spec.devices:
        args.append("--rocm")
    args.append(sif)
    args += [*ENTRYPOINT, *spec.argv]
    return args


def write(jobs: list[Job], out: Path, *, bundle: Path | None = None, results: Path, cache: Path) -> list[Path]:
    """<cell>.def, run.sh (one `apptainer exec` per scenario and mode) and README.md into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    cell = jobs[0].cell
    sif = f"{cell}.sif"
    files = [out / f"{cell}.def", out / "run.sh", out / "README.md"]
    files[0].write_text(definition(jobs[0], bundle=bundle))
    lines = ["#!/bin/bash", "# one apptainer exec per scenario and mode; results under " + str(results),
             "set -euo pipefail", f"[ -f {shlex.quote(sif)} ] || apptainer build {shlex.quote(sif)} "
             f"{shlex.quote(files[0].name)}"]
    for job in jobs:
        lines.append(f"mkdir -p {shlex.quote(str(results))} {shlex.quote(str(cache))}")
        lines.append(shlex.join(exec_args(job, sif=sif, results=results, cache=cache)))
    files[1].write_text("\n".join(lines) + "\n")
    files[1].chmod(0o755)
    files[2].write_text(
        f"# {cell} under Apptainer\n\n"
        f"    apptainer build {sif} {files[0].name}   # from {'the bundle' if bundle else 'the local docker daemon'}\n"
        f"    ./run.sh\n\n"
        "The harness writes LoadGen's logs under the results folder, one folder per scenario and mode; "
        "bring them back into a submission tree with the run's options on a host with mlperfctl.\n"
        "Apptainer cannot be installed on mlperfctl's CI host: these files are checked for content only.\n")
    return files
