"""`mlperfctl run --submission`: everything one model's submission needs, in one command that resumes.

For every scenario the round's rulebook requires of the category (or `--scenario`): the targets
(run/findperf.py; its probes are ledger pieces too, so a resumed search replays), the performance and accuracy
runs, then (closed division) each compliance test the rulebook lists, a performance-mode harness run with the
test's audit.config (written here into the piece's own folder, passed with --audit-config, never present for
normal runs; Server's at the target less --compliance-server-qps-reduction percent), retried
`--compliance-retries` times when INVALID in `valid` mode (TEST06's INVALID is expected: never retried); then
the verification of mlperfctl.compliance (the TEST01 fallback scores logs with the harness's accuracy command in
the container), the tree (written atomically), truncation, `submission check` and `submission package`.

Raw LoadGen outputs stay in the results directory (outside the tree), with the run ledger
(run/ledger.py): a rerun after Ctrl-C or a failure reuses every piece recorded complete and valid with
the same image and harness command, and runs only the rest."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import mlperf_rules

from .. import compliance, engines, submission
from ..builder import executor
from ..errors import UserError
from ..matrix import LoadedMatrix
from ..options import BuildOptions, RunOptions
from ..submission import check as submission_check
from ..submission import sysinfo
from ..submission.writer import write_failed
from .container import RUN_LABEL, container_spec, container_user, harness_args, info_spec, remove_stale_containers
from .findperf import PROBE_EXECUTION_MODE, cache_for, find_targets, sig
from .ledger import LEDGER_NAME, Ledger, fingerprint, summary_validity
from .plan import RunPlan, Target, plan
from .preflight import preflight, unreadable
from .results import effective_seeds, framework, read_result, readme, reproduce_command
from .rulebook import rules_round, submission_loadgen

NO_RETRY = ("TEST06",)  # INVALID is expected there (the run's settings make it so): never retried
STAGING_MARGIN = 64 * 1024 * 1024  # free space the tree's staging copy needs at least
# --compliance-server-qps-reduction must stay below this (percent): the official TEST01 performance check passes
# only when the compliance run's Server completed samples/s is within 10% of the performance run's
MAX_COMPLIANCE_QPS_REDUCTION = 10.0


@dataclass(frozen=True)
class SubmissionOptions:
    results_dir: Path | None = None      # raw LoadGen outputs and the ledger (default: beside the tree)
    compliance_retries: int = 1          # extra attempts for an INVALID compliance run (valid mode)
    skip_dataset_size_check: bool = False
    package: bool = True
    compliance_server_qps_reduction: float = 0.0  # percent below the Server target QPS for compliance runs
    rerun: tuple[str, ...] = ()          # "<Scenario>" or "<Scenario>/<piece>": run again even when the ledger has it


class _Interrupted(Exception):
    pass


def _raise_interrupt(signum, _frame):
    raise _Interrupted(signal.Signals(signum).name)


def default_results_dir(submission_dir: Path) -> Path:
    sub = Path(submission_dir).resolve()
    return sub.parent / f"{sub.name}-raw"


def check_options(opts: RunOptions, sopts: SubmissionOptions) -> Path:
    """Everything about the submission's own options and destinations that the host can tell before a container
    starts (one line each, UserError; the run options are plan()'s). Returns the results directory."""
    if sopts.compliance_retries < 0:
        raise UserError(f"--compliance-retries {sopts.compliance_retries}: must be 0 or more")
    reduction = sopts.compliance_server_qps_reduction
    if not 0 <= reduction < MAX_COMPLIANCE_QPS_REDUCTION:
        raise UserError(f"--compliance-server-qps-reduction {reduction:g}: must be at least 0 and below "
                        f"{MAX_COMPLIANCE_QPS_REDUCTION:g} (percent; TEST01's performance check fails a compliance "
                        f"run 10% or more below the submission's Server rate)")
    results_dir = Path(sopts.results_dir or default_results_dir(opts.submission_dir)).resolve()
    sub = Path(opts.submission_dir).resolve()
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


def scenario_pieces(modes: tuple[str, ...], tests: tuple[str, ...]) -> list[tuple[str, str, str | None]]:
    """A scenario's ledger pieces in the order they run, as (piece, LoadGen mode, compliance test): its modes,
    then each compliance test (a performance-mode run), which only a submission with performance runs has."""
    return [(m, m, None) for m in modes] + ([(t, "performance", t) for t in tests] if "performance" in modes else [])


def rerun_keys(values: tuple[str, ...], scenarios: tuple[str, ...], modes: tuple[str, ...],
               tests: tuple[str, ...]) -> frozenset[str]:
    """The ledger pieces ("<Scenario>/<piece>") that --rerun names: a scenario alone means all of its pieces. A
    value naming no piece of this submission is a one-line error, before any container starts."""
    pieces = [piece for piece, _, _ in scenario_pieces(modes, tests)]
    keys = set()
    for value in values:
        scenario, _, piece = value.partition("/")
        if scenario not in scenarios:
            raise UserError(f"--rerun {value}: {scenario or '(empty)'} is not a scenario of this submission "
                            f"(one of: {', '.join(scenarios)}; e.g. --rerun {scenarios[0]}/performance)")
        if piece and piece not in pieces:
            raise UserError(f"--rerun {value}: {piece} is not a piece of this submission (one of: "
                            f"{', '.join(pieces)}; or the scenario alone for all of them)")
        keys.update(f"{scenario}/{x}" for x in ((piece,) if piece else pieces))
    return frozenset(keys)


def accuracy_argv(lm: LoadedMatrix, p: RunPlan, log: str, model_target: str) -> list[str]:
    """The harness's accuracy command for the model, scoring one accuracy log (the TEST01 fallback): what the
    workload declares, so a new model needs no change here."""
    return p.workload.accuracy_argv(p.cell.model, log, "/data", model_target)


def execute_submission(lm: LoadedMatrix, opts: RunOptions, build_options: BuildOptions, sopts: SubmissionOptions,
                       *, console, log_line, reporter=None) -> dict:
    p = plan(lm, opts)
    lm = lm.with_loadgen(submission_loadgen(p.cell.model, opts.version))  # the image gets the round's LoadGen
    results_dir = check_options(opts, sopts)
    rnd = rules_round(p.cell.model, opts.version)
    closed = opts.division == "closed"
    tests = compliance.tests_for(rnd.version, p.cell.model) if closed else ()
    rerun = rerun_keys(sopts.rerun, p.scenarios, p.modes, tests)
    eng = engines.get(build_options.engine, build_options.engine_url)
    model_path = preflight(lm, p, opts, eng.runtimes())
    user = container_user()
    blocked = unreadable([opts.dataset_dir, model_path], *user)
    if blocked:
        raise UserError(f"{blocked} is not readable by the container's user {user[0]}:{user[1]} "
                        f"(fix: chmod -R o+rX on the dataset and model folders)")
    system_name = opts.system_name or sysinfo.default_system_name(p.cell.device, p.cell.backend)
    ledger = Ledger(results_dir / LEDGER_NAME)
    prefix = f"{opts.division}/{system_name}/{p.cell.id}/"
    resuming = any(k.startswith(prefix) for k in ledger.pieces)
    if not resuming:
        submission.refuse_existing(opts.submission_dir, division=opts.division, submitter=opts.submitter,
                                   system_name=system_name, model=p.cell.model, scenarios=p.scenarios,
                                   version=opts.version, force=opts.force, modes=p.modes)
    sysinfo.refuse_system_clash(opts, p.cell, system_name)  # another system under that name
    remove_stale_containers(eng)
    console.print(f"submission: cell [bold]{p.cell.id}[/]  {opts.division} {opts.version} ({rnd.version} rules)  "
                  f"scenarios {', '.join(p.scenarios)}  compliance {', '.join(tests) or 'none'}  "
                  f"execution mode {opts.execution_mode}  raw outputs {results_dir}")
    image = executor.ensure_image(lm, p.cell, build_options, engine=eng, reporter=reporter)
    current = eng.inspect_image(image.tag)
    digest = current.digests[0] if current and current.digests else None
    info = json.loads(eng.output(info_spec(image.tag, user)))
    check_loadgen(opts.version, info.get("loadgen_version"), image.tag)

    cache_dir = opts.cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)
    base = results_dir / opts.division / system_name / p.cell.id
    base.mkdir(parents=True, exist_ok=True)
    owner = f"{os.uname().nodename}:{os.getpid()}"
    root = os.getuid() == 0
    model_target = f"/model/{model_path.name}"
    previous = {s: signal.signal(s, _raise_interrupt) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    pieces: dict[str, dict] = {}  # "<scenario>/<piece>" -> ledger entry (+ "reused")
    counts = {"ran": 0, "reused": 0}
    started = time.time()
    interrupted = False

    def spec(command: list[str]):
        return container_spec(p, image=image.tag, dataset_dir=opts.dataset_dir, model_path=model_path,
                              results_dir=results_dir, cache_dir=cache_dir, command=command, user=user, owner=owner)

    def container_path(path: Path) -> str:
        return "/results/" + str(path.relative_to(results_dir))

    def run_piece(scenario: str, piece: str, mode: str, *, target: Target | None = None, test: str | None = None,
                  execution_mode: str | None = None, strict: bool = True) -> dict:
        key = f"{scenario}/{piece}"
        final = base / scenario / piece
        audit_text = compliance.audit_config_text(rnd.version, test, p.cell.model) if test else None
        argv = harness_args(p, opts, scenario, mode, model_target, "/results/OUTPUT", target=target,
                            execution_mode=execution_mode)
        fp = fingerprint(argv, audit_text)
        strict = strict and opts.execution_mode == "valid" and test not in NO_RETRY
        entry = None if key in rerun else ledger.reusable(prefix + key, fp=fp, image_id=image.image_id,
                                                          output=final, strict_validity=strict)
        if entry is not None:
            console.print(f"[green]✓ {scenario} {piece}[/] reused from the ledger ({entry.get('validity') or 'done'})")
            counts["reused"] += 1
            pieces[key] = {**entry, "reused": True}
            return pieces[key]
        attempts, retry = compliance_attempts(test, sopts.compliance_retries, opts.execution_mode)

        def attempt_once(attempt: int) -> dict:
            partial = base / scenario / f".{piece}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir(parents=True)
            command = harness_args(p, opts, scenario, mode, model_target, container_path(partial), target=target,
                                   execution_mode=execution_mode)
            audit_dir = None
            if test:  # the test's audit.config in a folder of its own, handed to the harness for this run only
                audit_dir = base / scenario / f".{piece}.audit"
                shutil.rmtree(audit_dir, ignore_errors=True)
                audit_dir.mkdir(parents=True)
                audit = compliance.write_audit_config(audit_dir, rnd.version, test, p.cell.model)
                os.chmod(audit_dir, 0o755)
                os.chmod(audit, 0o644)
                command += ["--audit-config", container_path(audit)]
            if root:
                for d in (results_dir, *partial.relative_to(results_dir).parents):
                    os.chmod(results_dir / d, 0o755)
                os.chown(partial, *user)
                os.chown(cache_dir, *user)
            label = f"{scenario}/{piece}" + (f" (attempt {attempt}/{attempts})" if attempt > 1 else "")
            console.print(f"[bold]▶ {label}[/] in {image.tag}")
            t0 = time.time()
            result = eng.run(spec(command), lambda line: log_line(key, line))
            counts["ran"] += 1
            if audit_dir is not None:
                shutil.rmtree(audit_dir, ignore_errors=True)
            if root:
                for path in [partial, *partial.rglob("*")]:
                    os.chown(path, 0, 0)
            if result.exit_code != 0:
                raise UserError(f"the harness failed ({scenario} {piece}, exit code {result.exit_code}); the "
                                f"{len(pieces)} piece(s) done are in the ledger {ledger.path}: rerun the same "
                                f"command to resume. Last lines:\n{result.tail}")
            validity = summary_validity(partial) if mode == "performance" else None
            if final.exists():
                shutil.rmtree(final)
            partial.rename(final)
            entry = {"scenario": scenario, "piece": piece, "mode": mode, "test": test, "output": str(final),
                     "validity": validity, "fingerprint": fp, "argv": command, "image": image.tag,
                     "image_id": image.image_id, "exit_code": 0, "seconds": round(time.time() - t0, 3),
                     "attempt": attempt, "finished": time.time()}
            ledger.record(prefix + key, entry)
            return entry

        entry = run_attempts(attempt_once, attempts, retry_invalid=retry,
                             on_retry=lambda n: console.print(f"[yellow]{scenario} {piece}: INVALID, retrying "
                                                              f"({n + 1}/{attempts})[/]"))
        pieces[key] = {**entry, "reused": False}
        return pieces[key]

    try:
        def probe(scenario: str, piece: str, target: Target | None) -> Path:  # a ledger piece: reused on resume
            done = run_piece(scenario, piece, "performance", target=target, execution_mode=PROBE_EXECUTION_MODE,
                             strict=False)
            return Path(done["output"])

        found = find_targets(p, opts, probe=probe, console=console,
                             cache=cache_for(p, opts, cache_root=cache_dir, system=system_name,
                                             image_id=image.image_id))
        targets = found.targets
        compliance_targets = {s: compliance_target(s, targets.get(s), sopts.compliance_server_qps_reduction)
                              for s in p.scenarios}
        for scenario in p.scenarios:
            for piece, mode, test in scenario_pieces(p.modes, tests):
                run_piece(scenario, piece, mode, test=test,
                          target=compliance_targets[scenario] if test else targets.get(scenario))

        def scorer(log: Path) -> str:
            return eng.output(spec(accuracy_argv(lm, p, container_path(Path(log).resolve()), model_target)))

        verdicts: dict[str, dict[str, compliance.Verdict]] = {}
        staging_root = Path(tempfile.mkdtemp(prefix=".verify-", dir=base))
        try:
            result_sets = []
            src = staging_root / "src"
            src.mkdir()
            eng.copy_from_image(image.tag, "/opt/mlperf/mlperf_harness", src)
            host = sysinfo.system_description(
                division=opts.division, submitter=opts.submitter, system_name=system_name,
                category=opts.category, device=p.cell.device, framework=framework(info, p.cell.backend),
                path=opts.submission_dir, overrides=sysinfo.load_overrides(opts.system_json))
            for scenario in p.scenarios:
                perf = base / scenario / "performance" if "performance" in p.modes else None
                acc = base / scenario / "accuracy" if "accuracy" in p.modes else None
                comp = {}
                if closed and tests and perf is not None:
                    verdicts[scenario] = compliance.verify_scenario(
                        staging_root / scenario, version=rnd.version, model=p.cell.model, scenario=scenario,
                        performance_dir=perf, accuracy_dir=acc,
                        compliance_dirs={t: base / scenario / t for t in tests}, scorer=scorer)
                    comp = {t: staging_root / scenario / t for t in verdicts[scenario]}
                ran = {k: v for k, v in pieces.items() if k.startswith(f"{scenario}/")}
                seeds = check_seeds(opts.version, perf) if perf is not None else {}
                run_json = {
                    "cell": p.cell.id, "image": image.tag, "image_id": image.image_id, "image_digest": digest,
                    "command_line": reproduce_command(opts), "harness": info, "host": host,
                    "loadgen": {"version": info.get("loadgen_version"), "round": opts.version,
                                "rules_round": rnd.version, "seeds": seeds},
                    "runs": [{"scenario": scenario, "piece": v["piece"], "mode": v["mode"], "test": v["test"],
                              "validity": v["validity"], "seconds": v["seconds"], "exit_code": v["exit_code"],
                              "reused": v["reused"]} for v in ran.values()],
                    "compliance": {t: v.to_dict() for t, v in verdicts.get(scenario, {}).items()},
                    "find_performance": found.record.get(scenario),
                    "compliance_target": (None if compliance_targets[scenario] is None else
                                          {"flag": compliance_targets[scenario].flag,
                                           "value": compliance_targets[scenario].value,
                                           "server_qps_reduction_percent": sopts.compliance_server_qps_reduction
                                           if scenario == "Server" else 0.0}),
                    "started": started, "finished": time.time(), "exit_status": 0,
                }
                result_sets.append(submission.ResultSet(
                    model=p.cell.model, scenario=scenario, performance_dir=perf, accuracy_dir=acc,
                    measurements=submission.measurements_for(p.cell.model, p.precision, p.model_file),
                    readme=readme(p, opts, image, digest, scenario), ledger=run_json, compliance=comp))
            write_tree(opts.submission_dir, division=opts.division, submitter=opts.submitter,
                       system_name=system_name, system_json=host, results=result_sets, src_dir=src,
                       version=opts.version, force=opts.force or resuming, implementation=p.cell.implementation)
        finally:
            shutil.rmtree(staging_root, ignore_errors=True)
        truncate_tree(opts.submission_dir, results_dir)
        report = submission_check.check(opts.submission_dir, opts.version,
                                        skip_dataset_size_check=sopts.skip_dataset_size_check)
        archive = None
        if sopts.package:
            archive, _ = resumable(submission.package, results_dir, opts.submission_dir)
        rows = _rows(p, rnd, opts, base, tests, verdicts)
        hints = rerun_hints(verdicts)
        return {"cell": p.cell.id, "image": image.tag, "image_id": image.image_id, "system": system_name,
                "version": opts.version, "rules_round": rnd.version, "division": opts.division,
                "submission_dir": str(opts.submission_dir), "results_dir": str(results_dir),
                "ledger": str(ledger.path), "pieces_run": counts["ran"], "pieces_reused": counts["reused"],
                "scenarios": rows,
                "check": {"ok": report.ok, "problems": [str(pr) for pr in report.problems]}, "hints": hints,
                "archive": str(archive) if archive else None, "seconds": round(time.time() - started, 1)}
    except (KeyboardInterrupt, _Interrupted) as e:
        interrupted = True
        raise UserError(f"interrupted ({e or 'SIGINT'}): containers removed, submission tree unchanged; "
                        f"{len([k for k in ledger.pieces if k.startswith(prefix)])} piece(s) in the ledger "
                        f"{ledger.path}: rerun the same command to resume") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        eng.remove_containers(f"{RUN_LABEL}={owner}")
        if interrupted:  # a signal during a create: the engine may finish creating the container after we listed
            for pause in (1.0, 2.0):
                time.sleep(pause)
                eng.remove_containers(f"{RUN_LABEL}={owner}")
        for leftover in base.glob("*/.*.partial"):
            shutil.rmtree(leftover, ignore_errors=True)
        for leftover in base.glob("*/.*.audit"):
            shutil.rmtree(leftover, ignore_errors=True)


def compliance_attempts(test: str | None, retries: int, execution_mode: str) -> tuple[int, bool]:
    """How many times a piece may run and whether an INVALID result is run again: compliance tests get
    1 + `retries` attempts, retried in `valid` mode only, never TEST06 (whose INVALID is expected)."""
    if not test or test in NO_RETRY:
        return 1, False
    return 1 + retries, execution_mode == "valid"


def run_attempts(attempt_once, attempts: int, *, retry_invalid: bool, on_retry=lambda n: None) -> dict:
    """Call attempt_once(1), attempt_once(2), ... until a result is not INVALID (its "validity"), retries are
    off, or `attempts` are spent; the last result is returned. on_retry(n) is called after INVALID attempt n."""
    for attempt in range(1, attempts + 1):
        entry = attempt_once(attempt)
        if not (retry_invalid and entry.get("validity") == "INVALID" and attempt < attempts):
            return entry
        on_retry(attempt)
    raise ValueError("run_attempts needs at least one attempt")


def compliance_target(scenario: str, target: Target | None, reduction_percent: float) -> Target | None:
    """The target of a scenario's compliance runs: the performance run's, except that Server's may be run
    `reduction_percent` (below 10) lower (--compliance-server-qps-reduction)."""
    if scenario != "Server" or target is None or not reduction_percent:
        return target
    return Target(target.flag, sig(target.value * (1 - reduction_percent / 100)))


def check_loadgen(version: str, loadgen_version: str | None, image: str) -> None:
    """Refuse (one line, before any run) an image whose LoadGen does not carry the round's seeds."""
    rnd = mlperf_rules.get_round(version)
    if loadgen_version not in rnd.loadgen_versions:
        has = mlperf_rules.round_for_loadgen(loadgen_version or "")
        seeds = f"the seeds of {has.version}" if has else "no round's seeds"
        other = has.version if has else mlperf_rules.LATEST
        raise UserError(f"{image} has LoadGen {loadgen_version} ({seeds}); a {version} result needs LoadGen "
                        f"{rnd.loadgen_pin} ({', '.join(rnd.loadgen_versions)}): build it with "
                        f"`mlperfctl build --version {version}` or pick --version {other}")


def check_seeds(version: str, performance_dir: Path) -> dict:
    """The seeds LoadGen ran with (its detail log); a result whose seeds are not the round's is refused."""
    seeds = effective_seeds(performance_dir) or {k: None for k in mlperf_rules.SEED_KEYS}
    want = mlperf_rules.get_round(version).seeds.as_dict()
    wrong = [k for k in mlperf_rules.SEED_KEYS if seeds[k] != want[k]]
    if wrong:
        raise UserError(f"{performance_dir}: LoadGen ran with {wrong[0]}={seeds[wrong[0]]}, not {version}'s "
                        f"{want[wrong[0]]}: the result is refused (run it with the round's LoadGen)")
    return seeds


def write_tree(submission_dir: Path, **kw) -> list[Path]:
    """submission.write_results, with a failure of the file system (disk full, ...) said in one line: the
    writer stages everything and undoes what it placed, so the tree is exactly as it was."""
    try:
        return submission.write_results(submission_dir, **kw)
    except OSError as e:
        raise write_failed(e, f"writing the submission tree {submission_dir}",
                           "the tree is exactly as it was (the raw results and the ledger are kept)") from None


def truncate_tree(submission_dir: Path, results_dir: Path) -> list[dict]:
    """The truncation step: the full accuracy logs go to the results directory (those of runs that --rerun
    replaced move to its .superseded/ folder); a failure (disk full: the truncation undoes itself, one line) says
    that the rerun resumes."""
    return resumable(partial(submission.truncate_accuracy_logs, supersede=True), results_dir, submission_dir,
                     results_dir / "accuracy-backup")


def resumable(step, results_dir: Path, *args):
    """Run a step after the tree is written (truncate, package): its one-line failure says the rerun resumes."""
    try:
        return step(*args)
    except UserError as e:
        raise UserError(f"{e} (the same command resumes: the raw results and the ledger are kept in "
                        f"{results_dir})") from None


def rerun_hints(verdicts: dict[str, dict[str, compliance.Verdict]]) -> list[str]:
    """What to do about a compliance performance check that failed: its runs differ by more than the test allows,
    which on a shared or busy machine is noise in one of them; rerunning both (and nothing else) settles it."""
    hints = []
    for scenario, by_test in verdicts.items():
        failed = [t for t, v in by_test.items() if v.details.get("performance_pass") is False]
        if failed:
            flags = " ".join(f"--rerun {scenario}/{x}" for x in ("performance", *failed))
            hints.append(f"{scenario}: the performance check of {', '.join(failed)} failed (its run and the "
                         f"performance run differ by more than the test allows); on a quiet machine rerun the same "
                         f"command with {flags}")
    return hints


def _rows(p: RunPlan, rnd, opts: RunOptions, base: Path, tests, verdicts) -> list[dict]:
    """One row per scenario: result, validity, accuracy against the round's target, each verdict."""
    rows = []
    for scenario in p.scenarios:
        perf = read_result(base / scenario / "performance") if "performance" in p.modes else {}
        acc_dir = base / scenario / "accuracy"
        accuracy, problems = "", []
        if (acc_dir / "accuracy.txt").is_file():
            text = (acc_dir / "accuracy.txt").read_text()
            accuracy = next((ln for ln in text.splitlines() if ln.strip()), "")
            problems = mlperf_rules.accuracy_check(rnd, p.cell.model, text, division="closed")
        targets = ", ".join(f"{m.key} >= {m.target:g}" for m in rnd.accuracy_targets(p.cell.model)
                            if m.target is not None)
        metric = perf.get("metric") or {}
        result = (f"{metric.get('value', '')} {metric.get('unit', '')}".strip() if isinstance(metric, dict)
                  else str(metric))
        rows.append({
            "scenario": scenario, "result": result, "validity": perf.get("result_validity", ""),
            "accuracy": accuracy, "accuracy_target": targets, "accuracy_meets_target": not problems,
            "accuracy_problems": problems,
            "compliance": {t: v.summary for t, v in verdicts.get(scenario, {}).items()},
            "compliance_lines": {t: v.lines for t, v in verdicts.get(scenario, {}).items()},
        })
    return rows
