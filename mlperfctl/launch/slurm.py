"""Run a plan on a Slurm cluster: one sbatch job per (cell, scenario, mode).

Each job runs `mlperfctl run` for its one scenario and mode on its node, with the chosen engine:
the same preflight, the same hardened ContainerSpec, and the same staged, atomic writer into the
shared --submission-dir under the tree lock (so jobs finishing together take turns). Why not a
bare `podman run` in the job: the container's host paths, uid:gid, GPU devices and the system
description are the node's, and the writer phase (ledger, README, harness source, system json)
needs mlperfctl anyway; running the same command on the node keeps one code path.

The job script traps TERM (scancel) and INT: it passes the signal on to mlperfctl, whose handler
removes its containers, and then removes any container still labelled with that process as
owner (Slurm kills only the client; the container would keep running under dockerd/conmon).
Images come from --registry (pulled on the node when missing) or from --bundle (loaded first).

Submitted jobs are recorded in <submission-dir>.jobs/jobs.json (beside the tree, on the same
shared filesystem) with their logs
(<job id>.out); `mlperfctl jobs` shows their state from scontrol."""

from __future__ import annotations

import json
import shlex
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import UserError
from ..options import BuildOptions, RunOptions
from ..run.container import RUN_LABEL

JOBS_SUFFIX = ".jobs"    # <submission-dir>.jobs/: beside the tree (the checker rejects unknown folders in it)
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
            "BOOT_FAIL", "DEADLINE"}
_SKIP = {"model", "scenario", "mode", "command_line"}   # given per job, or not a flag


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    nodes: int = 1
    bundle: Path | None = None
    time_limit: str | None = None        # sbatch --time
    wait: bool = True                    # follow the jobs until they end (Ctrl-C cancels them)
    poll: float = 5.0


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def run_flags(opts: RunOptions, build: BuildOptions, matrix: Path, scenario: str, mode: str) -> list[str]:
    """`mlperfctl run` arguments for one job: every option that differs from its default, paths
    made absolute (the job's node sees the same shared filesystem)."""
    args = ["run", "--model", opts.model, "--scenario", scenario, "--mode", mode, "--matrix", str(matrix.resolve())]
    defaults = RunOptions(model=opts.model)
    for f in fields(RunOptions):
        value = getattr(opts, f.name)
        if f.name in _SKIP or (value == getattr(defaults, f.name) and f.name != "submission_dir"):
            continue
        if isinstance(value, bool):
            if value:
                args.append(_flag(f.name))
            continue
        if value is None:
            continue
        args += [_flag(f.name), str(Path(value).resolve()) if isinstance(value, Path) else str(value)]
    args += ["--engine", build.engine]
    if build.engine_url:
        args += ["--engine-url", build.engine_url]
    if build.registry:
        args += ["--registry", build.registry]
    for device, image in sorted(build.bases.items()):
        args += ["--base-image", f"{device}={image}"]
    for d in build.wheel_dirs:
        args += ["--wheel-dir", str(Path(d).resolve())]
    return args


def job_script(*, name: str, mlperfctl: list[str], run_args: list[str], engine: str, workdir: Path,
               partition: str | None, nodes: int, log: Path, bundle: Path | None = None,
               time_limit: str | None = None) -> str:
    """The sbatch script for one job."""
    q = shlex.join
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", f"#SBATCH --nodes={nodes}", "#SBATCH --ntasks=1",
             f"#SBATCH --output={log}", f"#SBATCH --chdir={workdir}"]
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if time_limit:
        lines.append(f"#SBATCH --time={time_limit}")
    cli = "docker" if engine == "docker" else "podman"
    lines += [
        "set -u",
        f'echo "mlperfctl job $SLURM_JOB_ID on $(hostname): {name}"',
    ]
    if bundle is not None:
        lines += [f"{q([*mlperfctl, 'load', str(bundle.resolve()), '--engine', engine])} || exit $?"]
    lines += [
        "cleanup() {",
        '  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid"',
        f'  ids=$({cli} ps -aq --filter "label={RUN_LABEL}=$(hostname):${{pid:-none}}" 2>/dev/null)',
        f'  [ -n "$ids" ] && {cli} rm -f $ids >/dev/null 2>&1',
        "  exit 143",
        "}",
        "trap cleanup TERM INT",
        f"{q([*mlperfctl, *run_args])} &",
        "pid=$!",
        'wait "$pid"',
        "code=$?",
        "trap - TERM INT",
        'exit "$code"',
    ]
    return "\n".join(lines) + "\n"


def _mlperfctl() -> list[str]:
    """How a job starts this very mlperfctl (same interpreter, same source tree)."""
    root = Path(__file__).resolve().parents[2]
    return ["env", f"PYTHONPATH={root}", sys.executable, "-m", "mlperfctl"]


def _sbatch(script: Path) -> str:
    r = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True)
    if r.returncode != 0:
        raise UserError(f"sbatch {script} failed: {r.stderr.strip() or r.stdout.strip()}")
    return r.stdout.strip().split(";")[0]


