"""`mlperfctl prepare`: a raw download (`mlperfctl get`) -> exactly the layout `run` reads, by the workload's
declared preparer (Workload.dataset_preparer / checkpoint_preparer), run in the cell's own container.

On the host, before any container: the cell (the model's default backend and the detected device, as `run`),
--raw a readable folder, --dest refused when it already holds something other than this same preparation (a
second `prepare` of the same model, kind and count finds it done and keeps it; --force replaces it).
In the container (the engine interface, hardened as a run's: non-root, read-only root, no capabilities, no
network): the raw folder read-only at /raw, a hidden partial folder beside --dest writable at /dest, and
`python -m mlperf_harness prepare`. Its `progress:` lines drive a bar, its `summary:` line is the result. The
host then checks the output as `run`'s preflight will (declared files, the workload's dataset check), writes
the marker DEST/mlperfctl-prepare.json and renames the partial folder to --dest: an interrupted or failed
prepare leaves --dest exactly as it was (the partial folder goes; one left by a killed prepare is removed by the
next)."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlperf_harness.errors import UsageError
from mlperf_harness.prepare import PROGRESS_PREFIX, SUMMARY_PREFIX

from . import engines
from .builder import executor
from .engines.base import ContainerSpec, Mount
from .errors import UserError
from .matrix import LoadedMatrix
from .options import BuildOptions
from .run.container import CONTAINER_USER, container_user
from .run.plan import builtin, detect_device, harness_workload
from .run.preflight import unreadable
from .submission.transaction import pid_alive

MARKER = "mlperfctl-prepare.json"
OWNER = ".mlperfctl-owner"
PREPARE_LABEL = "io.mlperfctl.prepare"
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class Interrupted(Exception):
    pass


def _interrupt(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


@dataclass(frozen=True)
class PrepareOptions:
    model: str
    raw: Path
    dest: Path
    checkpoint: bool = False
    count: int | None = None
    backend: str | None = None
    device: str | None = None
    force: bool = False

    @property
    def kind(self) -> str:
        return "checkpoint" if self.checkpoint else "dataset"


def resolve(lm: LoadedMatrix, opts: PrepareOptions):
    """(cell, workload, preparer) for the model: the built-in harness's first cell on the device (`run`'s
    defaults), refused in one line when the model declares no preparer of the kind asked."""
    if opts.model not in lm.matrix.models:
        raise UserError(f"unknown model '{opts.model}' (choose: {', '.join(lm.matrix.models)})")
    filters = {"model": [opts.model], "implementation": [builtin(lm)], "device": [opts.device or detect_device()]}
    if opts.backend:
        filters["backend"] = [opts.backend]
    cells = lm.select(filters)
    if not cells:
        wanted = "-".join(filters.get(a, ["*"])[0] for a in ("implementation", "backend", "device", "model"))
        raise UserError(f"no cell {wanted} in the matrix (see `mlperfctl matrix list --model {opts.model}`)")
    cell = cells[0]
    w = harness_workload(lm, cell)
    hook = w.checkpoint_preparer if opts.checkpoint else w.dataset_preparer
    if not hook:
        raise UserError(f"{opts.model} declares no {opts.kind} preparer: "
                        + ("its downloaded model file is used as it is (pass it to `run --model-path`)"
                           if opts.checkpoint else f"lay out the {w.dataset_name} by hand (see the README)"))
    return cell, w, hook


def partial_dir(dest: Path) -> Path:
    """The hidden folder beside --dest the container writes into (renamed to --dest at the end)."""
    return dest.parent / f".{dest.name}.mlperfctl-partial"


def _request(opts: PrepareOptions) -> dict:
    return {"model": opts.model, "kind": opts.kind, "count": opts.count}


def read_marker(dest: Path) -> dict | None:
    try:
        data = json.loads((dest / MARKER).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def check_host(opts: PrepareOptions, w) -> dict | None:
    """The host's checks, in one line each. Returns the marker when --dest already holds this preparation
    (nothing to do), else None."""
    if opts.count is not None and opts.count < 1:
        raise UserError(f"--count {opts.count}: must be positive (or leave it out for the whole dataset)")
    if not opts.raw.exists():
        raise UserError(f"--raw {opts.raw} does not exist (fetch it: mlperfctl get --model {opts.model} "
                        f"--{opts.kind} --dest {opts.raw})")
    if not opts.raw.is_dir():
        raise UserError(f"--raw {opts.raw} is a file, not a folder (pass the folder holding it)")
    dest = opts.dest
    if dest.exists() and not dest.is_dir():
        raise UserError(f"--dest {dest} is a file (pass a new or empty folder)")
    if dest.resolve() == opts.raw.resolve() or opts.raw.resolve() in dest.resolve().parents:
        raise UserError(f"--dest {dest} is inside --raw {opts.raw}, which is mounted read-only (pass a folder "
                        f"outside it)")
    if not dest.parent.is_dir():
        raise UserError(f"--dest {dest}: its parent folder {dest.parent} does not exist (create it)")
    if dest.is_dir() and any(dest.iterdir()):
        marker = read_marker(dest)
        if marker is not None and all(marker.get(k) == v for k, v in _request(opts).items()) and not opts.force:
            return marker
        if not opts.force:
            if marker is not None:
                what = f"a prepared {marker.get('model')} {marker.get('kind')} (count {marker.get('count')})"
            elif not opts.checkpoint and all((dest / f).exists() for f in w.dataset_files):
                what = f"a prepared {w.dataset_name} layout"
            else:
                what = "other files"
            raise UserError(f"--dest {dest} already holds {what}: pass another --dest, or --force to replace it "
                            f"(the old one stays until the new one is complete)")
    partial = partial_dir(dest)
    if partial.exists():
        owner = (partial / OWNER).read_text().strip() if (partial / OWNER).is_file() else ""
        host, _, pid = owner.rpartition(":")
        if host == os.uname().nodename and pid.isdigit() and pid_alive(int(pid)):
            raise UserError(f"another prepare (pid {pid}) is writing {partial}: wait for it, or stop it")
        shutil.rmtree(partial)  # a killed prepare's: it never became --dest
    return None


def spec(image: str, cell, opts: PrepareOptions, partial: Path, user: tuple[int, int], owner: str) -> ContainerSpec:
    """The preparer's container: the raw folder read-only, the partial folder writable, no network."""
    argv = ["prepare", "--model", opts.model, "--raw", "/raw", "--dest", "/dest"]
    argv += ["--checkpoint"] if opts.checkpoint else []
    argv += ["--count", str(opts.count)] if opts.count is not None else []
    return ContainerSpec(
        image=image, argv=tuple(argv),
        mounts=(Mount(str(opts.raw.resolve()), "/raw", read_only=True),
                Mount(str(partial.resolve()), "/dest", read_only=False)),
        user=f"{user[0]}:{user[1]}", env=(("HOME", "/tmp"), ("PYTHONUNBUFFERED", "1")), working_dir="/tmp",
        network="none", labels=((PREPARE_LABEL, owner), ("io.mlperfctl.cell", cell.id)))


