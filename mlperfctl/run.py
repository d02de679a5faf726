"""`mlperfctl run`: pick the cell, preflight, run the harness in its container, collect results.

The flow: plan() picks the cell, scenarios and modes; preflight() checks everything that can be
checked before a container starts; execute() runs one container per (scenario, mode) with the
data read-only, then hands the outputs to submission.write_results, which moves them into the
tree atomically. Any failure or interrupt before that leaves the submission tree untouched.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import sys
import tarfile
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from .errors import UserError, choices
from .matrix import SCENARIOS, Cell, LoadedMatrix
from .submission_check import MLLog

MODES = ("performance", "accuracy")
EXECUTION_MODES = ("test", "fast", "valid")
CATEGORIES = ("edge", "datacenter")
DIVISIONS = ("open", "closed")
VERSIONS = ("v6.1", "v5.1")
RUN_LABEL = "io.mlperfctl.run"
SHM_SIZE = {"pytorch": "8g", "tensorrt": "4g"}
DEFAULT_SHM = "1g"
CONTAINER_USER = (10001, 10001)  # the images' own non-root account
HARNESS_PATH = "/opt/mlperf/mlperf_harness"
SERVER_FRACTION = 0.5  # find-performance: Server arrivals at half the measured Offline rate


@dataclass
class RunOptions:
    """Everything `mlperfctl run` was asked for, parsed once."""

    model: str
    scenario: str = "Offline"
    mode: str = "all"
    execution_mode: str = "test"
    implementation: str | None = None
    backend: str | None = None
    device: str | None = None
    precision: str | None = None
    dataset_dir: Path | None = None
    model_path: Path | None = None
    submission_dir: Path = Path("mlperf-submission")
    division: str = "open"
    category: str = "edge"
    submitter: str = "mlperfctl"
    system_name: str | None = None
    version: str = "v6.1"
    target_qps: float | None = None
    target_latency: float | None = None
    threads: int | None = None
    batch_size: int | None = None
    count: int | None = None
    force: bool = False
    find_performance: bool = False
    system_json: Path | None = None
    cache_dir: Path | None = None
    command_line: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass(frozen=True)
class RunPlan:
    cell: Cell
    scenarios: list[str]
    modes: list[str]
    precision: str
    model_file: str


def _one_of(value, allowed, what):
    if value not in allowed:
        raise UserError(f"unknown {what} '{value}' {choices(allowed)}")


def detect_device() -> str:
    """cuda when nvidia-smi answers, rocm when /dev/kfd exists, else cpu."""
    if shutil.which("nvidia-smi") and os.path.exists("/dev/nvidiactl"):
        return "cuda"
    if os.path.exists("/dev/kfd"):
        return "rocm"
    return "cpu"


def plan(lm: LoadedMatrix, opts: RunOptions) -> RunPlan:
    """Pick the cell (defaults: the builtin harness, the detected device, the model's first
    backend), the scenarios (`all`: what the category requires) and the modes."""
    m = lm.matrix
    _one_of(opts.model, m.models, "model")
    _one_of(opts.mode, (*MODES, "all"), "mode")
    _one_of(opts.execution_mode, EXECUTION_MODES, "execution mode")
    _one_of(opts.category, CATEGORIES, "category")
    _one_of(opts.division, DIVISIONS, "division")
    _one_of(opts.version, VERSIONS, "submission version")
    model = m.models[opts.model]
    required = getattr(model.scenarios, opts.category)
    if opts.scenario == "all":
        if not required:
            raise UserError(f"{opts.model} has no {opts.category} scenarios "
                            f"(try --category {'datacenter' if opts.category == 'edge' else 'edge'})")
        scenarios = list(required)
    else:
        _one_of(opts.scenario, SCENARIOS, "scenario")
        scenarios = [opts.scenario]
    filters = {"model": [opts.model],
               "implementation": [opts.implementation or _builtin(lm)],
               "device": [opts.device or detect_device()]}
    if opts.backend:
        filters["backend"] = [opts.backend]
    cells = lm.select(filters)
    if not cells:
        wanted = "-".join(filters.get(a, ["*"])[0] for a in ("implementation", "backend", "device", "model"))
        raise UserError(f"no cell {wanted} in the matrix (see `mlperfctl matrix explain` "
                        f"or `mlperfctl matrix list --model {opts.model}`)")
    cell = cells[0]  # matrix order: the first backend the model lists is the default
    precision = opts.precision or model.precisions[0]
    _one_of(precision, model.precisions, f"precision for {opts.model}")
    modes = list(MODES) if opts.mode == "all" else [opts.mode]
    return RunPlan(cell, scenarios, modes, precision, model.model_files[cell.backend])


def _builtin(lm: LoadedMatrix) -> str:
    return next(n for n, i in lm.matrix.implementations.items() if i.kind == "builtin")


def preflight(lm: LoadedMatrix, p: RunPlan, opts: RunOptions, engine_runtimes: set[str]) -> Path:
    """Check data, model, device and implementation before any container starts.
    Returns the model path to mount."""
    m = lm.matrix
    model = m.models[p.cell.model]
    impl = m.implementations[p.cell.implementation]
    if impl.kind == "builtin" and not model.implemented:
        raise UserError(f"{p.cell.model} is not implemented by the built-in harness yet "
                        f"(implemented: {', '.join(n for n, x in m.models.items() if x.implemented)})")
    if opts.dataset_dir is None:
        raise UserError(f"--dataset-dir is required: the {model.dataset.name} folder "
                        f"(for demo data: mlperfctl demo-data DIR)")
    if not opts.dataset_dir.is_dir():
        raise UserError(f"dataset dir {opts.dataset_dir} does not exist (pass --dataset-dir)")
    missing = [f for f in model.dataset.files if not (opts.dataset_dir / f).exists()]
    if missing:
        raise UserError(f"dataset dir {opts.dataset_dir} lacks {', '.join(missing)} "
                        f"(expected the {model.dataset.name} layout)")
    model_path = opts.model_path
    if model_path is None:
        raise UserError(f"--model-path is required: the {p.model_file} file for {p.cell.backend}")
    if model_path.is_dir() and (model_path / p.model_file).exists():
        model_path = model_path / p.model_file
    if not model_path.exists():
        raise UserError(f"model file {model_path} does not exist "
                        f"(pass --model-path to {p.model_file})")
    if p.cell.device == "cuda" and "nvidia" not in engine_runtimes and not _cdi_gpus():
        raise UserError("device cuda: the container engine has no NVIDIA runtime or CDI device "
                        "(install the NVIDIA Container Toolkit and run `nvidia-ctk runtime configure`)")
    if p.cell.device == "rocm":
        absent = [d for d in ("/dev/kfd", "/dev/dri") if not os.path.exists(d)]
        if absent:
            raise UserError(f"device rocm: {' and '.join(absent)} missing "
                            "(install the amdgpu driver, or pick --device cpu)")
    return model_path


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


def harness_args(p: RunPlan, opts: RunOptions, scenario: str, mode: str, model_target: str,
                 output: str | None = None) -> list[str]:
    """The harness command line inside the container."""
    args = ["run", "--model", p.cell.model, "--backend", p.cell.backend, "--device", p.cell.device,
            "--scenario", scenario, "--mode", mode, "--execution-mode", opts.execution_mode,
            "--precision", p.precision, "--dataset-dir", "/data", "--model-path", model_target,
            "--output-dir", output or f"/results/{scenario}/{mode}", "--cache-dir", "/cache"]
    for flag, value in (("--target-qps", opts.target_qps), ("--target-latency", opts.target_latency),
                        ("--threads", opts.threads), ("--max-batchsize", opts.batch_size),
                        ("--count", opts.count)):
        if value is not None:
            args += [flag, str(value)]
    return args


def container_spec(p: RunPlan, *, image: str, dataset_dir: Path, model_path: Path, results_dir: Path,
                   cache_dir: Path, command: list[str], user: tuple[int, int], owner: str) -> dict:
    """docker-py `containers.run` keyword arguments: read-only data, no network, never privileged."""
    from docker.types import DeviceRequest, Mount

    model_target = f"/model/{model_path.name}"
    spec = {
        "image": image,
        "command": command,
        "detach": True,
        "mounts": [
            Mount("/data", str(dataset_dir.resolve()), type="bind", read_only=True),
            Mount(model_target, str(model_path.resolve()), type="bind", read_only=True),
            Mount("/results", str(results_dir.resolve()), type="bind", read_only=False),
            Mount("/cache", str(cache_dir.resolve()), type="bind", read_only=False),
        ],
        "network_mode": "none",
        "user": f"{user[0]}:{user[1]}",
        "environment": {"HOME": "/tmp", "PYTHONUNBUFFERED": "1"},
        "working_dir": "/tmp",
        "read_only": True,
        "tmpfs": {"/tmp": "rw,exec,size=4g"},
        "privileged": False,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges"],
        "shm_size": SHM_SIZE.get(p.cell.backend, DEFAULT_SHM),
        "labels": {RUN_LABEL: owner, "io.mlperfctl.cell": p.cell.id},
    }
    if p.cell.device == "cuda":
        spec["device_requests"] = [DeviceRequest(count=-1, capabilities=[["gpu"]])]
    elif p.cell.device == "rocm":
        spec["devices"] = ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
        spec["group_add"] = sorted({str(os.stat(d).st_gid) for d in ("/dev/kfd", "/dev/dri")
                                    if os.path.exists(d)})
    return spec


def container_user() -> tuple[int, int]:
    """The host user's uid:gid so results belong to them; root maps to the image's own user."""
    uid, gid = os.getuid(), os.getgid()
    return CONTAINER_USER if uid == 0 else (uid, gid)


def remove_stale_containers(client) -> int:
    """Remove run containers whose mlperfctl process is gone (e.g. it was killed -9)."""
    removed = 0
    host = os.uname().nodename
    for c in client.containers.list(all=True, filters={"label": RUN_LABEL}):
        owner_host, _, pid = c.labels.get(RUN_LABEL, "").rpartition(":")
        if owner_host == host and pid.isdigit() and not _alive(int(pid)):
            c.remove(force=True)
            removed += 1
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Interrupted(Exception):
    pass


def _raise_interrupt(signum, _frame):
    raise _Interrupted(signal.Signals(signum).name)


@dataclass
class HarnessRun:
    scenario: str
    mode: str
    output_dir: Path
    seconds: float
    exit_code: int


def run_container(client, spec: dict, on_line: Callable[[str], None]) -> tuple[int, str]:
    """Start a container, stream its output line by line, wait; always remove it."""
    import docker

    try:
        container = client.containers.run(**spec)
    except docker.errors.APIError as e:
        raise UserError(f"the engine could not start the container: {e.explanation or e}") from None
    tail: list[str] = []
    try:
        buffer = b""
        for chunk in container.logs(stream=True, follow=True):
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for raw in lines:
                line = raw.decode(errors="replace")
                tail = (tail + [line])[-30:]
                on_line(line)
        code = container.wait().get("StatusCode", 1)
        return code, "\n".join(tail)
    finally:
        container.remove(force=True)


def copy_from_image(client, image: str, path: str, dest: Path) -> None:
    """Copy a directory out of an image (without running it) into dest."""
    container = client.containers.create(image, command=["true"], network_disabled=True)
    try:
        stream, _ = container.get_archive(path)
        with tempfile.TemporaryFile() as f:
            for chunk in stream:
                f.write(chunk)
            f.seek(0)
            with tarfile.open(fileobj=f) as tar:
                tar.extractall(dest, filter="data")
    finally:
        container.remove(force=True)


def image_info(client, image: str, user: tuple[int, int]) -> dict:
    """`python -m mlperf_harness info` inside the image: harness, LoadGen and framework versions."""
    out = client.containers.run(image, ["info"], remove=True, network_mode="none",
                                user=f"{user[0]}:{user[1]}", environment={"HOME": "/tmp"})
    return json.loads(out.decode())


def offline_samples_per_second(log: MLLog) -> float | None:
    """Samples per second of an Offline run, from its one query's size and duration (LoadGen's own
    figure is tokens per second when token latencies are on, as for the LLMs)."""
    samples = (log.get("generated_query_count") or 0) * (log.get("generated_samples_per_query") or 0)
    seconds = (log.get("result_max_latency_ns") or 0) / 1e9
    return samples / seconds if samples and seconds else None


def read_result(output_dir: Path) -> dict:
    """The harness's result.json plus the accuracy line, for the results table."""
    path = output_dir / "result.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    accuracy = output_dir / "accuracy.txt"
    if accuracy.exists():
        data["accuracy"] = next((ln for ln in accuracy.read_text().splitlines() if ln.strip()), "")
    return data


