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
Images: with --bundle the job loads the bundle on its node (`mlperfctl load`), with --registry it
pulls the cell's image when the node lacks it (`mlperfctl pull`); either way it then checks the
image ID the host expects (the bundle's manifest, or the registry's manifest) before running, and
fails with one line naming the node and the fix otherwise. The host checks first what it can see:
the bundle exists and holds the cell's current image, the registry answers and has it.

--nodes N: the jobs of one command form a job array run at most N at a time, each on a whole
node (--exclusive --nodes=1), so that performance runs are not disturbed by neighbours; without
it each (cell, scenario, mode) is its own job and Slurm packs them as it likes.

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
import tarfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, fields
from pathlib import Path

from ..errors import UserError
from ..options import BuildOptions, RunOptions
from ..run.container import RUN_LABEL

JOBS_SUFFIX = ".jobs"    # <submission-dir>.jobs/: beside the tree (the checker rejects unknown folders in it)
FINISHED = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "PREEMPTED", "OUT_OF_MEMORY",
            "BOOT_FAIL", "DEADLINE"}
# given per job, not a flag, or derived: an explicit --version is passed below; otherwise the job's own `run`
# derives the same default round from the model
_SKIP = {"model", "scenario", "mode", "command_line", "round", "version"}


@dataclass(frozen=True)
class SlurmOptions:
    partition: str | None = None
    nodes: int | None = None             # None: one job per run; N: a job array, N at a time, whole nodes
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
    if opts.round.explicit:  # --version was given: the job builds with the same round's LoadGen
        args += ["--version", opts.round.version]
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


@dataclass(frozen=True)
class ImageSource:
    """How a job gets the cell's image onto its node, and the ID the host expects there."""
    tag: str                         # the cell's local tag (what `mlperfctl run` looks for)
    expected_id: str | None          # sha256:...; None when the host could not tell (registry auth)
    prepare: list[str]               # mlperfctl arguments: load BUNDLE ... or pull CELL ...
    origin: str                      # "bundle PATH" or "registry REF", for messages


def _image_lines(mlperfctl: list[str], image: ImageSource, engine: str) -> list[str]:
    """Get the image onto the node unless it has the expected one, then check its ID; exit 3 with
    one line naming the fix."""
    q = shlex.join
    cli = "docker" if engine == "docker" else "podman"
    inspect = f"{cli} image inspect --format '{{{{.Id}}}}' {shlex.quote(image.tag)} 2>/dev/null"
    get = f'{q([*mlperfctl, *image.prepare])} >&2 || {{ echo "mlperfctl job: cannot get {image.tag} from ' \
          f'{image.origin} on $(hostname) (see above)" >&2; exit 3; }}'
    lines = ["image_id() { local i; i=$(" + inspect + "); echo \"${i#sha256:}\"; }"]
    if image.expected_id is None:
        return [*lines, get, f'[ -n "$(image_id)" ] || {{ echo "mlperfctl job: no {image.tag} on $(hostname) '
                                 f'after {image.origin}" >&2; exit 3; }}']
    want = image.expected_id.removeprefix("sha256:")
    lines += [f'if [ "$(image_id)" = {want} ]; then  # jobs on one node: the first one loads or pulls',
              f'  echo "mlperfctl job: {image.tag} already on $(hostname) (sha256:{want[:12]})"',
              "else", "  " + get, "fi"]
    lines.append(f'got=$(image_id); [ "$got" = {want} ] || {{ echo "mlperfctl job: {image.tag} on $(hostname) is '
                 f'${{got:-missing}} after {image.origin}, the host expects sha256:{want} (rebuild or re-save '
                 f'the image, or pass the right --bundle/--registry)" >&2; exit 3; }}')
    return lines


