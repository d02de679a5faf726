"""The tree's shape: divisions and submitters, hygiene (names, sizes, links, empty dirs), the code
directory, the required scenarios per system type, and the files each scenario must hold."""

from __future__ import annotations

import json
import os
from pathlib import Path

import mlperf_rules
from mlperf_rules.common import FILE_SIZE_LIMIT

from ...options import resolve_round
from ..transaction import STAGING_PREFIX
from ..writer import DIVISIONS


def dirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []


def submitters(ctx):
    """Root-level checks; yields (division, submitter) for every submitter directory."""
    root = ctx.root
    if not root.is_dir():
        ctx.problem(root, "is not a directory")
        return
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(STAGING_PREFIX):
            ctx.problem(entry, "leftover staging directory of an interrupted write (remove it)")
        elif entry.is_file() and not entry.name.endswith((".md", ".pdf")):
            ctx.problem(entry, "file outside a division directory")
        elif entry.is_dir() and entry.name not in DIVISIONS and entry.name != "network":
            ctx.problem(entry, f"unknown division '{entry.name}' (choose: closed, open)")
    divisions = [d for d in dirs(root) if d in DIVISIONS]
    if not divisions:
        ctx.problem(root, "no closed/ or open/ division directory")
    for division in divisions:
        for f in files(root / division):
            ctx.problem(root / division / f, "file outside a submitter directory")
        for submitter in dirs(root / division):
            yield division, submitter


def check_submitter(ctx, base: Path, division: str) -> None:
    """What the checker refuses anywhere in a submitter's tree, and its round-wide files."""
    for dirpath, dirnames, filenames in os.walk(base):
        here = Path(dirpath)
        if not dirnames and not filenames:
            ctx.problem(here, "empty directory")
        for name in dirnames + filenames:
            path = here / name
            if name.startswith("."):
                ctx.problem(path, "hidden file or directory (git-unfriendly name)")
            if " " in name:
                ctx.problem(path, "space in the name")
            if name == "__pycache__":
                ctx.problem(path, "__pycache__ directory")
            if path.is_symlink() and not path.exists():
                ctx.problem(path, "broken symbolic link")
            elif name in filenames and path.stat().st_size > FILE_SIZE_LIMIT:
                ctx.problem(path, "larger than 50 MB")
    if division == "closed" and ctx.layout.calibration_required and not (
            (base / "calibration.md").is_file() or (base / "documentation" / "calibration.md").is_file()):
        ctx.problem(base / "calibration.md", f"missing ({ctx.round.version} closed submissions document their "
                                             "quantization in calibration.md or documentation/calibration.md)")


def check_model(ctx, base: Path, division: str, system_name: str, model_dir: str, desc: dict | None):
    """The model directory: known to the round, the scenario set (closed), the code directory.
    Returns the benchmark's rules or None."""
    rnd = ctx.round
    where = base / "results" / system_name / model_dir
    bench = rnd.benchmark(model_dir)
    if bench is None:
        newest = resolve_round(None, model_dir).rules_version  # the newest round with its rules, if any
        hint = (f"its newest round is {newest} (--version {newest})" if newest else
                f"known: {', '.join(sorted({*rnd.benchmarks, *_our_names(rnd)}))}")
        ctx.problem(where, f"no rules known for model '{model_dir}' in {rnd.version} ({hint})")
    if division == "closed" and desc is not None and bench is not None:
        check_scenario_set(ctx, where, model_dir, desc.get("system_type", ""), dirs(where))
    code = base / ctx.layout.code_required(model_dir)
    if not code.is_dir():
        ctx.problem(code, "missing source directory (the implementation's code)")
    return bench


def _our_names(rnd) -> list[str]:
    return [m for m in mlperf_rules.OUR_MODELS if rnd.benchmark(m) is not None]


def check_scenario_set(ctx, where: Path, model: str, system_type: str, scenarios: list[str]) -> None:
    rnd = ctx.round
    try:
        required = rnd.required_scenarios(model, system_type)
    except ValueError:
        return  # an invalid system_type is the system check's problem
    name = rnd.canonical(model)
    if required is None:
        ctx.problem(where, f"{name} is not a {system_type} benchmark in {rnd.version}")
        return
    missing = [s for s in required if s not in scenarios]
    one_of = rnd.one_of_scenarios(model, system_type)
    if one_of and not set(one_of) & set(scenarios):
        missing.append(" or ".join(sorted(one_of)))
    if missing:
        ctx.problem(where, f"missing required scenario(s) for {system_type}: {', '.join(missing)}")
    allowed = {*required, *rnd.optional_scenarios(model, system_type)}
    for extra in sorted(set(scenarios) - allowed):
        ctx.problem(where / extra, f"{extra} is not a {system_type} scenario of {name} in {rnd.version}")


def check_scenario_files(ctx, base: Path, system_name: str, model_dir: str, scenario: str) -> tuple[Path, Path]:
    """The performance and accuracy directories' files and the measurements; returns both directories."""
    lay = ctx.layout
    perf = base / lay.perf_run_dir(system_name, model_dir, scenario)
    acc = base / lay.mode_dir(system_name, model_dir, scenario, "accuracy")
    required_files(ctx, perf, lay.perf_files, extra_ok=lay.perf_optional_files)
    required_files(ctx, acc, lay.acc_files)
    check_measurements(ctx, base, system_name, model_dir, scenario)
    return perf, acc


def required_files(ctx, where: Path, names, extra_ok=()) -> None:
    if not where.is_dir():
        ctx.problem(where, "missing directory")
        return
    present = files(where)
    for name in names:
        if name not in present:
            ctx.problem(where / name, "missing file")
        elif (where / name).stat().st_size == 0:
            ctx.problem(where / name, "empty file")
    if ctx.layout.exact_file_lists:  # the v4.x/v5.x checker wants exactly these files
        allowed = {*names, *extra_ok, *ctx.layout.ignored_files}
        for name in present:
            if name not in allowed:
                ctx.problem(where / name, "unexpected file (the v5.x checker wants an exact file list)")


def check_measurements(ctx, base: Path, system_name: str, model_dir: str, scenario: str) -> None:
    lay = ctx.layout
    meta = base / lay.meta_dir(system_name, model_dir, scenario)
    for name in lay.measurement_files:
        f = meta / name
        if not f.is_file():
            ctx.problem(f, "missing file")
        elif f.stat().st_size == 0:
            ctx.problem(f, "empty file")
    if lay.v6:
        mfile = meta / "measurements.json"
    else:
        mfile = next((meta / f for f in files(meta) if f.startswith(system_name) and f.endswith(".json")),
                     meta / f"{system_name}_<implementation>_{scenario}.json")
    if not mfile.is_file():
        ctx.problem(mfile, "missing measurements file")
        return
    try:
        data = json.loads(mfile.read_text())
    except json.JSONDecodeError as e:
        ctx.problem(mfile, f"invalid JSON: {e.msg}")
        return
    for key in mlperf_rules.MEASUREMENT_FIELDS:
        if not isinstance(data, dict) or key not in data:
            ctx.problem(mfile, f"field {key} is missing")
        elif not str(data[key]).strip():
            ctx.problem(mfile, f"field {key} is empty")
