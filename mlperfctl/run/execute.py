"""Run every (scenario, mode) of a plan in its container and write the submission tree.

plan() picks the cell, scenarios, modes and targets; preflight() checks everything that can be
checked before a container starts; then one container per (scenario, mode) runs with the data
read-only, and the outputs go to submission.write_results, which moves them into the tree
atomically. Any failure or interrupt before that leaves the submission tree untouched."""

from __future__ import annotations

import json
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path

from .. import engines, submission
from ..builder import executor
from ..errors import UserError
from ..matrix import LoadedMatrix
from ..options import BuildOptions, RunOptions
from ..submission import sysinfo
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
from .findperf import PROBE_EXECUTION_MODE, cache_for, find_targets
from .plan import Target, plan
from .preflight import preflight, unreadable
from .results import HarnessRun, framework, loadgen_record, readme, reproduce_command, result_rows


class _Interrupted(Exception):
    pass


def _raise_interrupt(signum, _frame):
    raise _Interrupted(signal.Signals(signum).name)


def execute(lm: LoadedMatrix, opts: RunOptions, build_options: BuildOptions, *, console, log_line,
            reporter=None) -> dict:
    """Run every (scenario, mode) of the plan in containers and write the results into the
    submission tree. Returns a summary for the results table and --json. An explicit --version builds the image
    with the round's LoadGen (opts.loadgen), else with matrix.yaml's."""
    lm = lm.with_loadgen(opts.loadgen)
    p = plan(lm, opts)
    eng = engines.get(build_options.engine, build_options.engine_url)
    model_path = preflight(lm, p, opts, eng.runtimes())
    user = container_user()
    blocked = unreadable([opts.dataset_dir, model_path], *user)
    if blocked:
        raise UserError(f"{blocked} is not readable by the container's user {user[0]}:{user[1]} "
                        f"(fix: chmod -R o+rX on the dataset and model folders)")
    remove_stale_containers(eng)
    system_name = opts.system_name or sysinfo.default_system_name(p.cell.device, p.cell.backend)
    submission.refuse_existing(opts.submission_dir, division=opts.division, submitter=opts.submitter,
                               system_name=system_name, model=p.cell.model, scenarios=p.scenarios,
                               version=opts.version, force=opts.force, modes=p.modes)
    sysinfo.refuse_system_clash(opts, p.cell, system_name)  # another system under that name
    console.print(f"cell [bold]{p.cell.id}[/]  scenarios {', '.join(p.scenarios)}  "
                  f"modes {', '.join(p.modes)}  execution mode {opts.execution_mode}")
    image = executor.ensure_image(lm, p.cell, build_options, engine=eng, reporter=reporter)
    current = eng.inspect_image(image.tag)
    digest = current.digests[0] if current and current.digests else None
    info = json.loads(eng.output(info_spec(image.tag, user)))

    cache_dir = opts.cache_dir
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

        def harness(scenario: str, mode: str, output: str | None = None, **kw) -> int:
            command = harness_args(p, opts, scenario, mode, f"/model/{model_path.name}", output, **kw)
            spec = container_spec(p, image=image.tag, dataset_dir=opts.dataset_dir, model_path=model_path,
                                  results_dir=results_root, cache_dir=cache_dir, command=command, user=user,
                                  owner=owner)
            console.print(f"[bold]▶ {scenario} {mode}[/] in {image.tag}")
            result = eng.run(spec, lambda line: log_line(f"{scenario}/{mode}", line))
            if result.exit_code != 0:
                raise UserError(f"the harness failed ({scenario} {mode}, exit code {result.exit_code}); "
                                f"submission tree unchanged. Last lines:\n{result.tail}")
            return result.exit_code

        def probe(scenario: str, piece: str, target: Target | None) -> Path:
            harness(scenario, "performance", f"/results/.find-performance/{scenario}-{piece}", target=target,
                    execution_mode=PROBE_EXECUTION_MODE)
            return results_root / ".find-performance" / f"{scenario}-{piece}"

        found = find_targets(p, opts, probe=probe, console=console,
                             cache=cache_for(p, opts, cache_root=cache_dir, system=system_name,
                                             image_id=image.image_id))
        targets = found.targets
        for scenario in p.scenarios:
            for mode in p.modes:
                t0 = time.time()
                code = harness(scenario, mode, target=targets.get(scenario))
                runs.append(HarnessRun(scenario, mode, results_root / scenario / mode, time.time() - t0, code))
        if os.getuid() == 0:
            for path in [results_root, *results_root.rglob("*")]:
                os.chown(path, 0, 0)
        src = work / "src"
        src.mkdir()
        eng.copy_from_image(image.tag, HARNESS_PATH, src)
        host = sysinfo.system_description(
            division=opts.division, submitter=opts.submitter, system_name=system_name,
            category=opts.category, device=p.cell.device, framework=framework(info, p.cell.backend),
            path=opts.submission_dir, overrides=sysinfo.load_overrides(opts.system_json))
        result_sets = []
        for scenario in p.scenarios:
            perf = results_root / scenario / "performance"
            acc = results_root / scenario / "accuracy"
            ledger = {
                "cell": p.cell.id, "image": image.tag, "image_id": image.image_id,
                "image_digest": digest, "command_line": reproduce_command(opts),
                "harness": info, "host": host,
                "loadgen": loadgen_record(info, opts.version, perf if perf.exists() else None),
                "runs": [{"scenario": r.scenario, "mode": r.mode, "seconds": round(r.seconds, 3),
                          "exit_code": r.exit_code} for r in runs if r.scenario == scenario],
                "find_performance": found.record.get(scenario),
                "started": started, "finished": time.time(), "exit_status": 0,
            }
            result_sets.append(submission.ResultSet(
                model=p.cell.model, scenario=scenario,
                performance_dir=perf if perf.exists() else None,
                accuracy_dir=acc if acc.exists() else None,
                measurements=submission.measurements_for(p.cell.model, p.precision, p.model_file),
                readme=readme(p, opts, image, digest, scenario), ledger=ledger))
        try:
            written = submission.write_results(
                opts.submission_dir, division=opts.division, submitter=opts.submitter,
                system_name=system_name, system_json=host, results=result_sets, src_dir=src,
                version=opts.version, force=opts.force, implementation=p.cell.implementation)
        except OSError as e:  # disk full, ...: the writer undid what it placed
            raise write_failed(e, f"writing the submission tree {opts.submission_dir}",
                               "the tree is exactly as it was") from None
        return {"cell": p.cell.id, "image": image.tag, "image_id": image.image_id,
                "system": system_name, "results": result_rows(runs), "find_performance": found.record,
                "submission_dir": str(opts.submission_dir), "written": [str(w) for w in written]}
    except (KeyboardInterrupt, _Interrupted) as e:
        raise UserError(f"interrupted ({e or 'SIGINT'}): containers removed, submission tree unchanged") from None
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        eng.remove_containers(f"{RUN_LABEL}={owner}")
        shutil.rmtree(work, ignore_errors=True)