def job_script(*, name: str, mlperfctl: list[str], runs: list[list[str]], engine: str, workdir: Path,
               partition: str | None, log: Path, image: ImageSource | None = None,
               time_limit: str | None = None, at_once: int | None = None, gres: str | None = None) -> str:
    """The sbatch script: one job for one run, or (at_once=N) a job array over `runs`, at most N
    array tasks at a time, each holding a whole node."""
    q = shlex.join
    lines = ["#!/bin/bash", f"#SBATCH --job-name={name}", "#SBATCH --nodes=1", "#SBATCH --ntasks=1",
             f"#SBATCH --output={log}", f"#SBATCH --chdir={workdir}"]
    if at_once is not None:
        lines += [f"#SBATCH --array=0-{len(runs) - 1}%{at_once}", "#SBATCH --exclusive"]
    elif len(runs) != 1:
        raise ValueError("several runs need a job array (at_once)")
    if partition:
        lines.append(f"#SBATCH --partition={partition}")
    if time_limit:
        lines.append(f"#SBATCH --time={time_limit}")
    if gres:  # the node's GPUs the job may use (Slurm's cgroup hides the others)
        lines.append(f"#SBATCH --gres={gres}")
    cli = "docker" if engine == "docker" else "podman"
    lines += [
        "set -u",
        f'echo "mlperfctl job $SLURM_JOB_ID on $(hostname): {name}'
        '${SLURM_ARRAY_TASK_ID:+ task $SLURM_ARRAY_TASK_ID}"',
    ]
    if at_once is None:
        lines.append(f"run=({q(runs[0])})")
    else:
        lines.append('case "$SLURM_ARRAY_TASK_ID" in')
        lines += [f"  {i}) run=({q(args)}) ;;" for i, args in enumerate(runs)]
        lines += ['  *) echo "mlperfctl job: no run for array task $SLURM_ARRAY_TASK_ID" >&2; exit 2 ;;', "esac"]
    if image is not None:
        lines += _image_lines(mlperfctl, image, engine)
    lines += [
        "cleanup() {",
        '  [ -n "${pid:-}" ] && kill -TERM "$pid" 2>/dev/null && wait "$pid"',
        f'  ids=$({cli} ps -aq --filter "label={RUN_LABEL}=$(hostname):${{pid:-none}}" 2>/dev/null)',
        f'  [ -n "$ids" ] && {cli} rm -f $ids >/dev/null 2>&1',
        "  exit 143",
        "}",
        "trap cleanup TERM INT",
        f'{q(mlperfctl)} "${{run[@]}}" &',
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


def _registry_image_id(ref: str, timeout: float = 10) -> str | None:
    """The image ID (config digest) of `ref` in its registry, asked over the registry API; None
    when the registry wants credentials or serves an index (the host cannot tell). UserError, one
    line, when the registry does not answer or does not have the image."""
    name, _, tag = ref.rpartition(":")
    host, _, path = name.partition("/")
    if not ("." in host or ":" in host or host == "localhost"):   # the engines' rule: no host means Docker Hub
        host, path = "docker.io", name
    if host == "docker.io":
        host = "registry-1.docker.io"     # it wants a token: the host cannot tell (None)
    accept = "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"
    tried = []
    for scheme in ("https", "http"):   # the engines use plain HTTP for 127.0.0.0/8 and insecure registries
        req = urllib.request.Request(f"{scheme}://{host}/v2/{path}/manifests/{tag}", headers={"Accept": accept})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                manifest = json.load(r)
        except urllib.error.HTTPError as e:
            if e.code == 401:
                return None
            if e.code == 404:
                raise UserError(f"--registry: {ref} is not in the registry (push it first: mlperfctl build "
                                f"--select CELL --registry REGISTRY --push, or mlperfctl push)") from None
            raise UserError(f"--registry: {scheme}://{host} answered HTTP {e.code} for {ref}") from None
        except (urllib.error.URLError, OSError, ValueError) as e:
            tried.append(f"{scheme}: {getattr(e, 'reason', e)}")
            continue
        digest = manifest.get("config", {}).get("digest") if isinstance(manifest, dict) else None
        return digest if isinstance(digest, str) and digest.startswith("sha256:") else None
    raise UserError(f"--registry: {host} is unreachable from this host ({'; '.join(map(str, tried))}); start it, "
                    "fix the address, or use --bundle")


def _bundle_item(path: Path, cell_id: str, content_hash: str) -> dict:
    """The bundle's manifest entry for the cell's current image (UserError, one line, otherwise)."""
    from ..builder.bundle import BUNDLE_FORMAT, MANIFEST

    try:
        with tarfile.open(path) as tar:
            manifest = json.load(tar.extractfile(MANIFEST))
    except KeyError:
        raise UserError(f"--bundle {path}: not an mlperfctl bundle (no {MANIFEST}; make one with "
                        "`mlperfctl save`)") from None
    except (OSError, tarfile.TarError, json.JSONDecodeError) as e:
        raise UserError(f"--bundle {path}: cannot read it ({e})") from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise UserError(f"--bundle {path}: unknown format {manifest.get('format')!r} (expected {BUNDLE_FORMAT})")
    for item in manifest.get("images", []):
        if item.get("content_hash") == content_hash:
            return item
    held = ", ".join(f"{i.get('cell')}:{str(i.get('content_hash'))[:16]}" for i in manifest.get("images", []))
    raise UserError(f"--bundle {path} has no current image of {cell_id} (content hash {content_hash[:16]}; it "
                    f"holds {held or 'nothing'}): make it with `mlperfctl save --select {cell_id} -o {path}`")


def image_source(lm, build: BuildOptions, cell, bundle: Path | None, version: str | None = None) -> ImageSource | None:
    """Where the jobs get the cell's image from (--bundle, else --registry, else nowhere: the node's
    `mlperfctl run` builds it when missing), checked on this host before anything is submitted. lm carries the
    LoadGen the runs use; `version` is the round that picked it (the node's pull asks for the same image)."""
    if bundle is None and not build.registry:
        return None
    from .. import engines
    from ..builder import plan as build_plan
    from ..builder.stages import image_repo

    engine = engines.get(build.engine, build.engine_url)
    cp = build_plan.plan(lm, [cell], build, engine)[0]
    engine_args = ["--engine", build.engine, *(["--engine-url", build.engine_url] if build.engine_url else [])]
    if bundle is not None:
        item = _bundle_item(bundle, cell.id, cp.hash)
        return ImageSource(cp.tag, item["image_id"], ["load", str(bundle.resolve()), *engine_args],
                           f"bundle {bundle.resolve()}")
    remote = f"{image_repo(cell.id, build.registry)}:{cp.hash[:16]}"
    expected = _registry_image_id(remote)
    if expected is None:
        local = engine.inspect_image(cp.tag)
        expected = local.id if local else None
    pull = ["pull", cell.id, "--registry", build.registry, "--matrix", str(lm.path.resolve()), *engine_args,
            *(["--version", version] if version else [])]
    for device, base in sorted(build.bases.items()):
        pull += ["--base-image", f"{device}={base}"]
    return ImageSource(cp.tag, expected, pull, f"registry {remote}")


def partition_nodes(partition: str | None) -> int | None:
    """How many nodes the partition (default: the cluster's default one) has; None when unknown."""
    r = subprocess.run(["sinfo", "--noheader", "--format", "%P %D"], capture_output=True, text=True)
    if r.returncode != 0:
        return None
    total, found = 0, False
    for line in r.stdout.splitlines():
        name, _, count = line.strip().partition(" ")
        if (name.rstrip("*") == partition) if partition else name.endswith("*"):
            found = True
            total += int(count) if count.strip().isdigit() else 0
    return total if found else None


def gres_for(opts: RunOptions, device: str) -> str | None:
    """The job's GPU request: --gpus N of a cuda/rocm cell as gpu:N (None: no --gres, the node's default)."""
    return f"gpu:{opts.gpus}" if opts.gpus and device in ("cuda", "rocm") else None


def submit(lm, opts: RunOptions, build: BuildOptions, slurm: SlurmOptions, plan, *, console) -> dict:
    """Submit the plan's (scenario, mode) runs: one job each, or one job array with --nodes;
    follow them unless slurm.wait is False."""
    if not shutil.which("sbatch"):
        raise UserError("sbatch not found: --launcher slurm needs a Slurm client (sudo scripts/slurm-setup.sh "
                        "for a local one-node cluster)")
    if slurm.bundle is not None and not slurm.bundle.is_file():
        raise UserError(f"--bundle {slurm.bundle}: no such file (make one with `mlperfctl save`)")
    if slurm.nodes is not None and slurm.nodes < 1:
        raise UserError(f"--nodes {slurm.nodes}: give 1 or more")
    if build.engine == "auto":
        from ..engines import detect
        build = BuildOptions(**{**{f.name: getattr(build, f.name) for f in fields(BuildOptions)},
                                "engine": detect(build.engine_url)})
    lm = lm.with_loadgen(opts.round.loadgen)  # the image the runs use: the round's LoadGen when --version was given
    image = image_source(lm, build, plan.cell, slurm.bundle, opts.round.version if opts.round.explicit else None)
    if slurm.nodes is not None:
        have = partition_nodes(slurm.partition)
        if have is not None and have < slurm.nodes:
            console.print(f"note: partition {slurm.partition or '(default)'} has {have} node(s): --nodes "
                          f"{slurm.nodes} runs at most {have} job(s) at a time there", highlight=False)
    sub = opts.submission_dir.resolve()
    jobs_dir = jobs_dir_of(sub)
    jobs_dir.mkdir(parents=True, exist_ok=True)
    cli = _mlperfctl()
    runs = [(scenario, mode) for scenario in plan.scenarios for mode in plan.modes]
    gres = gres_for(opts, plan.cell.device)
    common = dict(mlperfctl=cli, engine=build.engine, workdir=Path.cwd(), partition=slurm.partition, image=image,
                  time_limit=slurm.time_limit, gres=gres)
    submitted = []
    try:
        if slurm.nodes is None:
            for scenario, mode in runs:
                name = f"mlperf-{plan.cell.id}-{scenario}-{mode}"
                script = jobs_dir / f"{name}.sbatch"
                script.write_text(job_script(name=name, runs=[run_flags(opts, build, lm.path, scenario, mode)],
                                             log=jobs_dir / "%j.out", **common))
                job_id = _sbatch(script)
                submitted.append(_job(job_id, name, plan.cell.id, scenario, mode, script, jobs_dir / f"{job_id}.out"))
                console.print(f"submitted job {job_id}: {plan.cell.id} {scenario} {mode}")
        else:
            name = f"mlperf-{plan.cell.id}"
            script = jobs_dir / f"{name}-{int(time.time())}.sbatch"
            script.write_text(job_script(name=name, runs=[run_flags(opts, build, lm.path, s, m) for s, m in runs],
                                         log=jobs_dir / "%A_%a.out", at_once=slurm.nodes, **common))
            array_id = _sbatch(script)
            for i, (scenario, mode) in enumerate(runs):
                job_id = f"{array_id}_{i}"
                submitted.append(_job(job_id, name, plan.cell.id, scenario, mode, script, jobs_dir / f"{job_id}.out"))
            console.print(f"submitted job array {array_id} ({len(runs)} task(s), at most {slurm.nodes} at a time, "
                          f"whole nodes): {plan.cell.id} {', '.join(f'{s} {m}' for s, m in runs)}")
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


def _job(job_id: str, name: str, cell: str, scenario: str, mode: str, script: Path, log: Path) -> dict:
    return {"id": job_id, "name": name, "cell": cell, "scenario": scenario, "mode": mode, "script": str(script),
            "log": str(log), "submitted": time.time()}


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