def reproduce_command(opts: RunOptions) -> str:
    argv = list(opts.command_line)
    argv[0] = "mlperfctl"
    return shlex.join(argv)


def execute(lm: LoadedMatrix, opts: RunOptions, build_options, *, console, log_line, reporter=None) -> dict:
    """Run every (scenario, mode) of the plan in containers and write the results into the
    submission tree. Returns a summary for the results table and --json."""
    from . import build, submission, sysinfo
    from .engine import Engine

    p = plan(lm, opts)
    eng = Engine(build_options.engine_url)
    client = eng.client
    model_path = preflight(lm, p, opts, set(client.info().get("Runtimes") or {}))
    user = container_user()
    blocked = unreadable([opts.dataset_dir, model_path], *user)
    if blocked:
        raise UserError(f"{blocked} is not readable by the container's user {user[0]}:{user[1]} "
                        f"(fix: chmod -R o+rX on the dataset and model folders)")
    remove_stale_containers(client)
    system_name = opts.system_name or sysinfo.default_system_name(p.cell.device)
    submission.refuse_existing(opts.submission_dir, division=opts.division, submitter=opts.submitter,
                               system_name=system_name, model=p.cell.model, scenarios=p.scenarios,
                               version=opts.version, force=opts.force, modes=p.modes)
    console.print(f"cell [bold]{p.cell.id}[/]  scenarios {', '.join(p.scenarios)}  "
                  f"modes {', '.join(p.modes)}  execution mode {opts.execution_mode}")
    image = build.ensure_image(lm, p.cell, build_options, engine=eng, reporter=reporter)
    digest = next(iter((eng.image(image.tag) or {}).get("RepoDigests") or []), None)
    info = image_info(client, image.tag, user)

    cache_dir = opts.cache_dir or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) \
        / "mlperfctl" / "preprocessed"
    cache_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="mlperfctl-run-"))
    owner = f"{os.uname().nodename}:{os.getpid()}"
    # SIGINT too: a process started in the background inherits it ignored, and Ctrl-C must still work
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    runs: list[HarnessRun] = []
    started = time.time()
    try:
        results_root = work / "results"
        results_root.mkdir()
        if os.getuid() == 0:
            os.chown(results_root, *user)
            os.chown(cache_dir, *user)
        def harness(scenario: str, mode: str, run_opts: RunOptions, output: str | None = None) -> int:
            command = harness_args(p, run_opts, scenario, mode, f"/model/{model_path.name}", output)
            spec = container_spec(p, image=image.tag, dataset_dir=opts.dataset_dir, model_path=model_path,
                                  results_dir=results_root, cache_dir=cache_dir, command=command, user=user,
                                  owner=owner)
            spec.update(eng.run_defaults())
            console.print(f"[bold]▶ {scenario} {mode}[/] in {image.tag}")
            code, tail = run_container(client, spec, lambda line: log_line(f"{scenario}/{mode}", line))
            if code != 0:
                raise UserError(f"the harness failed ({scenario} {mode}, exit code {code}); "
                                f"submission tree unchanged. Last lines:\n{tail}")
            return code

        targets: dict[str, float | None] = {}
        if opts.target_qps is None and (opts.find_performance or "Server" in p.scenarios):
            console.print("no --target-qps: measuring it first (find-performance: an Offline test run)")
            harness("Offline", "performance", replace(opts, execution_mode="test"), "/results/.find-performance")
            qps = offline_samples_per_second(MLLog(results_root / ".find-performance" / "mlperf_log_detail.txt"))
            if not qps:
                raise UserError("find-performance: the Offline test run reported no samples per second")
            targets = {"Offline": round(qps, 3), "Server": round(qps * SERVER_FRACTION, 3)}
            console.print(f"find-performance: Offline {targets['Offline']} samples/s; target QPS "
                          + ", ".join(f"{s} {targets[s]}" for s in p.scenarios if s in targets))
        for scenario in p.scenarios:
            for mode in p.modes:
                t0 = time.time()
                code = harness(scenario, mode, replace(opts, target_qps=targets.get(scenario, opts.target_qps)))
                runs.append(HarnessRun(scenario, mode, results_root / scenario / mode, time.time() - t0, code))
        if os.getuid() == 0:
            for path in [results_root, *results_root.rglob("*")]:
                os.chown(path, 0, 0)
        src = work / "src"
        src.mkdir()
        copy_from_image(client, image.tag, HARNESS_PATH, src)
        host = sysinfo.system_description(
            division=opts.division, submitter=opts.submitter, system_name=system_name,
            category=opts.category, device=p.cell.device, framework=_framework(info, p.cell.backend),
            path=opts.submission_dir, overrides=sysinfo.load_overrides(opts.system_json))
        result_sets = []
        for scenario in p.scenarios:
            perf = results_root / scenario / "performance"
            acc = results_root / scenario / "accuracy"
            ledger = {
                "cell": p.cell.id, "image": image.tag, "image_id": image.image_id,
                "image_digest": digest, "command_line": reproduce_command(opts),
                "harness": info, "host": host,
                "runs": [{"scenario": r.scenario, "mode": r.mode, "seconds": round(r.seconds, 3),
                          "exit_code": r.exit_code} for r in runs if r.scenario == scenario],
                "started": started, "finished": time.time(), "exit_status": 0,
            }
            result_sets.append(submission.ResultSet(
                model=p.cell.model, scenario=scenario,
                performance_dir=perf if perf.exists() else None,
                accuracy_dir=acc if acc.exists() else None,
                measurements=submission.measurements_for(p.cell.model, p.precision, p.model_file),
                readme=_readme(p, opts, image, digest, scenario), ledger=ledger))
        written = submission.write_results(
            opts.submission_dir, division=opts.division, submitter=opts.submitter,
            system_name=system_name, system_json=host, results=result_sets, src_dir=src,
            version=opts.version, force=opts.force, implementation=p.cell.implementation)
        rows = [read_result(r.output_dir) | {"scenario": r.scenario, "mode": r.mode,
                                             "seconds": round(r.seconds, 1)} for r in runs]
        return {"cell": p.cell.id, "image": image.tag, "image_id": image.image_id,
                "system": system_name, "results": rows,
                "submission_dir": str(opts.submission_dir), "written": [str(w) for w in written]}
    except (KeyboardInterrupt, _Interrupted) as e:
        raise UserError(f"interrupted ({e or 'SIGINT'}): containers removed, submission tree unchanged") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        _remove_owned(client, owner)
        shutil.rmtree(work, ignore_errors=True)


def _remove_owned(client, owner: str) -> None:
    for c in client.containers.list(all=True, filters={"label": f"{RUN_LABEL}={owner}"}):
        c.remove(force=True)


def _framework(info: dict, backend: str) -> str:
    versions = info.get("frameworks", {})
    name = {"pytorch": "torch"}.get(backend, backend)
    version = versions.get(name) or versions.get(backend)
    return f"{backend} {version}" if version else backend


def _readme(p: RunPlan, opts: RunOptions, image, digest: str | None, scenario: str) -> str:
    return (f"# {p.cell.model} {scenario}\n\n"
            f"Run with [mlperfctl](https://github.com/mlperfctl/mlperfctl) in the container image "
            f"`{image.tag}` (image ID `{image.image_id}`"
            + (f", digest `{digest}`" if digest else "") + ").\n\n"
            "To reproduce:\n\n```console\n"
            f"mlperfctl pull {p.cell.id}   # or: mlperfctl build --select {p.cell.id}\n"
            f"{reproduce_command(opts)}\n```\n")
