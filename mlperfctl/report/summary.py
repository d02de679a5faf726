"""The official summary of a submission tree: one row per result with the columns and value rules of the
official checker's `--csv` output for the tree's round, read through our own checker (check/), LoadGen
detail logs (MLLog), the system descriptions and the measurements.

Facts transcribed from mlcommons/inference (read, not copied):
- v6.x: tools/submission/submission_checker/results.py (ResultExporter) and checks/performance_check.py
  at commit b66003e10e2db4b8c36a448b0545ec90fcc6e9e9: every value written as "value", the header bare.
- v4.x/v5.x: tools/submission/submission_checker.py (check_results_dir / log_result) at tag v5.1,
  commit 75f297d44c5e68d24a2f7643fe1eb11e49313238: values bare, the free-text ones in double quotes.

The official checker writes a row only for a result that passes every check; we write one for every result
and say in `errors` how many problems our checker found in it (0 on every row the official tool writes).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_rules import INT, MS, SRV, SS, Round

from ..submission import check as submission_check
from ..submission.check import structure
from ..submission.mllog import MLLog

# v6.x: submission_checker/results.py, ResultExporter.head (commit b66003e10e2db4b8c36a448b0545ec90fcc6e9e9)
COLUMNS_V6 = (
    "Organization", "Availability", "Division", "SystemType", "SystemName", "Platform", "Model", "MlperfModel",
    "Scenario", "Result", "Accuracy", "number_of_nodes", "host_processor_model_name", "host_processors_per_node",
    "host_processor_core_count", "accelerator_model_name", "accelerators_per_node", "total_accelerators",
    "Location", "framework", "operating_system", "notes", "compliance", "errors", "version", "inferred",
    "has_power", "Units", "weight_data_types", "design_power_watts", "PrivateID",
)
# v4.x/v5.x: submission_checker.py, check_results_dir's head (tag v5.1, commit 75f297d44c5e68d24a2f7643fe1eb11e49313238)
COLUMNS_V5 = (
    "Organization", "Availability", "Division", "SystemType", "SystemName", "Platform", "Model", "MlperfModel",
    "Scenario", "Result", "Accuracy", "number_of_nodes", "host_processor_model_name", "host_processors_per_node",
    "host_processor_core_count", "accelerator_model_name", "accelerators_per_node", "Location", "framework",
    "operating_system", "notes", "compliance", "errors", "version", "inferred", "has_power", "Units",
    "weight_data_types",
)
# the v5.x checker puts these (and only these) between double quotes
QUOTED_V5 = frozenset({"SystemType", "SystemName", "host_processor_model_name", "accelerator_model_name",
                       "accelerators_per_node", "framework", "operating_system", "notes", "weight_data_types"})

# Units, as both checkers' UNIT_DICT / SPECIAL_UNIT_DICT give them (v4.0 has no special units)
UNITS = {SS: "Latency (ms)", MS: "Latency (ms)", "Offline": "Samples/s", SRV: "Queries/s", INT: "Queries/s"}
TOKEN_MODELS = ("llama3.1-8b", "llama2-70b-99", "llama2-70b-99.9", "mixtral-8x7b", "llama3.1-405b", "deepseek-r1",
                "gpt-oss-120b")
SPECIAL_UNITS = {**{m: {s: "Tokens/s" for s in ("Offline", SRV, INT)} for m in TOKEN_MODELS},
                 "llama3.1-8b-edge": {"Offline": "Tokens/s"},
                 "wan-2.2-t2v-a14b": {SS: "Latency (s)"}, "e2e-rag-qna": {"Offline": "Tasks/s"}}

PERCENTILES = ("50.00", "90.00", "95.00", "97.00", "99.00", "99.90")
TTFT_KEY = "result_first_token_99.00_percentile_latency_ns"
TPOT_KEY = "result_time_per_output_token_99.00_percentile_ns"
THROUGHPUT_KEYS = ("result_completed_tokens_per_second", "result_tokens_per_second", "result_samples_per_second",
                   "result_completed_samples_per_sec", "result_qps_with_loadgen_overhead")


@dataclass
class Result:
    """One result (system, model, scenario) of a tree: its official summary row and what the page shows."""

    row: dict[str, object]  # column -> value, the official checker's columns for the round
    valid: bool
    problems: list[str] = field(default_factory=list)
    accuracy: list[dict] = field(default_factory=list)  # {"metric", "value", "target", "upper", "ok"}
    compliance: dict[str, str] = field(default_factory=dict)  # TEST0x -> PASS / FAIL / missing
    latency_ms: dict[str, float] = field(default_factory=dict)  # percentile -> ms
    throughput: float | None = None
    throughput_unit: str = ""
    tokens: dict[str, float | None] = field(default_factory=dict)  # ttft/tpot p99 and their limits, ms
    peak_rss_mib: dict[str, float] = field(default_factory=dict)  # mode -> MiB

    @property
    def key(self) -> tuple[str, str, str, str]:
        r = self.row
        return (str(r["Division"]), str(r["Platform"]), str(r["Model"]), str(r["Scenario"]))

    def to_dict(self) -> dict:
        return {"summary": self.row, "valid": self.valid, "problems": self.problems, "accuracy": self.accuracy,
                "compliance": self.compliance, "latency_ms": self.latency_ms, "throughput": self.throughput,
                "throughput_unit": self.throughput_unit, "tokens": self.tokens, "peak_rss_mib": self.peak_rss_mib}


def columns(rnd: Round) -> tuple[str, ...]:
    return COLUMNS_V6 if rnd.layout.v6 else COLUMNS_V5


def read_tree(root: Path, rnd: Round) -> list[Result]:
    """Every result of the tree at `root`, checked against round `rnd` by our checker."""
    root = Path(root)
    report = submission_check.check(root, rnd=rnd, skip_dataset_size_check=True)
    lay = rnd.layout
    results = []
    for r in report.rows:
        base = root / r.division / r.submitter
        scen_dir = lay.scenario_dir(r.system, r.model, r.scenario)
        prefixes = {str(Path(r.division, r.submitter, d)) for d in (
            scen_dir, lay.meta_dir(r.system, r.model, r.scenario),
            lay.compliance_dir(r.system, r.model, r.scenario, "TEST00").parent)}
        problems = [f"{p.path}: {p.message}" for p in report.problems
                    if any(p.path == x or p.path.startswith(x + "/") for x in prefixes)]
        system_json = _json(base / lay.system_file(r.system))
        mapping = _json(base / "model_mapping.json")
        mlperf_model = rnd.canonical(r.model) or mapping.get(r.model) or rnd.canonical(mapping.get(r.model, "")) \
            or r.model
        perf = base / lay.perf_run_dir(r.system, r.model, r.scenario)
        log = MLLog(perf / "mlperf_log_detail.txt") if (perf / "mlperf_log_detail.txt").is_file() else None
        res = Result(row={}, valid=r.problems == 0, problems=problems)
        res.accuracy = _accuracy(rnd, mlperf_model, base / lay.mode_dir(r.system, r.model, r.scenario, "accuracy"))
        res.compliance = _compliance(rnd, mlperf_model, base, r.system, r.model, r.scenario, r.division)
        compliance_ok = all(v == "PASS" for v in res.compliance.values())
        res.row = _row(rnd, r, system_json, mlperf_model, log, res, perf, root, base, compliance_ok)
        if log is not None:
            _measure(rnd, mlperf_model, r.scenario, log, res)
        res.peak_rss_mib = _peak_rss(base / lay.meta_dir(r.system, r.model, r.scenario),
                                     base / lay.scenario_dir(r.system, r.model, r.scenario))
        results.append(res)
    return results


def _json(path: Path) -> dict:
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _result_value(rnd: Round, model: str, scenario: str, log: MLLog | None) -> float | None:
    """The checker's Result: the round's result field (tokens/s where it says so); SingleStream and
    MultiStream latencies in ms (wan-2.2 in s)."""
    if log is None:
        return None
    key = rnd.result_field(model, scenario) or rnd.result_field(None, SRV)
    value = log.get(key)
    if not isinstance(value, (int, float)):
        return None
    value = float(value)
    if scenario in (SS, MS):
        value /= 1e6
        if model == "wan-2.2-t2v-a14b":
            value /= 1e3
    return value


def _accuracy_text(rnd: Round, model: str, acc_dir: Path) -> str:
    """The checker's Accuracy: json.dumps of {metric: value as written in accuracy.txt} with `,` turned into
    a space and the quotes and braces dropped, e.g. `acc: 76.500` or `ROUGE1: 44.5  ROUGE2: 22.1`."""
    values = _raw_accuracy(rnd, model, acc_dir)
    text = json.dumps({k: v for k, v in values.items() if v is not None})
    return text.replace(",", " ").replace('"', "").replace("{", "").replace("}", "").strip()


def _raw_accuracy(rnd: Round, model: str, acc_dir: Path) -> dict[str, str | None]:
    txt = acc_dir / "accuracy.txt"
    bench = rnd.benchmark(model)
    if bench is None or not txt.is_file():
        return {}
    lines = txt.read_text(errors="replace").splitlines()
    found: dict[str, str | None] = {}
    for metric in bench.accuracy:
        pattern = re.compile(rnd.acc_patterns[metric.key])
        found[metric.key] = next((m.group(1) for line in lines if (m := pattern.match(line))), None)
    return found


def _accuracy(rnd: Round, model: str, acc_dir: Path) -> list[dict]:
    """Each metric's value against the round's closed-division bounds."""
    bench = rnd.benchmark(model)
    raw = _raw_accuracy(rnd, model, acc_dir)
    out = []
    for metric in bench.accuracy if bench else ():
        text = raw.get(metric.key)
        value = float(text) if text is not None else None
        ok = value is not None and (metric.target is None or value >= metric.target) \
            and (metric.upper is None or value <= metric.upper)
        out.append({"metric": metric.key, "value": value, "target": metric.target, "upper": metric.upper, "ok": ok})
    return out


def _compliance(rnd: Round, model: str, base: Path, system: str, model_dir: str, scenario: str,
                division: str) -> dict[str, str]:
    """TEST0x -> PASS or FAIL from its verify_*.txt, or `missing`; the round's tests in closed, the ones
    present in open."""
    bench = rnd.benchmark(model)
    tests = list(bench.compliance) if bench and division == "closed" else []
    scen = base / rnd.layout.compliance_dir(system, model_dir, scenario, "TEST00").parent
    tests += [d for d in structure.dirs(scen) if d.startswith("TEST") and d not in tests]
    verdicts = {}
    for test in tests:
        d = base / rnd.layout.compliance_dir(system, model_dir, scenario, test)
        texts = [p.read_text(errors="replace") for p in sorted(d.glob("verify_*.txt"))]
        if not texts:
            verdicts[test] = "missing"
        elif test == "TEST06":
            verdicts[test] = "PASS" if all("pass: False" not in t for t in texts) else "FAIL"
        else:
            verdicts[test] = "PASS" if all("TEST PASS" in t for t in texts) else "FAIL"
    return verdicts


def _row(rnd: Round, r, system_json: dict, mlperf_model: str, log: MLLog | None, res: Result, perf: Path,
         root: Path, base: Path, compliance_ok: bool) -> dict[str, object]:
    v6 = rnd.layout.v6
    sj = system_json
    notes = sj.get("hw_notes", "")
    if sj.get("sw_notes"):
        notes = (notes + ". " if notes else "") + sj["sw_notes"]
    effective = log.get("effective_scenario") if log else None
    if v6:  # results.py compares the directory's scenario with LoadGen's, case-sensitively
        inferred = 1 if effective != r.scenario and (effective, r.scenario) != ("server", "interactive") else 0
    else:  # the v5.x checker infers only across scenarios it allows (not done by our runs)
        inferred = 0
    special = {} if rnd.version == "v4.0" else SPECIAL_UNITS.get(mlperf_model, {})
    value = _result_value(rnd, mlperf_model, r.scenario, log)
    measurements = _measurements(rnd, base, r.system, r.model, r.scenario)
    location = perf if v6 else perf.parent.parent
    row = {
        "Organization": r.submitter, "Availability": sj.get("status", ""), "Division": r.division,
        "SystemType": sj.get("system_type", ""), "SystemName": sj.get("system_name", ""), "Platform": r.system,
        "Model": r.model, "MlperfModel": mlperf_model, "Scenario": r.scenario,
        "Result": "" if value is None else value, "Accuracy": _accuracy_text(rnd, mlperf_model, perf.parent.parent
                                                                             / "accuracy"),
        "number_of_nodes": sj.get("number_of_nodes", ""),
        "host_processor_model_name": sj.get("host_processor_model_name", ""),
        "host_processors_per_node": sj.get("host_processors_per_node", ""),
        "host_processor_core_count": sj.get("host_processor_core_count", ""),
        "accelerator_model_name": sj.get("accelerator_model_name", ""),
        "accelerators_per_node": sj.get("accelerators_per_node", ""),
        "Location": str(location.relative_to(root)),
        "framework": sj.get("framework", ""), "operating_system": sj.get("operating_system", ""), "notes": notes,
        # v6.x writes the division here (a TODO in results.py); v5.x 1 when the compliance tests passed
        # (always 1 in open)
        "compliance": r.division if v6 else int(r.division == "open" or compliance_ok),
        "errors": r.problems, "version": rnd.version, "inferred": inferred,
        "has_power": (perf.parent / "power").exists() if v6 else False,
        "Units": special.get(r.scenario, UNITS.get(r.scenario, "")),
        "weight_data_types": measurements.get("weight_data_types", ""),
    }
    if v6:
        try:
            row["total_accelerators"] = int(row["number_of_nodes"]) * int(row["accelerators_per_node"])
        except (TypeError, ValueError):
            row["total_accelerators"] = ""
        row["design_power_watts"] = ""
        row["PrivateID"] = ""
    return {c: row[c] for c in columns(rnd)}


def _measurements(rnd: Round, base: Path, system: str, model: str, scenario: str) -> dict:
    meta = base / rnd.layout.meta_dir(system, model, scenario)
    if rnd.layout.v6:
        return _json(meta / "measurements.json")
    name = next((f for f in structure.files(meta) if f.startswith(system) and f.endswith(".json")), None)
    return _json(meta / name) if name else {}


def _measure(rnd: Round, model: str, scenario: str, log: MLLog, res: Result) -> None:
    """Latency percentiles, throughput, and LLM token latencies against the round's limits."""
    for p in PERCENTILES:
        v = log.get(f"result_{p}_percentile_latency_ns")
        if isinstance(v, (int, float)):
            res.latency_ms[f"p{float(p):g}"] = v / 1e6
    key = next((k for k in THROUGHPUT_KEYS if isinstance(log.get(k), (int, float))), None)
    if key:
        res.throughput = float(log.get(key))
        res.throughput_unit = "tokens/s" if "token" in key else "samples/s"
    bench = rnd.benchmark(model)
    limits = None
    if bench is not None:
        limits = bench.token_latency_ms.get(scenario) or (
            bench.token_latency_ms.get("*") if scenario != "Offline" else None)
    ttft, tpot = log.get(TTFT_KEY), log.get(TPOT_KEY)
    if limits or isinstance(ttft, (int, float)):
        res.tokens = {"ttft_p99_ms": ttft / 1e6 if isinstance(ttft, (int, float)) else None,
                      "tpot_p99_ms": tpot / 1e6 if isinstance(tpot, (int, float)) else None,
                      "ttft_limit_ms": limits[0] if limits else None, "tpot_limit_ms": limits[1] if limits else None}