def verify(w, opts: PrepareOptions, backend: str, out: Path) -> None:
    """The output is what `run` reads: its declared files and the workload's own dataset check (the model file
    for a checkpoint), before it takes --dest's name."""
    try:
        if opts.checkpoint:
            name = w.model_file(backend)
            folder = w.model_is_folder(backend)
            if not folder and not (out / name).exists() or folder and not [p for p in out.iterdir()
                                                                            if p.name != OWNER]:
                raise UsageError(f"the preparer wrote no {name}", "report this: the checkpoint preparer is wrong")
            return
        missing = [f for f in w.dataset_files if not (out / f).exists()]
        if missing:
            raise UsageError(f"the preparer wrote no {', '.join(missing)}", "report this: the preparer is wrong")
        w.check_dataset(out, opts.count)
    except UsageError as e:
        raise UserError(f"prepare {opts.model}: its output is not what `run` reads ({e}); --dest unchanged") from None


def run_command(opts: PrepareOptions, w, backend: str) -> str:
    """The `mlperfctl run` that uses the result (the other half named by a placeholder)."""
    argv = ["mlperfctl", "run", "--model", opts.model, "--backend", backend]
    if opts.checkpoint:
        argv += ["--dataset-dir", "DATASET_DIR", "--model-path", str(opts.dest)]
    else:
        argv += ["--dataset-dir", str(opts.dest), "--model-path", "MODEL_PATH"]
    argv += ["--count", str(opts.count)] if opts.count is not None else []
    return shlex.join(argv)