def job_state(job_id: str) -> dict:
    """{JobId, JobName, JobState, ExitCode, NodeList, ...} from `scontrol show job -o`."""
    r = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True)
    if r.returncode != 0:
        return {"JobId": job_id, "JobState": "UNKNOWN", "Reason": r.stderr.strip()}
    state = {}
    for item in r.stdout.split():
        key, sep, value = item.partition("=")
        if sep:
            state[key] = value
    return state


def cancel(job_ids: list[str]) -> None:
    if job_ids:
        subprocess.run(["scancel", *job_ids], capture_output=True)


def submit(lm, opts: RunOptions, build: BuildOptions, slurm: SlurmOptions, plan, *, console) -> dict:
    """Submit one job per (scenario, mode) of the plan; follow them unless slurm.wait is False."""
    if not shutil.which("sbatch"):
        raise UserError("sbatch not found: --launcher slurm needs a Slurm client (sudo scripts/slurm-setup.sh "
                        "for a local one-node cluster)")
    if slurm.bundle is not None and not slurm.bundle.is_file():
        raise UserError(f"--bundle {slurm.bundle}: no such file (make one with `mlperfctl save`)")
    if build.engine == "auto":
        from ..engines import detect
        build = BuildOptions(**{**{f.name: getattr(build, f.name) for f in fields(BuildOptions)},
                                "engine": detect(build.engine_url)})
    sub = opts.submission_dir.resolve()
    jobs_dir = jobs_dir_of(sub)
    jobs_dir.mkdir(parents=True, exist_ok=True)
    cli = _mlperfctl()
    submitted = []
    try:
        for scenario in plan.scenarios:
            for mode in plan.modes:
                name = f"mlperf-{plan.cell.id}-{scenario}-{mode}"
                script = jobs_dir / f"{name}.sbatch"
                script.write_text(job_script(
                    name=name, mlperfctl=cli, run_args=run_flags(opts, build, lm.path, scenario, mode),
                    engine=build.engine, workdir=Path.cwd(), partition=slurm.partition, nodes=slurm.nodes,
                    log=jobs_dir / "%j.out", bundle=slurm.bundle, time_limit=slurm.time_limit))
                job_id = _sbatch(script)
                submitted.append({"id": job_id, "name": name, "cell": plan.cell.id, "scenario": scenario,
                                  "mode": mode, "script": str(script), "log": str(jobs_dir / f"{job_id}.out"),
                                  "submitted": time.time()})
                console.print(f"submitted job {job_id}: {plan.cell.id} {scenario} {mode}")
    except BaseException:
        cancel([j["id"] for j in submitted])
        raise
    finally:
        _record(jobs_dir, submitted)
    summary = {"jobs": submitted, "submission_dir": str(sub)}
    if slurm.wait:
        summary["states"] = follow([j["id"] for j in submitted], console=console, poll=slurm.poll)
        failed = {i: s for i, s in summary["states"].items() if s.get("JobState") != "COMPLETED"}
        if failed:
            job_id, s = next(iter(failed.items()))
            raise UserError(f"{len(failed)} job(s) did not complete: job {job_id} {s.get('JobState')} "
                            f"(exit {s.get('ExitCode')}); see {jobs_dir / (job_id + '.out')}")
    return summary


def _record(jobs_dir: Path, new: list[dict]) -> None:
    path = jobs_dir / "jobs.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        known = []
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(known + new, indent=2))
    tmp.replace(path)


def follow(job_ids: list[str], *, console, poll: float = 5.0) -> dict[str, dict]:
    """Wait for the jobs to end, printing state changes; SIGINT/SIGTERM cancel them."""
    def stop(signum, _frame):
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM)}
    seen: dict[str, str] = {}
    states: dict[str, dict] = {}
    try:
        while True:
            for job_id in job_ids:
                states[job_id] = job_state(job_id)
                st = states[job_id].get("JobState", "UNKNOWN")
                if seen.get(job_id) != st:
                    seen[job_id] = st
                    node = states[job_id].get("NodeList")
                    where = f" on {node}" if node and node != "(null)" else ""
                    console.print(f"job {job_id} {states[job_id].get('JobName', '')}: {st}{where}")
            if all(seen[j] in FINISHED for j in job_ids):
                return states
            time.sleep(poll)
    except KeyboardInterrupt as e:
        cancel(job_ids)
        raise UserError(f"interrupted ({e or 'SIGINT'}): cancelled job(s) {', '.join(job_ids)}; "
                        "the submission tree keeps only results that were complete") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def jobs_dir_of(submission_dir: Path) -> Path:
    sub = Path(submission_dir).resolve()
    return sub.with_name(sub.name + JOBS_SUFFIX)


def list_jobs(submission_dir: Path) -> list[dict]:
    """The recorded jobs of a submission tree with their current Slurm state."""
    path = jobs_dir_of(submission_dir) / "jobs.json"
    try:
        known = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return []
    rows = []
    for job in known:
        s = job_state(job["id"])
        rows.append({**job, "state": s.get("JobState", "UNKNOWN"), "exit_code": s.get("ExitCode", ""),
                     "node": s.get("NodeList", ""), "elapsed": s.get("RunTime", "")})
    return rows
