"""A ContainerSpec as a container CLI's `run` arguments (podman or docker), with the same hardening.

Used by the podman engine to run containers, and by launchers that write a run out as a script
(Slurm job scripts). Pure: no engine is contacted."""

from __future__ import annotations

import os

from .base import ContainerSpec


def run_args(spec: ContainerSpec, *, cli: str = "podman", name: str | None = None,
             rootless: bool = False) -> list[str]:
    """`[cli, "run", ...options, image, *argv]` for the spec. Never privileged. `rootless` (podman)
    adds --userns=keep-id so files written to read-write mounts belong to the invoking user."""
    podman = os.path.basename(cli) == "podman"
    args = [cli, "run", "--rm", "--init"]
    if name:
        args += ["--name", name]
    args += ["--network", spec.network]
    if spec.read_only_root:
        args.append("--read-only")
    for cap in spec.cap_drop:
        args += ["--cap-drop", cap]
    for opt in spec.security_opt:
        args += ["--security-opt", opt]
    for path, options in spec.tmpfs:
        args += ["--tmpfs", f"{path}:{options}" if options else path]
    for m in spec.mounts:
        args += ["--mount", f"type=bind,source={m.source},target={m.target}" + (",readonly" if m.read_only else "")]
    if rootless and podman:
        args.append("--userns=keep-id")
    if spec.user:
        args += ["--user", spec.user]
    for group in spec.group_add:
        args += ["--group-add", group]
    for dev in spec.devices:
        args += ["--device", f"{dev}:{dev}:rwm"]
    if spec.gpu is not None:
        if spec.gpu.vendor == "nvidia":
            if podman:   # CDI (nvidia-ctk cdi generate)
                ids = ["all"] if spec.gpu.count < 0 else [str(i) for i in range(spec.gpu.count)]
                for gpu_id in ids:
                    args += ["--device", f"nvidia.com/gpu={gpu_id}"]
            else:
                args += ["--gpus", "all" if spec.gpu.count < 0 else str(spec.gpu.count)]
        else:
            raise ValueError(f"{spec.gpu.vendor} GPUs are passed as devices (/dev/kfd, /dev/dri), not a GPU request")
    for key, value in spec.env:
        args += ["--env", f"{key}={value}"]
    if spec.working_dir:
        args += ["--workdir", spec.working_dir]
    if spec.shm_size:
        args += ["--shm-size", spec.shm_size]
    for key, value in spec.labels:
        args += ["--label", f"{key}={value}"]
    for lname, soft, hard in spec.limits:
        args += ["--ulimit", f"{lname}={soft}:{hard}"]
    if spec.entrypoint is not None:
        # a one-word entrypoint is a flag; longer ones put the rest before argv
        args += ["--entrypoint", spec.entrypoint[0] if spec.entrypoint else ""]
    args.append(spec.image)
    if spec.entrypoint:
        args += list(spec.entrypoint[1:])
    args += list(spec.argv)
    return args