def _chown_tree(root: Path, uid: int, gid: int) -> None:
    for path in [root, *root.rglob("*")]:
        os.chown(path, uid, gid, follow_symlinks=False)


def execute(lm: LoadedMatrix, opts: PrepareOptions, build_options: BuildOptions, *, reporter=None,
            on_line: Callable[[str], None] = print, on_progress: Callable[[int, int, str], None] | None = None,
            notice: Callable[[str], None] = print) -> dict:
    """Prepare --dest from --raw (see the module's docstring); the summary for people and --json."""
    t0 = time.time()
    cell, w, _hook = resolve(lm, opts)
    done = check_host(opts, w)
    base = {"model": opts.model, "kind": opts.kind, "cell": cell.id, "dest": str(opts.dest), "count": opts.count,
            "run_command": run_command(opts, w, cell.backend)}
    if done is not None:
        return {**base, "status": "kept", "image": done.get("image"), "summary": done.get("summary", {}),
                "seconds": round(time.time() - t0, 1)}
    engine = engines.get(build_options.engine, build_options.engine_url)
    user = container_user()
    blocked = unreadable([opts.raw], *user)
    if blocked:
        raise UserError(f"{blocked} is not readable by the container's user {user[0]}:{user[1]} "
                        f"(fix: chmod -R o+rX {opts.raw})")
    image = executor.ensure_image(lm, cell, build_options, engine=engine, reporter=reporter)
    owner = f"{os.uname().nodename}:{os.getpid()}"
    partial = partial_dir(opts.dest)
    previous = {s: signal.signal(s, _interrupt) for s in SIGNALS}
    summary: dict = {}
    placed = False
    try:
        partial.mkdir()
        (partial / OWNER).write_text(owner + "\n")
        if os.getuid() == 0:
            os.chown(partial, *CONTAINER_USER)
        notice(f"preparing {opts.model}'s {opts.kind} from {opts.raw} in {image.tag} (no network, raw read-only)")

        def line(text: str) -> None:
            nonlocal summary
            if text.startswith(SUMMARY_PREFIX):
                try:
                    summary = json.loads(text[len(SUMMARY_PREFIX):])
                except ValueError:
                    on_line(text)
            elif text.startswith(PROGRESS_PREFIX) and on_progress is not None:
                counts, _, what = text[len(PROGRESS_PREFIX):].partition(" ")
                n, _, total = counts.partition("/")
                if n.isdigit() and total.isdigit():
                    on_progress(int(n), int(total), what)
            else:
                on_line(text)

        result = engine.run(spec(image.tag, cell, opts, partial, user, owner), line)
        if result.exit_code != 0:
            lines = result.tail.strip().splitlines()
            if result.exit_code == 2 and lines:  # bad raw input: the harness said so in one line
                raise UserError(f"prepare {opts.model}: {lines[-1].removeprefix('error: ')} (--dest unchanged)")
            raise UserError(f"prepare {opts.model} failed in its container (exit code {result.exit_code}); --dest "
                            f"unchanged. Last lines:\n{result.tail}")
        if os.getuid() == 0:
            _chown_tree(partial, 0, 0)
        (partial / OWNER).unlink()
        verify(w, opts, cell.backend, partial)
        marker = {**_request(opts), "cell": cell.id, "image": image.tag, "raw": str(opts.raw.resolve()),
                  "summary": summary, "finished": time.time()}
        (partial / MARKER).write_text(json.dumps(marker, indent=2) + "\n")
        _place(partial, opts.dest)
        placed = True
    except (KeyboardInterrupt, Interrupted) as e:
        raise UserError(f"interrupted ({e or 'SIGINT'}): container removed, --dest {opts.dest} unchanged") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        engine.remove_containers(f"{PREPARE_LABEL}={owner}")
        if not placed:
            shutil.rmtree(partial, ignore_errors=True)
    return {**base, "status": "prepared", "image": image.tag, "summary": summary,
            "seconds": round(time.time() - t0, 1)}


def _place(partial: Path, dest: Path) -> None:
    """partial becomes dest: over a missing or empty one by a rename; a replaced one (--force) is moved aside
    first and removed only after."""
    if dest.is_dir() and any(dest.iterdir()):
        old = dest.parent / f".{dest.name}.mlperfctl-old"
        shutil.rmtree(old, ignore_errors=True)
        os.rename(dest, old)
        os.rename(partial, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(partial, dest)
