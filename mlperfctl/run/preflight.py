"""Everything about a run that can be checked on the host before a container starts."""

from __future__ import annotations

import os
from pathlib import Path

from mlperf_harness.errors import UsageError

from ..errors import UserError
from ..matrix import LoadedMatrix
from ..options import RunOptions
from .plan import RunPlan


def preflight(lm: LoadedMatrix, p: RunPlan, opts: RunOptions, engine_runtimes: set[str]) -> Path:
    """Check data, model, device and implementation before any container starts.
    Returns the model path to mount."""
    w = p.workload
    if opts.dataset_dir is None:
        raise UserError(f"--dataset-dir is required: the {w.dataset_name} folder "
                        f"(for demo data: mlperfctl demo-data DIR --model {p.cell.model})")
    if opts.dataset_dir.exists() and not opts.dataset_dir.is_dir():
        raise UserError(f"--dataset-dir {opts.dataset_dir} is a file, not a folder (pass the {w.dataset_name} "
                        f"folder{', the one holding it' if opts.dataset_dir.name in w.dataset_files else ''})")
    if not opts.dataset_dir.is_dir():
        raise UserError(f"dataset dir {opts.dataset_dir} does not exist (pass --dataset-dir; "
                        f"{dataset_fix(w, p.cell.model, opts.dataset_dir, exists=False)})")
    missing = [f for f in w.dataset_files if not (opts.dataset_dir / f).exists()]
    if missing:
        fix = dataset_fix(w, p.cell.model, opts.dataset_dir, exists=True)
        raise UserError(f"dataset dir {opts.dataset_dir} lacks {', '.join(missing)} "
                        f"(expected the {w.dataset_name} layout; {fix})")
    try:
        w.check_dataset(opts.dataset_dir, opts.count)  # the workload's own check (rnnt: every wav it names)
    except UsageError as e:
        raise UserError(str(e)) from None
    model_path = resolve_model_path(p, opts.model_path)
    check_companions(p, model_path)
    check_gpus(p.cell.device, opts.gpus)
    try:
        w.check_model(p.cell.backend, model_path)  # the workload's own check (vllm: a loadable checkpoint)
    except UsageError as e:
        raise UserError(str(e)) from None
    check_tensor_parallel(p, opts)
    if p.cell.device == "cuda" and "nvidia" not in engine_runtimes and not _cdi_gpus():
        raise UserError("device cuda: the container engine has no NVIDIA runtime or CDI device "
                        "(install the NVIDIA Container Toolkit and run `nvidia-ctk runtime configure`)")
    if p.cell.device == "rocm":
        absent = [d for d in ("/dev/kfd", "/dev/dri") if not os.path.exists(d)]
        if absent:
            raise UserError(f"device rocm: {' and '.join(absent)} missing "
                            "(install the amdgpu driver, or pick --device cpu)")
    return model_path


def dataset_fix(w, model: str, dataset_dir: Path, *, exists: bool) -> str:
    """The commands that make the layout `run` reads: a missing folder is fetched (`get`) then prepared; a folder
    without the layout (a raw download) is prepared into a new one."""
    if not w.dataset_preparer:
        return f"lay out the {w.dataset_name} as the README says"
    d = str(dataset_dir)
    if exists:
        return f"if it holds the raw download: mlperfctl prepare --model {model} --raw {d} --dest {d}-prepared"
    return (f"to make it: mlperfctl get --model {model} --dataset --dest {d}-raw && mlperfctl prepare --model "
            f"{model} --raw {d}-raw --dest {d}")


def resolve_model_path(p: RunPlan, given: Path | None) -> Path:
    """The model `--model-path` names, the same for every family: the model file itself, or a folder holding the
    file (or, for folder models, the folder) the workload declares for the backend, in it or one level below.
    Several matches one level below, a path that does not exist, a folder without it and a file of another
    backend's kind are refused here, on the host, naming the path and what was expected (UserError)."""
    w, backend, model = p.workload, p.cell.backend, p.cell.model
    name = p.model_file
    folder_model = w.model_is_folder(backend)
    kind = "folder" if folder_model else "file"
    demo = f"for demo data: mlperfctl demo-data DIR --model {model} --backend {backend}"
    if given is None:
        raise UserError(f"--model-path is required: the {name} {kind} for {backend}, or the folder holding it")
    if not given.exists():
        raise UserError(f"--model-path {given} does not exist (expected the {backend} model {kind} of {model}, "
                        f"{name}, or a folder holding it; {demo})")
    if given.is_file():
        if folder_model:
            raise UserError(f"--model-path {given} is a file, but the {backend} model of {model} is a folder "
                            f"({name}: pass it, or the folder holding it; {demo})")
        wrong = _other_backends_kind(w, backend, given)
        if wrong:
            raise UserError(f"--model-path {given} is a {given.suffix} file, {wrong}'s kind of model, not the "
                            f"{backend} one of {model} (expected {name}; pass it, or the folder holding it; {demo})")
        return given
    fits = Path.is_dir if folder_model else Path.is_file
    if fits(given / name):
        return given / name
    below = sorted(d / name for d in given.iterdir() if d.is_dir() and fits(d / name))
    if len(below) > 1:
        raise UserError(f"--model-path {given} holds {len(below)} {backend} models of {model} one level below: "
                        f"{', '.join(str(b) for b in below)} (pass the one to run)")
    if below:
        return below[0]
    if folder_model:  # the model folder itself, whatever its name
        return given
    raise UserError(f"--model-path {given} is a folder without {name}, the {backend} model file of {model}, in it "
                    f"or one level below (pass that file, or the folder holding it; {demo})")


