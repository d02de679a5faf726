"""Every benchmark the built-in harness runs, as one row each: what `mlperfctl models` prints and the README's
model table. Read from the harness's registry (family, devices, backends, dataset and model files, demo folders)
and the rulebook (the rounds where the model is a closed benchmark and its scenarios per system type, in the
newest of them); nothing here is written twice."""

from __future__ import annotations

import shlex
from pathlib import Path

import mlperf_rules
from mlperf_harness import workloads

from .options import resolve_round


def model_rows() -> list[dict]:
    rows = []
    for name, w in workloads.WORKLOADS.items():
        closed = [r.version for r in mlperf_rules.ROUNDS.values() if r.benchmark(name) is not None]
        rules = resolve_round(None, name).rules if closed else None
        bench = rules.benchmark(name) if rules else None
        rows.append({
            "model": name, "family": w.family, "devices": list(w.devices()),
            "backends": {d: list(w.backends(d)) for d in w.devices()},
            "closed_rounds": closed if name not in mlperf_rules.OPEN_ONLY else [],
            "rules_round": rules.version if rules and name not in mlperf_rules.OPEN_ONLY else None,
            "scenarios": dict(bench.required) if bench and name not in mlperf_rules.OPEN_ONLY else {},
            "dataset": w.dataset_name, "dataset_files": list(w.dataset_files), "model_files": dict(w.model_files),
            "demo": {"dataset_dir": w.demo_dataset_dir, "model_dir": w.demo_model_dir},
        })
    return rows


def markdown(rows: list[dict]) -> str:
    """The rows as the README's table (one line per model)."""
    def scen(r):
        return "; ".join(f"{t}: {', '.join(s)}" for t, s in r["scenarios"].items()) or "open division only"

    backends = {r["model"]: sorted({b for bs in r["backends"].values() for b in bs}) for r in rows}
    lines = ["| model | family | devices | backends (model file) | closed in | scenarios (newest closed round) | "
             "dataset (files) |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        files = ", ".join(f"{b} (`{r['model_files'][b]}`)" for b in backends[r["model"]] if b in r["model_files"])
        lines.append(f"| {r['model']} | {r['family']} | {', '.join(r['devices'])} | {files} | "
                     f"{', '.join(r['closed_rounds']) or '-'} | {scen(r)} | {r['dataset']} "
                     f"({', '.join(f'`{f}`' for f in r['dataset_files'])}) |")
    return "\n".join(lines) + "\n"


def demo_run_command(directory: Path, model: str, backend: str | None = None) -> str:
    """The `mlperfctl run` that runs what demo-data wrote (demo-data prints it last): the model's declared demo
    folders (the dataset, and the folder holding the backend's model file, which `run` finds in it)."""
    w = workloads.get(model)
    argv = ["mlperfctl", "run", "--model", model, *(["--backend", backend] if backend else []),
            "--dataset-dir", str(Path(directory) / w.demo_dataset_dir),
            "--model-path", str(Path(directory) / w.demo_model_dir)]
    return shlex.join(argv)


def demo_commands(root: str = "demo") -> list[dict]:
    """One demo per family (its first model): the demo-data command and the run command demo-data prints for it,
    into ROOT/<model>. The README's demo commands are these (demo_markdown); an engine test runs every one."""
    rows, seen = [], set()
    for w in workloads.declarations():
        if w.family in seen:
            continue
        seen.add(w.family)
        model = w.names[0]
        directory = Path(root) / model
        rows.append({"family": w.family, "model": model, "models": [n for d in workloads.declarations()
                                                                     if d.family == w.family for n in d.names],
                     "demo_data": shlex.join(["mlperfctl", "demo-data", str(directory), "--model", model]),
                     "run": demo_run_command(directory, model)})
    return rows


def demo_markdown(root: str = "demo") -> str:
    """The README's demo commands: one console block, each family's two commands under a comment naming it."""
    lines = ["```console"]
    for r in demo_commands(root):
        lines += [f"# {r['family']}: {', '.join(r['models'])}", r["demo_data"], r["run"]]
    return "\n".join([*lines, "```"]) + "\n"