def _peak_rss(*dirs: Path) -> dict[str, float]:
    """mode -> peak RSS (MiB) from run.json (each mode's runs) or result.json files under the result."""
    found: dict[str, float] = {}

    def walk(obj, mode: str) -> None:
        if isinstance(obj, dict):
            v = obj.get("peak_rss_mib")
            if isinstance(v, (int, float)):
                m = obj.get("mode") if isinstance(obj.get("mode"), str) else mode
                found[m] = max(found.get(m, 0.0), float(v))
            for k, sub in obj.items():
                walk(sub, k if k in ("performance", "accuracy") else mode)
        elif isinstance(obj, list):
            for sub in obj:
                walk(sub, mode)

    seen = set()
    for d in dirs:
        for path in [d / "run.json", *sorted(d.rglob("result.json"))]:
            if path in seen or not path.is_file():
                continue
            seen.add(path)
            mode = "accuracy" if "accuracy" in path.parts else "performance"
            walk(_json(path), mode)
    return found


def csv_text(rnd: Round, results: list[Result]) -> str:
    """The summary as the round's checker writes it (see the module docstring for the quoting)."""
    cols = columns(rnd)
    lines = [",".join(cols)]
    for res in results:
        if rnd.layout.v6:
            lines.append(",".join(f'"{res.row[c]}"' for c in cols))
        else:
            cells = []
            for c in cols:
                value = str(res.row[c])
                if c == "weight_data_types":
                    value = value.replace('"', "'")
                cells.append(f'"{value}"' if c in QUOTED_V5 else value)
            lines.append(",".join(cells))
    return "\n".join(lines) + "\n"
