"""Write harness results into an MLPerf Inference submission tree, atomically.

Where each piece goes is the round's layout in the rulebook (mlperf_rules: Round.layout): v6.x puts
everything of a scenario under results/<system>/<model>/<Scenario>/ (measurements.json, user.conf,
README.md, run.json, TEST0x/) and the code under src/<model>/; v4.x/v5.x keep the scenario-level files
in measurements/<system>/<model>/<Scenario>/, compliance in compliance/..., code in code/<model>/<impl>/.

Everything is built in the staging directory of a `transaction.Transaction` inside the submission dir
(same filesystem) and moved in with renames, under the tree's exclusive lock (`transaction.tree_lock`):
two writers (two shells, two jobs) take turns and never interleave. Existing results are replaced only
with force, and then moved aside until the new ones are in; any failure rolls back, leaving the tree
byte-identical.
"""

from __future__ import annotations

import contextlib
import errno
import filecmp
import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_rules import Layout, Round

from ..errors import UserError, choices
from .transaction import Transaction, tree_lock

DIVISIONS = ("closed", "open")  # the divisions mlperfctl writes
MODES = ("performance", "accuracy")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]*")


@dataclass
class ResultSet:
    """One scenario's outputs from the harness."""

    model: str
    scenario: str
    performance_dir: Path | None  # harness output of the performance run (LoadGen logs, user.conf, result.json)
    accuracy_dir: Path | None  # harness output of the accuracy run (+ accuracy.txt, mlperf_log_accuracy.json)
    measurements: dict
    readme: str
    ledger: dict
    compliance: dict[str, Path] = field(default_factory=dict)  # TEST01 -> dir with the audit outputs


def write_failed(e: OSError, doing: str, unchanged: str) -> UserError:
    """One line for a failure of the file system while writing (disk full, quota, read-only, ...): what
    failed (`doing` names the path), why, what is unchanged, and the fix."""
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        why = "disk full" if e.errno == errno.ENOSPC else "disk quota exceeded"
        fix = "free space on its file system and rerun"
    else:
        why, fix = e.strerror or str(e), "fix that and rerun"
    return UserError(f"{doing} failed ({why}): {unchanged}; {fix}")


def check_name(value: str, what: str) -> str:
    """Directory names the checker accepts: no spaces, slashes or leading dots."""
    if not _NAME.fullmatch(value or ""):
        raise UserError(f"invalid {what} '{value}': use letters, digits and _ . + - (no spaces, no leading dot)")
    return value


def check_version(version: str) -> Round:
    """The submission round named `version` (options.resolve_round, the one place a round's name becomes the
    round), for a command to resolve once and pass on as `rnd`; one-line UserError naming the rounds."""
    from ..options import resolve_round

    return resolve_round(version).submission


def measurements_for(model: str, precision: str, model_file_name: str, *, input_data_types: str | None = None,
                     retraining: bool = False, weight_transformations: str | None = None) -> dict:
    """The measurements json: how the model was run (all five fields non-empty)."""
    if not (model and precision and model_file_name):
        raise UserError("measurements need a model, a precision and the model file name")
    if weight_transformations is None:
        weight_transformations = "none" if precision == "fp32" else f"conversion to {precision}"
    return {
        "input_data_types": input_data_types or precision,
        "retraining": "yes" if retraining else "no",
        "starting_weights_filename": model_file_name,
        "weight_data_types": precision,
        "weight_transformations": weight_transformations,
    }


def _mode_dirs(rs: ResultSet) -> dict[str, Path]:
    return {m: d for m, d in (("performance", rs.performance_dir), ("accuracy", rs.accuracy_dir)) if d is not None}


def existing_results(submission_dir: Path, *, division: str, submitter: str, system_name: str, model: str,
                     scenarios, rnd: Round, modes=MODES) -> list[Path]:
    """The result directories (per mode) already in the tree for these scenarios (in round `rnd`'s layout)."""
    layout = rnd.layout
    base = Path(submission_dir) / division / submitter
    return [base / layout.mode_dir(system_name, model, s, m) for s in scenarios for m in modes
            if (base / layout.mode_dir(system_name, model, s, m)).exists()]


def refuse_existing(submission_dir: Path, *, division: str, submitter: str, system_name: str, model: str,
                    scenarios, rnd: Round, force: bool = False, modes=MODES) -> None:
    """Preflight: raise UserError if results would be replaced without force (before any run starts)."""
    found = existing_results(submission_dir, division=division, submitter=submitter, system_name=system_name,
                             model=model, scenarios=scenarios, rnd=rnd, modes=modes)
    if found and not force:
        raise UserError(f"{found[0]} already exists ({len(found)} result(s) in the way); "
                        "pass --force to replace them (the old ones are kept until the new ones are in)")