def _other_backends_kind(w, backend: str, path: Path) -> str | None:
    """The backend whose model file has `path`'s suffix when `backend`'s has another one (a .onnx for tf): the
    wrong kind of model for this run. None when the suffix says nothing against it."""
    own = Path(w.model_file(backend)).suffix
    if not own or path.suffix == own:
        return None
    for other, file in w.model_files.items():
        if other != backend and other not in w.model_folders and Path(file).suffix == path.suffix:
            return other
    return None


def host_gpus(device: str) -> int | None:
    """GPUs a run on `device` is given (every one the host has: `nvidia-smi -L` lines for cuda), 0 on the CPU,
    None when the host cannot tell."""
    import shutil
    import subprocess

    if device == "cpu":
        return 0
    if device == "cuda" and shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return sum(1 for ln in out.stdout.splitlines() if ln.startswith("GPU ")) if out.returncode == 0 else None
    return None


def check_tensor_parallel(p: RunPlan, opts: RunOptions, gpus=host_gpus) -> None:
    """--tensor-parallel: a vllm option, at most the GPUs the run is given (1 on the CPU): --gpus N when set, else
    every GPU the host has (when it can tell)."""
    tp = opts.tensor_parallel
    if tp is None:
        return
    if p.cell.backend != "vllm":
        raise UserError(f"--tensor-parallel {tp}: the {p.cell.backend} backend runs a model on one device "
                        "(use --backend vllm, or leave --tensor-parallel out)")
    given = opts.gpus if opts.gpus is not None and p.cell.device != "cpu" else gpus(p.cell.device)
    if p.cell.device == "cpu" and tp != 1:
        raise UserError(f"--tensor-parallel {tp}: a cpu run is given no GPUs and vLLM on the CPU runs one worker "
                        "(use --tensor-parallel 1)")
    if given is not None and tp > given:
        source = f"--gpus {given}" if opts.gpus is not None else "the host's"
        raise UserError(f"--tensor-parallel {tp} is more than the {given} GPU(s) this run is given ({source}; "
                        f"use --tensor-parallel {given} or fewer, or give the run more GPUs)")


def companion_files(p: RunPlan, model_path: Path) -> list[Path]:
    """The files the workload reads beside the model file (bert's bert_config.json on pytorch) that are there: they
    are mounted beside it, read-only."""
    if p.workload is None or model_path.is_dir():
        return []
    return [model_path.parent / name for name in p.workload.companions(p.cell.backend)
            if (model_path.parent / name).is_file()]


def check_companions(p: RunPlan, model_path: Path) -> None:
    """UserError naming the folder and the file when a companion the workload requires is not beside the model."""
    if p.workload is None or model_path.is_dir():
        return
    for name, required in p.workload.companions(p.cell.backend).items():
        if required and not (model_path.parent / name).is_file():
            raise UserError(f"{model_path.parent} lacks {name}, which the {p.cell.backend} backend of {p.cell.model} "
                            f"reads beside {model_path.name} (put the model's {name} there)")


def unreadable(paths: list[Path], uid: int, gid: int) -> Path | None:
    """The first file or folder under `paths` that uid:gid could not read (folders: also enter)."""
    def ok(path: Path) -> bool:
        st = path.stat()
        need = 0o5 if path.is_dir() else 0o4
        if st.st_uid == uid:
            return (st.st_mode >> 6) & need == need
        if st.st_gid == gid:
            return (st.st_mode >> 3) & need == need
        return st.st_mode & need == need

    for top in paths:
        for path in [top, *(top.rglob("*") if top.is_dir() else [])]:
            if not ok(path):
                return path
    return None


def _cdi_gpus() -> bool:
    return any(Path(d).glob("nvidia*.yaml") or Path(d).glob("nvidia*.json")
               for d in ("/etc/cdi", "/var/run/cdi") if Path(d).is_dir())


def check_gpus(device: str, gpus: int | None) -> None:
    """--gpus: a positive count, for a GPU cell only."""
    if gpus is None:
        return
    if gpus < 1:
        raise UserError(f"--gpus {gpus}: give 1 or more (leave it out for all the host's GPUs)")
    if device not in ("cuda", "rocm"):
        raise UserError(f"--gpus {gpus}: the cell runs on {device}; --gpus is for cuda and rocm cells")
