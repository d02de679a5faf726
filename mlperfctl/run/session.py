"""One run session, shared by `mlperfctl run` and `mlperfctl run --submission`.

A session is everything both flows do around their LoadGen tests, in one place and in this order:

    plan  ->  engine  ->  preflight (data, model, device, readability)  ->  refusals of the tree  ->  image
    ->  signals  ->  containers (one per harness run)  ->  the tree write  ->  teardown

Used as a context manager: on entry SIGINT, SIGTERM and SIGHUP become an interrupt; on exit, whatever
happened, the handlers are restored, every container the session started is removed (again a moment later
after an interrupt, since the engine may finish creating one after it was listed) and its own scratch folder
goes. An interrupt or a failure before `write_tree` leaves the submission tree exactly as it was; `write_tree`
itself stages everything and undoes what it placed. What differs between the flows is only where raw outputs
go and how a piece is remembered: a plain run writes into the session's scratch folder, `--submission` into
its results directory through its ledger (submission_flow.PieceRunner).

`run_record` builds every run.json (one shape for both flows) and `Overhead` says where a run's wall time
went: LoadGen's own test time (each run's detail log) against the image, container start, model load and
copy around it."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from .. import engines, submission
from ..builder import executor
from ..errors import UserError
from ..matrix import LoadedMatrix
from ..options import BuildOptions, RunOptions
from ..submission import MLLog, sysinfo
from ..submission.writer import write_failed
from .container import (
    HARNESS_PATH,
    RUN_LABEL,
    container_spec,
    container_user,
    harness_args,
    info_spec,
    remove_stale_containers,
)
from .plan import RunPlan, Target, plan
from .preflight import preflight, unreadable
from .results import effective_seeds, framework, reproduce_command

CONSOLE_LOG = "console.log"  # a harness run's console output, beside its raw LoadGen outputs
STAGING_MARGIN = 64 * 1024 * 1024  # free space the tree's staging copy needs at least
SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)  # SIGINT too: a background job inherits it ignored
REMOVAL_RETRIES = (1.0, 2.0)  # seconds between the extra container removals after an interrupt


class Interrupted(Exception):
    """A signal arrived during the session (raised from the signal handler)."""


def _raise_interrupt(signum, _frame):
    raise Interrupted(signal.Signals(signum).name)


@dataclass(frozen=True)
class Image:
    """The image the session runs, and what the harness in it says about itself."""

    tag: str
    image_id: str
    digest: str | None
    info: dict  # `python -m mlperf_harness info`


class RunSession:
    """The set-up, the containers and the teardown of one run (see the module's docstring).

        s = RunSession(lm, opts, build_options, console=..., log_line=...)   # the plan: options checked
        ...                                                                  # a flow's own host checks
        with s:                                # engine, preflight, signals; on exit: containers removed
            s.refuse_existing()
            s.start_image()
            s.run_harness("Offline/performance", s.harness_command("Offline", "performance", out), s.scratch)
            s.write_tree(result_sets, src_dir=s.copy_source(s.scratch / "src"))

    `interrupted_message` is what an interrupt says after "interrupted (SIGINT): containers removed, submission
    tree unchanged" (the submission flow adds its ledger)."""

    def __init__(self, lm: LoadedMatrix, opts: RunOptions, build_options: BuildOptions, *, console, log_line,
                 reporter=None, loadgen: str | None = None, check_image=None):
        self.started = time.time()
        self.opts = opts
        self.console, self.log_line, self.reporter = console, log_line, reporter
        self.build_options = build_options
        self.check_image = check_image  # called with the Image before any harness run (submission: its LoadGen)
        self.lm = lm.with_loadgen(loadgen if loadgen is not None else opts.round.loadgen)
        self.plan: RunPlan = plan(self.lm, opts)  # every option checked: one line, before anything else
        self.round = opts.round
        self.image: Image | None = None
        self.overhead = Overhead()
        self.interrupted_message = ""
        self._previous: dict = {}
        self._scratch: Path | None = None

    def _prepare(self) -> None:
        """The engine, and everything about data, model and device the host can check before a container."""
        opts = self.opts
        self.engine = engines.get(self.build_options.engine, self.build_options.engine_url)
        self.model_path = preflight(self.lm, self.plan, opts, self.engine.runtimes())
        self.user = container_user()
        blocked = unreadable([opts.dataset_dir, self.model_path], *self.user)
        if blocked:
            raise UserError(f"{blocked} is not readable by the container's user {self.user[0]}:{self.user[1]} "
                            f"(fix: chmod -R o+rX on the dataset and model folders)")
        self.system_name = opts.system_name or sysinfo.default_system_name(self.plan.cell.device,
                                                                           self.plan.cell.backend)
        self.owner = f"{os.uname().nodename}:{os.getpid()}"
        self.model_target = f"/model/{self.model_path.name}"

    # -- set-up ------------------------------------------------------------------------------------------------
    def refuse_existing(self, *, resuming: bool = False) -> None:
        """What the tree already holds, before the image and any container: results for this system, model and
        scenarios are refused unless --force (not when resuming: the tree holds the submission's own earlier
        results), and a system description of another system under the same name always (--force would
        rewrite the description of results this run did not make)."""
        p, o = self.plan, self.opts
        if not resuming:
            submission.refuse_existing(o.submission_dir, division=o.division, submitter=o.submitter,
                                       system_name=self.system_name, model=p.cell.model, scenarios=p.scenarios,
                                       rnd=self.round.submission, force=o.force, modes=p.modes)
        sysinfo.refuse_system_clash(o, p.cell, self.system_name)

    def start_image(self) -> Image:
        """Stale containers of dead runs go; the cell's image is built or reused; the harness in it reports."""
        remove_stale_containers(self.engine)
        t0 = time.time()
        built = executor.ensure_image(self.lm, self.plan.cell, self.build_options, engine=self.engine,
                                      reporter=self.reporter)
        current = self.engine.inspect_image(built.tag)
        digest = current.digests[0] if current and current.digests else None
        info = json.loads(self.engine.output(info_spec(built.tag, self.user)))
        self.image = Image(built.tag, built.image_id, digest, info)
        self.overhead.image_seconds = time.time() - t0
        if self.check_image is not None:
            self.check_image(self.image)
        cache = self.opts.cache_dir
        cache.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            os.chown(cache, *self.user)
        return self.image

    @property
    def scratch(self) -> Path:
        """The session's own folder (removed at teardown): a plain run's raw outputs, the staging of the tree."""
        if self._scratch is None:
            self._scratch = Path(tempfile.mkdtemp(prefix="mlperfctl-run-"))
        return self._scratch

    # -- containers --------------------------------------------------------------------------------------------
    def harness_command(self, scenario: str, mode: str, output: str, *, target: Target | None = None,
                        execution_mode: str | None = None) -> list[str]:
        return harness_args(self.plan, self.opts, scenario, mode, self.model_target, output, target=target,
                            execution_mode=execution_mode)

    def spec(self, command: list[str], results_dir: Path):
        return container_spec(self.plan, image=self.image.tag, dataset_dir=self.opts.dataset_dir,
                              model_path=self.model_path, results_dir=results_dir, cache_dir=self.opts.cache_dir,
                              command=command, user=self.user, owner=self.owner,
                              gpus=self.opts.gpus)

    def writable_output(self, results_dir: Path, output: Path) -> None:
        """The container's user may write `output` (as root: the folder is handed to it, its parents opened)."""
        output.mkdir(parents=True, exist_ok=True)
        if os.getuid() == 0:
            for d in (Path("."), *output.relative_to(results_dir).parents):
                os.chmod(results_dir / d, 0o755)
            os.chown(output, *self.user)

    def reclaim(self, output: Path) -> None:
        """What the container wrote belongs to root again (a root session's tree is root's)."""
        if os.getuid() == 0 and output.exists():
            for path in [output, *output.rglob("*")]:
                os.chown(path, 0, 0)

    def run_harness(self, label: str, command: list[str], results_dir: Path, *, failure: str = "",
                    console_log: Path | None = None) -> float:
        """One harness run in its container (results_dir mounted as /results); returns its seconds. A non-zero
        exit is one UserError with the container's last lines (`failure` says what is kept). Every line the
        container prints is also written, as it comes, to `console_log` (CONSOLE_LOG beside the run's raw
        LoadGen outputs), kept whether the run succeeds, fails or is interrupted."""
        self.console.print(f"[bold]▶ {label}[/] in {self.image.tag}")
        t0 = time.time()
        with open(console_log, "a", encoding="utf-8") if console_log else contextlib.nullcontext() as log:
            def line(text: str) -> None:
                if log is not None:
                    log.write(text + "\n")
                    log.flush()
                self.log_line(label, text)

            if log is not None:
                log.write(f"# {label}: {shlex.join(['python3', '-m', 'mlperf_harness', *command])}\n")
            result = self.engine.run(self.spec(command, results_dir), line)
            if log is not None:
                log.write(f"# exit code {result.exit_code} after {time.time() - t0:.1f} s\n")
        seconds = time.time() - t0
        if result.exit_code != 0:
            raise UserError(f"the harness failed ({label}, exit code {result.exit_code}); "
                            f"{failure or 'submission tree unchanged'}. Last lines:\n{result.tail}")
        return seconds

    def output(self, command: list[str], results_dir: Path) -> str:
        """A short harness command's standard output (the accuracy scorer of the TEST01 fallback)."""
        return self.engine.output(self.spec(command, results_dir))

    # -- the tree ----------------------------------------------------------------------------------------------
    @cached_property
    def host(self) -> dict:
        """The system description (the host probed once a session: every run.json and the tree share it)."""
        p, o = self.plan, self.opts
        return sysinfo.system_description(
            division=o.division, submitter=o.submitter, system_name=self.system_name, category=o.category,
            device=p.cell.device, framework=framework(self.image.info, p.cell.backend), path=o.submission_dir,
            overrides=sysinfo.load_overrides(o.system_json))

    def copy_source(self, dest: Path) -> Path:
        """The harness's code as the image has it, for the tree's src/ (code/)."""
        dest.mkdir(parents=True, exist_ok=True)
        self.engine.copy_from_image(self.image.tag, HARNESS_PATH, dest)
        return dest

    def result_set(self, scenario: str, *, performance_dir: Path | None, accuracy_dir: Path | None,
                   record: dict, compliance: dict | None = None) -> submission.ResultSet:
        p = self.plan
        return submission.ResultSet(
            model=p.cell.model, scenario=scenario, performance_dir=performance_dir, accuracy_dir=accuracy_dir,
            measurements=submission.measurements_for(p.cell.model, p.precision, p.model_file),
            readme=self.readme(scenario), ledger=record, compliance=compliance or {})

    def readme(self, scenario: str) -> str:
        p, image = self.plan, self.image
        return (f"# {p.cell.model} {scenario}\n\n"
                f"Run with [mlperfctl](https://github.com/mlperfctl/mlperfctl) in the container image "
                f"`{image.tag}` (image ID `{image.image_id}`"
                + (f", digest `{image.digest}`" if image.digest else "") + ").\n\n"
                "To reproduce:\n\n```console\n"
                f"mlperfctl pull {p.cell.id}   # or: mlperfctl build --select {p.cell.id}\n"
                f"{reproduce_command(self.opts)}\n```\n")

    def write_tree(self, results: list, *, src_dir: Path, force: bool | None = None,
                   kept: str = "the tree is exactly as it was") -> list[Path]:
        o = self.opts
        return write_tree(o.submission_dir, division=o.division, submitter=o.submitter, system_name=self.system_name,
                          system_json=self.host, results=results, src_dir=src_dir, rnd=self.round.submission,
                          force=o.force if force is None else force, implementation=self.plan.cell.implementation,
                          kept=kept)

    # -- teardown ----------------------------------------------------------------------------------------------
    def __enter__(self) -> RunSession:
        self._prepare()
        self._previous = {s: signal.signal(s, _raise_interrupt) for s in SIGNALS}
        return self

    def __exit__(self, kind, error, tb) -> bool:
        interrupted = kind is not None and issubclass(kind, (KeyboardInterrupt, Interrupted))
        try:
            for s, handler in self._previous.items():
                signal.signal(s, handler)
            self.engine.remove_containers(f"{RUN_LABEL}={self.owner}")
            if interrupted:  # a signal during a create: the engine may finish creating the container after we listed
                for pause in REMOVAL_RETRIES:
                    time.sleep(pause)
                    self.engine.remove_containers(f"{RUN_LABEL}={self.owner}")
        finally:
            if self._scratch is not None:
                shutil.rmtree(self._scratch, ignore_errors=True)
        if interrupted:
            raise UserError(f"interrupted ({error or 'SIGINT'}): containers removed, submission tree unchanged"
                            + (f"; {self.interrupted_message}" if self.interrupted_message else "")) from None
        return False


def default_results_dir(submission_dir: Path) -> Path:
    """Where both flows keep raw LoadGen outputs when --results-dir is not given: <submission-dir>-raw beside it."""
    sub = Path(submission_dir).resolve()
    return sub.parent / f"{sub.name}-raw"


def check_destinations(submission_dir: Path, results_dir: Path | None) -> Path:
    """The submission tree and the raw results directory (--results-dir, default beside the tree) as both flows
    need them, checked on the host before any container (one line each, UserError): folders, writable, the raw
    outputs outside the tree, room for the staging copy. Returns the results directory, resolved."""
    results_dir = Path(results_dir or default_results_dir(submission_dir)).resolve()
    sub = Path(submission_dir).resolve()
    for path, flag in ((sub, "--submission-dir"), (results_dir, "--results-dir")):
        if path.exists() and not path.is_dir():
            raise UserError(f"{flag} {path} is a file, not a directory (pass a folder)")
        existing = next(p for p in (path, *path.parents) if p.exists())
        if not existing.is_dir():
            raise UserError(f"{flag} {path}: {existing} is a file, not a directory (pass a folder)")
        if not os.access(existing, os.W_OK | os.X_OK):
            raise UserError(f"{flag} {path}: {existing} is not writable (pass a folder you can write to)")
    if results_dir == sub or sub in results_dir.parents:
        raise UserError(f"--results-dir {results_dir} is inside the submission tree {sub}: raw LoadGen outputs "
                        f"must stay outside it (pass a folder beside it)")
    for path, flag, needs in ((sub, "--submission-dir", "the staging copy"), (results_dir, "--results-dir",
                                                                               "the raw LoadGen outputs")):
        free = shutil.disk_usage(next(p for p in (path, *path.parents) if p.exists())).free
        if free < STAGING_MARGIN:
            raise UserError(f"{flag} {path}: only {free // (1024 * 1024)} MiB free on its file system, {needs} "
                            f"need at least {STAGING_MARGIN // (1024 * 1024)} MiB (free some space)")
    return results_dir


def write_tree(submission_dir: Path, *, kept: str = "the tree is exactly as it was", **kw) -> list[Path]:
    """The results into the submission tree, atomically (submission.write_results): a failure of the file system
    (disk full, ...) is one line saying what is `kept`, and the writer has undone what it placed."""
    try:
        return submission.write_results(submission_dir, **kw)
    except OSError as e:
        raise write_failed(e, f"writing the submission tree {submission_dir}", kept) from None


def run_record(s: RunSession, scenario: str, runs: list[dict], *, performance_dir: Path | None,
               find_performance: dict | None, seeds: dict | None = None, **extra) -> dict:
    """A scenario's run.json, for both flows: the cell, the image, the command, the harness and host, the round
    and LoadGen (with the seeds the performance run used and whether they are the round's), the runs, and what
    a flow adds (`extra`: the submission's compliance verdicts and targets)."""
    image, rnd = s.image, s.round
    seeds = seeds if seeds is not None else (effective_seeds(performance_dir) if performance_dir else {})
    want = rnd.submission.seeds.as_dict()
    return {
        "cell": s.plan.cell.id, "image": image.tag, "image_id": image.image_id, "image_digest": image.digest,
        "command_line": reproduce_command(s.opts), "harness": image.info, "host": s.host,
        "loadgen": {"version": image.info.get("loadgen_version"), **rnd.as_dict(), "seeds": seeds,
                    "round_seeds": bool(seeds) and all(seeds.get(k) == v for k, v in want.items())},
        "runs": runs, "find_performance": find_performance, **extra,
        "started": s.started, "finished": time.time(), "exit_status": 0,
    }


def loadgen_seconds(output_dir: Path) -> float | None:
    """LoadGen's own duration of a run: the span of its detail log's timestamps (its clock starts with the
    test); None without a detail log."""
    path = Path(output_dir) / "mlperf_log_detail.txt"
    if not path.is_file():
        return None
    times = [r.get("time_ms") for records in MLLog(path).messages.values() for r in records]
    times = [t for t in times if isinstance(t, (int, float))]
    return (max(times) - min(times)) / 1000.0 if times else None


@dataclass
class Overhead:
    """Where a run's wall time went: the image (build or reuse, and its info), each harness run's container time
    against LoadGen's own test time, and what came after (verification, tree, truncation, check, package)."""

    image_seconds: float = 0.0
    pieces: list[dict] = field(default_factory=list)  # {"piece", "container_s", "loadgen_s", "overhead_s"}

    def piece(self, name: str, container_seconds: float, output_dir: Path) -> None:
        lg = loadgen_seconds(output_dir)
        self.pieces.append({"piece": name, "container_s": round(container_seconds, 1),
                            "loadgen_s": None if lg is None else round(lg, 1),
                            "overhead_s": None if lg is None else round(container_seconds - lg, 1)})

    def summary(self, wall_seconds: float) -> dict:
        loadgen = sum(p["loadgen_s"] or 0.0 for p in self.pieces)
        containers = sum(p["container_s"] for p in self.pieces)
        return {"wall_s": round(wall_seconds, 1), "loadgen_s": round(loadgen, 1),
                "image_s": round(self.image_seconds, 1),
                "container_overhead_s": round(containers - loadgen, 1),
                "after_runs_s": round(max(0.0, wall_seconds - self.image_seconds - containers), 1),
                "pieces": self.pieces}

    @staticmethod
    def line(summary: dict) -> str:
        """One line for a person: the wall time, LoadGen's share, and the rest by kind."""
        wall, lg = summary["wall_s"], summary["loadgen_s"]
        n = len(summary["pieces"])
        share = f" ({100 * lg / wall:.0f}%)" if wall else ""
        per = f", {summary['container_overhead_s'] / n:.1f} s a piece" if n else ""
        return (f"wall {wall:.1f} s: LoadGen tests {lg:.1f} s{share}; image {summary['image_s']:.1f} s; container "
                f"start, model load and copy {summary['container_overhead_s']:.1f} s over {n} run(s){per}; "
                f"after the runs {summary['after_runs_s']:.1f} s")
