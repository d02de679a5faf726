"""`mlperfctl run --submission`: everything one model's submission needs, in one command that resumes.

The run session (session.py) plans, checks, builds and tears down as for a plain run; here the flow's own part.

For every scenario the round's rulebook lists for the category (or `--scenario`): the targets
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

import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import mlperf_rules

from .. import compliance, submission
from ..errors import UserError
from ..matrix import LoadedMatrix
from ..options import BuildOptions, RunOptions
from ..submission import check as submission_check
from .findperf import PROBE_EXECUTION_MODE, cache_for, find_targets, sig
from .ledger import LEDGER_NAME, Ledger, fingerprint, summary_validity
from .plan import RunPlan, Target
from .results import effective_seeds, read_result
from .rulebook import submission_loadgen
from .session import CONSOLE_LOG, Interrupted, RunSession, check_destinations, default_results_dir, run_record  # noqa: F401
from .session import write_tree as session_write_tree

NO_RETRY = ("TEST06",)  # INVALID is expected there (the run's settings make it so): never retried
KEPT = "the tree is exactly as it was (the raw results and the ledger are kept)"  # what a failed tree write keeps
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
    return check_destinations(opts.submission_dir, sopts.results_dir)


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


class PieceRunner:
    """The submission's harness runs as ledger pieces: a piece recorded complete (same image, same command and
    audit.config, output still there, valid where that matters) is reused; else it runs in the session's
    container into a hidden partial folder that becomes its output only when the harness succeeded, compliance
    pieces with their audit.config and retries, and the ledger records it."""

    def __init__(self, s: RunSession, ledger: Ledger, *, results_dir: Path, base: Path, prefix: str,
                 rerun: frozenset[str], retries: int):
        self.s, self.ledger, self.results_dir, self.base, self.prefix = s, ledger, results_dir, base, prefix
        self.rerun, self.retries = rerun, retries
        self.pieces: dict[str, dict] = {}  # "<scenario>/<piece>" -> ledger entry (+ "reused")
        self.ran = self.reused = 0

    def container_path(self, path: Path) -> str:
        return "/results/" + str(Path(path).relative_to(self.results_dir))

    def run(self, scenario: str, piece: str, mode: str, *, target: Target | None = None, test: str | None = None,
            execution_mode: str | None = None, strict: bool = True) -> dict:
        s, opts, rnd = self.s, self.s.opts, self.s.round.rules
        key = f"{scenario}/{piece}"
        final = self.base / scenario / piece
        audit_text = compliance.audit_config_text(test, s.plan.cell.model, rnd=rnd) if test else None
        fp = fingerprint(s.harness_command(scenario, mode, "/results/OUTPUT", target=target,
                                           execution_mode=execution_mode), audit_text)
        strict = strict and opts.execution_mode == "valid" and test not in NO_RETRY
        entry = None if key in self.rerun else self.ledger.reusable(
            self.prefix + key, fp=fp, image_id=s.image.image_id, output=final, strict_validity=strict)
        if entry is not None:
            done = entry.get("validity") or "done"
            s.console.print(f"[green]✓ {scenario} {piece}[/] reused from the ledger ({done})")
            self.reused += 1
            self.pieces[key] = {**entry, "reused": True}
            return self.pieces[key]
        attempts, retry = compliance_attempts(test, self.retries, opts.execution_mode)
        entry = run_attempts(lambda n: self._attempt(scenario, piece, mode, test, target, execution_mode, fp, n,
                                                     attempts),
                             attempts, retry_invalid=retry,
                             on_retry=lambda n: s.console.print(f"[yellow]{scenario} {piece}: INVALID, retrying "
                                                                f"({n + 1}/{attempts})[/]"))
        self.pieces[key] = {**entry, "reused": False}
        return self.pieces[key]

    def _attempt(self, scenario, piece, mode, test, target, execution_mode, fp, attempt, attempts) -> dict:
        s, key = self.s, f"{scenario}/{piece}"
        final = self.base / scenario / piece
        partial = self.base / scenario / f".{piece}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        command = s.harness_command(scenario, mode, self.container_path(partial), target=target,
                                    execution_mode=execution_mode)
        audit_dir = None
        if test:  # the test's audit.config in a folder of its own, handed to the harness for this run only
            audit_dir = self.base / scenario / f".{piece}.audit"
            shutil.rmtree(audit_dir, ignore_errors=True)
            audit_dir.mkdir(parents=True)
            audit = compliance.write_audit_config(audit_dir, test, s.plan.cell.model, rnd=s.round.rules)
            os.chmod(audit_dir, 0o755)
            os.chmod(audit, 0o644)
            command += ["--audit-config", self.container_path(audit)]
        s.writable_output(self.results_dir, partial)
        label = key + (f" (attempt {attempt}/{attempts})" if attempt > 1 else "")
        try:
            seconds = s.run_harness(label, command, self.results_dir,
                                    failure=f"the {len(self.pieces)} piece(s) done are in the ledger "
                                            f"{self.ledger.path}: rerun the same command to resume",
                                    console_log=partial / CONSOLE_LOG)
        finally:
            self.ran += 1
            if audit_dir is not None:
                shutil.rmtree(audit_dir, ignore_errors=True)
            s.reclaim(partial)
        s.overhead.piece(key, seconds, partial)
        validity = summary_validity(partial) if mode == "performance" else None
        if final.exists():
            shutil.rmtree(final)
        partial.rename(final)
        entry = {"scenario": scenario, "piece": piece, "mode": mode, "test": test, "output": str(final),
                 "validity": validity, "fingerprint": fp, "argv": command, "image": s.image.tag,
                 "image_id": s.image.image_id, "exit_code": 0, "seconds": round(seconds, 3),
                 "attempt": attempt, "finished": time.time()}
        self.ledger.record(self.prefix + key, entry)
        return entry

    def cleanup(self) -> None:
        """Hidden partial and audit folders of runs that did not finish."""
        for pattern in ("*/.*.partial", "*/.*.audit"):
            for leftover in self.base.glob(pattern):
                shutil.rmtree(leftover, ignore_errors=True)


def execute_submission(lm: LoadedMatrix, opts: RunOptions, build_options: BuildOptions, sopts: SubmissionOptions,
                       *, console, log_line, reporter=None) -> dict:
    loadgen = submission_loadgen(opts.round, opts.model)  # the image gets the round's LoadGen: its seeds
    s = RunSession(lm, opts, build_options, console=console, log_line=log_line, reporter=reporter, loadgen=loadgen,
                   check_image=lambda image: check_loadgen(opts.round.submission, image.info.get("loadgen_version"),
                                                           image.tag))
    p, choice = s.plan, s.round
    results_dir = check_options(opts, sopts)
    rnd = rules_for(choice, p.cell.model)
    closed = opts.division == "closed"
    tests = compliance.tests_for(p.cell.model, rnd=rnd) if closed else ()
    rerun = rerun_keys(sopts.rerun, p.scenarios, p.modes, tests)
    with s:
        ledger = Ledger(results_dir / LEDGER_NAME)
        prefix = f"{opts.division}/{s.system_name}/{p.cell.id}/"
        resuming = any(k.startswith(prefix) for k in ledger.pieces)
        s.refuse_existing(resuming=resuming)
        console.print(f"submission: cell [bold]{p.cell.id}[/]  {opts.division} {choice.version} ({rnd.version} "
                      f"rules)  scenarios {', '.join(p.scenarios)}  compliance {', '.join(tests) or 'none'}  "
                      f"execution mode {opts.execution_mode}  raw outputs {results_dir}")
        s.start_image()
        base = results_dir / opts.division / s.system_name / p.cell.id
        base.mkdir(parents=True, exist_ok=True)
        runner = PieceRunner(s, ledger, results_dir=results_dir, base=base, prefix=prefix, rerun=rerun,
                             retries=sopts.compliance_retries)
        try:
            return _submission(s, runner, sopts, rnd, tests, results_dir, base, resuming)
        except (KeyboardInterrupt, Interrupted):
            done = len([k for k in ledger.pieces if k.startswith(prefix)])
            s.interrupted_message = f"{done} piece(s) in the ledger {ledger.path}: rerun the same command to resume"
            raise
        finally:
            runner.cleanup()


def _submission(s: RunSession, runner: PieceRunner, sopts: SubmissionOptions, rnd, tests, results_dir: Path,
                base: Path, resuming: bool) -> dict:
    p, opts, image = s.plan, s.opts, s.image
    closed = opts.division == "closed"

    def probe(scenario: str, piece: str, target: Target | None) -> Path:  # a ledger piece: reused on resume
        done = runner.run(scenario, piece, "performance", target=target, execution_mode=PROBE_EXECUTION_MODE,
                          strict=False)
        return Path(done["output"])

    found = find_targets(p, opts, probe=probe, console=s.console,
                         cache=cache_for(p, opts, cache_root=opts.cache_dir, system=s.system_name,
                                         image_id=image.image_id))
    targets = found.targets
    compliance_targets = {sc: compliance_target(sc, targets.get(sc), sopts.compliance_server_qps_reduction)
                          for sc in p.scenarios}
    for scenario in p.scenarios:
        for piece, mode, test in scenario_pieces(p.modes, tests):
            runner.run(scenario, piece, mode, test=test,
                       target=compliance_targets[scenario] if test else targets.get(scenario))

    def scorer(log: Path) -> str:
        return s.output(accuracy_argv(s.lm, p, runner.container_path(Path(log).resolve()), s.model_target),
                        results_dir)

    verdicts: dict[str, dict[str, compliance.Verdict]] = {}
    staging_root = Path(tempfile.mkdtemp(prefix=".verify-", dir=base))
    try:
        result_sets = []
        src = s.copy_source(staging_root / "src")
        for scenario in p.scenarios:
            perf = base / scenario / "performance" if "performance" in p.modes else None
            acc = base / scenario / "accuracy" if "accuracy" in p.modes else None
            comp = {}
            if closed and tests and perf is not None:
                verdicts[scenario] = compliance.verify_scenario(
                    staging_root / scenario, rnd=rnd, model=p.cell.model, scenario=scenario,
                    performance_dir=perf, accuracy_dir=acc,
                    compliance_dirs={t: base / scenario / t for t in tests}, scorer=scorer)
                comp = {t: staging_root / scenario / t for t in verdicts[scenario]}
            ran = {k: v for k, v in runner.pieces.items() if k.startswith(f"{scenario}/")}
            target = compliance_targets[scenario]
            record = run_record(
                s, scenario,
                [{"scenario": scenario, "piece": v["piece"], "mode": v["mode"], "test": v["test"],
                  "validity": v["validity"], "seconds": v["seconds"], "exit_code": v["exit_code"],
                  "reused": v["reused"]} for v in ran.values()],
                performance_dir=perf, find_performance=found.record.get(scenario),
                seeds=check_seeds(s.round.submission, perf) if perf is not None else {},
                compliance={t: v.to_dict() for t, v in verdicts.get(scenario, {}).items()},
                compliance_target=None if target is None else {
                    "flag": target.flag, "value": target.value,
                    "server_qps_reduction_percent": sopts.compliance_server_qps_reduction
                    if scenario == "Server" else 0.0})
            result_sets.append(s.result_set(scenario, performance_dir=perf, accuracy_dir=acc, record=record,
                                            compliance=comp))
        s.write_tree(result_sets, src_dir=src, force=opts.force or resuming, kept=KEPT)
    finally:
        shutil.rmtree(staging_root, ignore_errors=True)
    truncate_tree(opts.submission_dir, results_dir)
    report = submission_check.check(opts.submission_dir, rnd=s.round.submission,
                                    skip_dataset_size_check=sopts.skip_dataset_size_check)
    archive = None
    if sopts.package:
        archive, _ = resumable(submission.package, results_dir, opts.submission_dir)
    wall = time.time() - s.started
    return {"cell": p.cell.id, "image": image.tag, "image_id": image.image_id, "system": s.system_name,
            "version": s.round.version, "rules_round": rnd.version, "division": opts.division,
            "submission_dir": str(opts.submission_dir), "results_dir": str(results_dir),
            "ledger": str(runner.ledger.path), "pieces_run": runner.ran, "pieces_reused": runner.reused,
            "scenarios": _rows(p, rnd, opts, base, tests, verdicts),
            "check": {"ok": report.ok, "problems": [str(pr) for pr in report.problems]},
            "hints": rerun_hints(verdicts), "archive": str(archive) if archive else None,
            "seconds": round(wall, 1), "overhead": s.overhead.summary(wall)}


def rules_for(choice, model: str):
    """The round whose rules the submission follows; a model without rules in any round is refused."""
    if choice.rules is None:
        raise UserError(f"no MLPerf round has closed-division rules for {model} (the rulebook lists the "
                        f"scenarios and compliance tests): pick one --scenario")
    return choice.rules


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


def check_loadgen(rnd: mlperf_rules.Round, loadgen_version: str | None, image: str) -> None:
    """Refuse (one line, before any run) an image whose LoadGen does not carry the round's seeds."""
    version = rnd.version
    if loadgen_version not in rnd.loadgen_versions:
        has = mlperf_rules.round_for_loadgen(loadgen_version or "")
        seeds = f"the seeds of {has.version}" if has else "no round's seeds"
        other = has.version if has else mlperf_rules.LATEST
        raise UserError(f"{image} has LoadGen {loadgen_version} ({seeds}); a {version} result needs LoadGen "
                        f"{rnd.loadgen_pin} ({', '.join(rnd.loadgen_versions)}): build it with "
                        f"`mlperfctl build --version {version}` or pick --version {other}")


def check_seeds(rnd: mlperf_rules.Round, performance_dir: Path) -> dict:
    """The seeds LoadGen ran with (its detail log); a result whose seeds are not the round's is refused."""
    version = rnd.version
    seeds = effective_seeds(performance_dir) or {k: None for k in mlperf_rules.SEED_KEYS}
    want = rnd.seeds.as_dict()
    wrong = [k for k in mlperf_rules.SEED_KEYS if seeds[k] != want[k]]
    if wrong:
        raise UserError(f"{performance_dir}: LoadGen ran with {wrong[0]}={seeds[wrong[0]]}, not {version}'s "
                        f"{want[wrong[0]]}: the result is refused (run it with the round's LoadGen)")
    return seeds


def write_tree(submission_dir: Path, **kw) -> list[Path]:
    """The session's tree write (session.write_tree) with what a failed submission keeps: the raw results and
    the ledger, so the rerun resumes."""
    return session_write_tree(submission_dir, kept=KEPT, **kw)


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
