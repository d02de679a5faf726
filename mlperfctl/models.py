"""Every benchmark the built-in harness runs, as one row each: what `mlperfctl models` prints and the README's
model table. Read from the harness's registry (family, devices, backends, dataset and model files, demo folders)
and the rulebook (the rounds where the model is a closed benchmark and its scenarios per system type, in the
newest of them); nothing here is written twice."""

from __future__ import annotations

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