def _copy_files(src: Path, dst: Path, names, what: str) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        f = src / name
        if not f.is_file():
            raise UserError(f"{what}: {f} is missing")
        shutil.copy2(f, dst / name)


class _CopyFailed(Exception):
    pass


def _copytree(src: Path, dst: Path, **kw) -> None:
    """shutil.copytree, stopping at the first failure and raising it as the OSError it is (copytree goes on
    and gathers them into one shutil.Error, whose errno is lost: a full disk would not say so)."""
    def copy(s, d):
        try:
            return shutil.copy2(s, d)
        except OSError as e:
            raise _CopyFailed(e) from e

    try:
        shutil.copytree(src, dst, copy_function=copy, **kw)
    except _CopyFailed as e:
        raise e.args[0] from None


def _json_file(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def _same(a: Path, b: Path) -> bool:
    """Same file bytes, or same directory tree with the same bytes."""
    if a.is_file() and b.is_file():
        return filecmp.cmp(a, b, shallow=False)
    if not (a.is_dir() and b.is_dir()):
        return False
    files_a = sorted(p.relative_to(a) for p in a.rglob("*"))
    files_b = sorted(p.relative_to(b) for p in b.rglob("*"))
    return files_a == files_b and all((a / p).is_dir() or filecmp.cmp(a / p, b / p, shallow=False)
                                      for p in files_a)


@dataclass
class _Entry:
    staged: Path  # in the staging dir
    target: Path  # in the tree
    guarded: bool  # a result (or source, or system json): replacing it needs force


# Open-division models that stand in for a benchmark: our name -> the checker's benchmark, written to
# model_mapping.json beside the submitter's results
OPEN_MODEL_MAPPING = {"mobilenet": "resnet", "efficientnet": "resnet"}


def write_results(submission_dir: Path, *, division: str, submitter: str, system_name: str,
                  system_json: dict, results: list[ResultSet], src_dir: Path | None,
                  rnd: Round, force: bool = False, implementation: str = "mlperfctl") -> list[Path]:
    """Write `results` into the tree, in the layout of the submission round `rnd`, and return the paths
    placed (files and directories).

    Refuses (UserError, nothing written) when a result for the same system/model/scenario/mode,
    a different system json or a different source directory is in the way and force is False.
    """
    from .sysinfo import validate_system

    layout = rnd.layout
    if division not in DIVISIONS:
        raise UserError(f"unknown division '{division}' {choices(DIVISIONS)}")
    for value, what in ((submitter, "submitter"), (system_name, "system name"), (implementation, "implementation")):
        check_name(value, what)
    problems = validate_system(system_json, division=division, submitter=submitter)
    if problems:
        raise UserError(f"system description for {system_name}: " + "; ".join(problems))
    if not results:
        raise UserError("no results to write")
    for rs in results:
        check_name(rs.model, "model")
        check_name(rs.scenario, "scenario")
        if not _mode_dirs(rs):
            raise UserError(f"{rs.model} {rs.scenario}: neither a performance nor an accuracy run to write")
        if not rs.readme.strip():
            raise UserError(f"{rs.model} {rs.scenario}: the README (how to reproduce) is empty")
        empty = [k for k, v in rs.measurements.items() if not str(v).strip()]
        if empty:
            raise UserError(f"{rs.model} {rs.scenario}: measurements field(s) {', '.join(empty)} are empty")

    submission_dir = Path(submission_dir)
    created_root = not submission_dir.exists()
    submission_dir.mkdir(parents=True, exist_ok=True)
    try:
        with tree_lock(submission_dir):
            return _write_locked(submission_dir, layout, division=division, submitter=submitter,
                                 system_name=system_name, system_json=system_json, results=results, src_dir=src_dir,
                                 force=force, implementation=implementation)
    except BaseException:
        if created_root:  # only when nothing else (another writer's lock) appeared in it meanwhile
            with contextlib.suppress(OSError):
                submission_dir.rmdir()
        raise


def _write_locked(submission_dir: Path, layout: Layout, *, division, submitter, system_name,
                  system_json, results, src_dir, force, implementation) -> list[Path]:
    base = submission_dir / division / submitter
    with Transaction(submission_dir) as tx:
        entries = _stage(layout, tx.staging / "new", base, system_name, system_json, results, src_dir,
                         implementation, division)
        if division == "closed" and layout.calibration_required:
            entries += _calibration(tx.staging / "new", base, results)
        blocked = [e.target for e in entries if e.guarded and e.target.exists() and not _same(e.staged, e.target)]
        if blocked and not force:
            raise UserError(f"{blocked[0]} already exists ({len(blocked)} item(s) in the way); "
                            "pass --force to replace (the old ones are kept until the new ones are in)")
        placed = []
        for e in entries:
            if e.target.exists() and _same(e.staged, e.target):
                continue
            tx.place(e.staged, e.target)
            placed.append(e.target)
    return placed


def _calibration(new: Path, base: Path, results: list[ResultSet]) -> list[_Entry]:
    """calibration.md, which closed trees of rounds whose checker requires it (v5.x) must hold, from the
    results' measurements (what each model's weights are and how they were made); one already there (yours,
    or documentation/calibration.md) is kept."""
    if (base / "calibration.md").exists() or (base / "documentation" / "calibration.md").exists():
        return []
    lines = ["# Calibration and quantization", "",
             "Written by mlperfctl from each result's measurements json; describe here any calibration you did.", ""]
    for rs in sorted(results, key=lambda r: (r.model, r.scenario)):
        m = rs.measurements
        line = (f"- {rs.model} {rs.scenario}: weights {m.get('weight_data_types')} "
                f"(transformations: {m.get('weight_transformations')}), inputs {m.get('input_data_types')}")
        if line not in lines:
            lines.append(line)
    if all(rs.measurements.get("weight_data_types") == "fp32" for rs in results):
        lines += ["", "Every model runs at fp32 as published: nothing is quantized, so no calibration was done."]
    path = new / "calibration.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return [_Entry(path, base / "calibration.md", False)]


def _stage(layout: Layout, new: Path, base: Path, system: str, system_json: dict, results: list[ResultSet],
           src_dir: Path | None, implementation: str, division: str = "closed") -> list[_Entry]:
    """Build every entry in `new` (mirroring the tree) and return them in placing order."""
    entries: list[_Entry] = []

    def entry(rel: Path, guarded: bool) -> Path:
        entries.append(_Entry(new / rel, base / rel, guarded))
        return new / rel

    _json_file(entry(Path("systems", f"{system}.json"), True), system_json)
    models = sorted({rs.model for rs in results})
    if src_dir is not None:
        if not Path(src_dir).is_dir():
            raise UserError(f"source directory {src_dir} does not exist")
        for model in models:
            _copytree(src_dir, entry(layout.src_dir(model, implementation), True),
                      ignore=shutil.ignore_patterns("__pycache__", "*.pyc", ".*"))
    for rs in results:
        modes = _mode_dirs(rs)
        for mode, src in modes.items():
            dst = entry(layout.mode_dir(system, rs.model, rs.scenario, mode), True)
            if mode == "performance":
                _copy_files(src, dst / "run_1", layout.perf_files, f"{rs.model} {rs.scenario} performance")
            else:
                _copy_files(src, dst, layout.acc_files, f"{rs.model} {rs.scenario} accuracy")
        for test, src in sorted(rs.compliance.items()):
            _copytree(src, entry(layout.compliance_dir(system, rs.model, rs.scenario, test), True))
        meta = layout.meta_dir(system, rs.model, rs.scenario)
        for name in layout.measurement_files:  # user.conf (and mlperf.conf for v4.x) come from the run
            if name == "README.md":
                continue
            conf_src = next(d / name for d in modes.values())
            if not conf_src.is_file():
                raise UserError(f"{rs.model} {rs.scenario}: {conf_src} is missing (the {layout.family} layout "
                                f"needs {name} beside the measurements)")
            shutil.copy2(conf_src, _parent(entry(meta / name, False)))
        _parent(entry(meta / "README.md", False)).write_text(rs.readme.rstrip() + "\n")
        _json_file(entry(layout.measurements_file(system, rs.model, rs.scenario, implementation), False),
                   rs.measurements)
        ledger_path = base / meta / "run.json"
        ledger = _read_json(ledger_path) if ledger_path.exists() else {}
        ledger.update({mode: rs.ledger for mode in modes})
        _json_file(entry(meta / "run.json", False), ledger)
    mapped = {m: OPEN_MODEL_MAPPING[m] for m in models if m in OPEN_MODEL_MAPPING}
    if division == "open" and mapped:  # the checker reads <division>/<submitter>/model_mapping.json
        mapping = _read_json(base / "model_mapping.json") if (base / "model_mapping.json").exists() else {}
        _json_file(entry(Path("model_mapping.json"), False), {**mapping, **mapped})
    return entries


def _parent(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _read_json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


