"""`mlperfctl run`: every (scenario, mode) of a plan in its container, then the results into the tree.

The run session (session.py) plans, checks everything it can before a container starts, builds or reuses the
image and tears down; here the flow itself: find-performance's probes, one container per (scenario, mode), then
the tree, written atomically. Any failure or interrupt before that leaves the submission tree untouched.

The raw outputs are kept, as `--submission` keeps its own, in the results directory (`--results-dir`, default
<submission-dir>-raw beside the tree): each run in a new folder of its own,
<division>/<system>/<cell>/run-<UTC time>-<random>/<scenario>/<mode>/, with the harness's console output as
console.log beside LoadGen's logs (find-performance's probes under .find-performance/)."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

from ..matrix import LoadedMatrix
from ..options import BuildOptions, RunOptions
from .findperf import PROBE_EXECUTION_MODE, cache_for, find_targets
from .plan import Target
from .results import HarnessRun, result_rows
from .session import CONSOLE_LOG, RunSession, check_destinations, run_record


def execute(lm: LoadedMatrix, opts: RunOptions, build_options: BuildOptions, *, console, log_line,
            reporter=None, results_dir: Path | None = None) -> dict:
    """Run every (scenario, mode) of the plan in containers and write the results into the submission tree.
    Returns a summary for the results table and --json. An explicit --version builds the image with the round's
    LoadGen, else with matrix.yaml's. The raw outputs stay in `results_dir` (see the module's docstring)."""
    s = RunSession(lm, opts, build_options, console=console, log_line=log_line, reporter=reporter)
    raw = check_destinations(opts.submission_dir, results_dir)
    with s:
        p = s.plan
        s.refuse_existing()
        console.print(f"cell [bold]{p.cell.id}[/]  scenarios {', '.join(p.scenarios)}  "
                      f"modes {', '.join(p.modes)}  execution mode {opts.execution_mode}")
        image = s.start_image()
        cell_dir = raw / opts.division / s.system_name / p.cell.id
        cell_dir.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        results_root = Path(tempfile.mkdtemp(prefix=f"run-{stamp}-", dir=cell_dir))  # unique, even between nodes
        os.chmod(results_root, 0o755)
        console.print(f"raw outputs and console logs: {results_root}", highlight=False)

        def harness(scenario: str, mode: str, output: Path, *, target: Target | None = None,
                    execution_mode: str | None = None) -> float:
            s.writable_output(results_root, output)
            command = s.harness_command(scenario, mode, "/results/" + str(output.relative_to(results_root)),
                                        target=target, execution_mode=execution_mode)
            seconds = s.run_harness(f"{scenario}/{mode}", command, results_root, console_log=output / CONSOLE_LOG)
            s.reclaim(output)
            s.overhead.piece(f"{scenario}/{mode}", seconds, output)
            return seconds

        def probe(scenario: str, piece: str, target: Target | None) -> Path:
            out = results_root / ".find-performance" / f"{scenario}-{piece}"
            harness(scenario, "performance", out, target=target, execution_mode=PROBE_EXECUTION_MODE)
            return out

        found = find_targets(p, opts, probe=probe, console=console,
                             cache=cache_for(p, opts, cache_root=opts.cache_dir, system=s.system_name,
                                             image_id=image.image_id))
        runs: list[HarnessRun] = []
        for scenario in p.scenarios:
            for mode in p.modes:
                out = results_root / scenario / mode
                seconds = harness(scenario, mode, out, target=found.targets.get(scenario))
                runs.append(HarnessRun(scenario, mode, out, seconds, 0))
        result_sets = []
        for scenario in p.scenarios:
            perf, acc = results_root / scenario / "performance", results_root / scenario / "accuracy"
            perf, acc = (perf if perf.exists() else None), (acc if acc.exists() else None)
            record = run_record(
                s, scenario, [{"scenario": r.scenario, "piece": r.mode, "mode": r.mode, "test": None,
                               "seconds": round(r.seconds, 3), "exit_code": r.exit_code, "reused": False}
                              for r in runs if r.scenario == scenario],
                performance_dir=perf, find_performance=found.record.get(scenario))
            result_sets.append(s.result_set(scenario, performance_dir=perf, accuracy_dir=acc, record=record))
        written = s.write_tree(result_sets, src_dir=s.copy_source(s.scratch / "src"))
        wall = time.time() - s.started
        return {"cell": p.cell.id, "image": image.tag, "image_id": image.image_id, "system": s.system_name,
                "version": s.round.version, "rules_round": s.round.rules_version,
                "results": result_rows(runs), "find_performance": found.record,
                "submission_dir": str(opts.submission_dir), "results_dir": str(results_root),
                "written": [str(w) for w in written],
                "seconds": round(wall, 1), "overhead": s.overhead.summary(wall)}
