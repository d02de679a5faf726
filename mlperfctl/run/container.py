"""What runs in the container: the harness command line and the hardened, neutral ContainerSpec
(read-only data and model, no network, all capabilities dropped, no-new-privileges, read-only
root with a tmpfs /tmp, never privileged, the host user's uid:gid, GPUs by vendor)."""

from __future__ import annotations

import os
from pathlib import Path

from ..engines.base import ContainerEngine, ContainerSpec, GpuRequest, Mount
from ..options import RunOptions
from ..submission.transaction import pid_alive
from .plan import RunPlan, Target
from .preflight import check_gpus, companion_files

RUN_LABEL = "io.mlperfctl.run"
SHM_SIZE = {"pytorch": "8g", "tensorrt": "4g", "vllm": "8g"}  # vllm: its workers' shared-memory message queues
DEFAULT_SHM = "1g"
CONTAINER_USER = (10001, 10001)  # the images' own non-root account
HARNESS_PATH = "/opt/mlperf/mlperf_harness"
ROCM_DEVICES = ("/dev/kfd", "/dev/dri")


def harness_args(p: RunPlan, opts: RunOptions, scenario: str, mode: str, model_target: str,
                 output: str | None = None, *, target: Target | None = None,
                 execution_mode: str | None = None) -> list[str]:
    """The harness command line inside the container. `target` defaults to the plan's target
    for the scenario (find-performance passes its measured one)."""
    args = ["run", "--model", p.cell.model, "--backend", p.cell.backend, "--device", p.cell.device,
            "--scenario", scenario, "--mode", mode, "--execution-mode", execution_mode or opts.execution_mode,
            "--precision", p.precision, "--dataset-dir", "/data", "--model-path", model_target,
            "--output-dir", output or f"/results/{scenario}/{mode}", "--cache-dir", "/cache",
            "--version", opts.round.version]  # the round the harness judges accuracy against
    target = target or p.targets.get(scenario)
    if target is not None:
        args += [target.flag, str(target.value)]
    for flag, value in (("--threads", opts.threads), ("--max-batchsize", opts.batch_size),
                        ("--count", opts.count), ("--performance-sample-count", opts.performance_sample_count),
                        ("--test-query-count", opts.test_query_count), ("--tensor-parallel", opts.tensor_parallel)):
        if value is not None:
            args += [flag, str(value)]
    return args


def container_spec(p: RunPlan, *, image: str, dataset_dir: Path, model_path: Path, results_dir: Path,
                   cache_dir: Path, command: list[str], user: tuple[int, int], owner: str,
                   gpus: int | None = None) -> ContainerSpec:
    """The harness's container: read-only data and model (with the files the workload reads beside it),
    read-write results and cache. `gpus`: how many GPUs a cuda/rocm run gets (None: all)."""
    gpu, devices, groups, env = None, (), (), (("HOME", "/tmp"), ("PYTHONUNBUFFERED", "1"))
    check_gpus(p.cell.device, gpus)
    if p.cell.device == "cuda":
        gpu = GpuRequest("nvidia", gpus or -1)
    elif p.cell.device == "rocm":
        devices = ROCM_DEVICES
        groups = tuple(sorted({str(os.stat(d).st_gid) for d in ROCM_DEVICES if os.path.exists(d)}))
        if gpus:  # /dev/dri passes every GPU: the HIP runtime sees the first N
            env += (("HIP_VISIBLE_DEVICES", ",".join(map(str, range(gpus)))),)
    return ContainerSpec(
        image=image,
        argv=tuple(command),
        mounts=(Mount(str(dataset_dir.resolve()), "/data", read_only=True),
                Mount(str(model_path.resolve()), f"/model/{model_path.name}", read_only=True),
                *(Mount(str(f.resolve()), f"/model/{f.name}", read_only=True) for f in companion_files(p, model_path)),
                Mount(str(results_dir.resolve()), "/results", read_only=False),
                Mount(str(cache_dir.resolve()), "/cache", read_only=False)),
        devices=devices, gpu=gpu, group_add=groups,
        user=f"{user[0]}:{user[1]}",
        env=env,
        working_dir="/tmp",
        shm_size=SHM_SIZE.get(p.cell.backend, DEFAULT_SHM),
        labels=((RUN_LABEL, owner), ("io.mlperfctl.cell", p.cell.id)),
    )


def info_spec(image: str, user: tuple[int, int]) -> ContainerSpec:
    """`python -m mlperf_harness info` in the image, with the same hardening and no mounts."""
    return ContainerSpec(image=image, argv=("info",), user=f"{user[0]}:{user[1]}", env=(("HOME", "/tmp"),),
                         working_dir="/tmp")


def container_user() -> tuple[int, int]:
    """The host user's uid:gid so results belong to them; root maps to the image's own user."""
    uid, gid = os.getuid(), os.getgid()
    return CONTAINER_USER if uid == 0 else (uid, gid)


def remove_stale_containers(engine: ContainerEngine) -> int:
    """Remove run containers whose mlperfctl process is gone (e.g. it was killed -9)."""
    removed = 0
    host = os.uname().nodename
    for cid, labels in engine.list_containers(RUN_LABEL):
        owner_host, _, pid = labels.get(RUN_LABEL, "").rpartition(":")
        if owner_host == host and pid.isdigit() and not pid_alive(int(pid)):
            engine.remove_container(cid)
            removed += 1
    return removed
