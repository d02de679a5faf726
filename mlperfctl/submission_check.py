"""`mlperfctl submission check`: our own implementation of the official checker's rules.

The rules and numbers come from the MLCommons checker (tools/submission/submission_checker/:
constants.py, loader.py, checks/*.py, and the v5.x submission_checker.py for the v5 layout) and
from LoadGen 6.0.17's embedded mlperf.conf for the v6.1 seeds. Each problem is reported with the
path it concerns; nothing is modified.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from .submission import ACC_FILES, DIVISIONS, PERF_FILES, STAGING_PREFIX, check_version
from .sysinfo import validate_system

MAX_ACCURACY_LOG_SIZE = 10 * 1024
MIN_DURATION_MS = 600_000
FILE_SIZE_LIMIT = 50 * 1024 * 1024
MEASUREMENT_FIELDS = ("input_data_types", "retraining", "starting_weights_filename", "weight_data_types",
                      "weight_transformations")
# qsl, sample index, schedule: v6.1 from LoadGen 6.0.17's embedded mlperf.conf; the others from the
# checker's MODEL_CONFIG[version]["seeds"].
SEEDS = {
    "v6.1": (2085463073848966840, 2747215439041700203, 16159082839903944936),
    "v6.0": (2465351861681999779, 14276810075590677512, 3936089224930324775),
    "v5.1": (1780908523862526354, 14771362308971278857, 18209322760996052031),
}
SEED_KEYS = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")
# Our directory names that the checker maps to its benchmark names.
MODEL_ALIASES = {"resnet50": "resnet", "mobilenet": "resnet", "efficientnet": "resnet", "sdxl": "stable-diffusion-xl"}

# How accuracy.txt states each metric (one capture group: the value).
METRIC_PATTERNS = {
    "acc": r"^\{?\"?accuracy\"?\s*[:=]\s*([\d.]+)",
    "mAP": r"(?:mAP=|'Total':)\s*([\d.]+)",
    "F1": r"[\"']f1[\"']:\s*([\d.]+)",
    "DICE": r"Accuracy:\s*mean\s*=\s*([\d.]+)",
    "AUC": r"^AUC=([\d.]+)",
    "ROUGE1": r"'rouge1':\s*'?([\d.]+)",
    "ROUGE2": r"'rouge2':\s*'?([\d.]+)",
    "ROUGEL": r"'rougeL':\s*'?([\d.]+)",
    "TOKENS_PER_SAMPLE": r"'tokens_per_sample':\s*([\d.]+)",
    "CLIP_SCORE": r"'CLIP_SCORE':\s*'?([\d.]+)",
    "FID_SCORE": r"'FID_SCORE':\s*'?([\d.]+)",
}
HASH_LINE = re.compile(r"^hash=([0-9A-Za-z]+)$")

SS, MS, OFF, SRV = "SingleStream", "MultiStream", "Offline", "Server"


@dataclass(frozen=True)
class ModelRules:
    """One benchmark's numbers (checker constants: performance-sample-count, dataset-size,
    accuracy-target/-upper-limit, OFFLINE_MIN_SPQ_SINCE_V4, models_TESTxx)."""

    performance_sample_count: int
    dataset_size: int
    accuracy: tuple  # (metric, minimum, maximum or None), ...
    offline_min_spq: int
    compliance: tuple[str, ...]


def _acc(*targets):
    return tuple(t if len(t) == 3 else (*t, None) for t in targets)


_LLAMA2 = lambda f: _acc(("ROUGE1", 44.4312 * f), ("ROUGE2", 22.0352 * f), ("ROUGEL", 28.6162 * f),  # noqa: E731
                         ("TOKENS_PER_SAMPLE", 294.45 * 0.9, 294.45 * 1.1))
MODELS = {
    "resnet": ModelRules(1024, 50000, _acc(("acc", 76.46 * 0.99)), 24576, ("TEST01", "TEST04")),
    "retinanet": ModelRules(64, 24781, _acc(("mAP", 37.55 * 0.99)), 24576, ("TEST01",)),
    "bert-99": ModelRules(10833, 10833, _acc(("F1", 90.874 * 0.99)), 10833, ("TEST01",)),
    "bert-99.9": ModelRules(10833, 10833, _acc(("F1", 90.874 * 0.999)), 10833, ("TEST01",)),
    "3d-unet-99": ModelRules(43, 43, _acc(("DICE", 0.86170 * 0.99)), 43, ("TEST01",)),
    "3d-unet-99.9": ModelRules(43, 43, _acc(("DICE", 0.86170 * 0.999)), 43, ("TEST01",)),
    "dlrm-v2-99": ModelRules(204800, 330067, _acc(("AUC", 80.31 * 0.99)), 24576, ("TEST01",)),
    "dlrm-v2-99.9": ModelRules(204800, 330067, _acc(("AUC", 80.31 * 0.999)), 24576, ("TEST01",)),
    "llama2-70b-99": ModelRules(24576, 24576, _LLAMA2(0.99), 24576, ("TEST06",)),
    "llama2-70b-99.9": ModelRules(24576, 24576, _LLAMA2(0.999), 24576, ("TEST06",)),
    "stable-diffusion-xl": ModelRules(5000, 5000, _acc(("CLIP_SCORE", 31.68631873, 31.81331801),
                                                       ("FID_SCORE", 23.01085758, 23.95007626)),
                                      5000, ("TEST01", "TEST04")),
}
# Required scenarios per round family and system type (closed division); a model missing here is not
# a benchmark of that round for that system type. "Interactive or Server" is one more requirement.
_V6 = {
    "datacenter": {"3d-unet-99": (OFF,), "3d-unet-99.9": (OFF,), "llama2-70b-99": (OFF,),
                   "llama2-70b-99.9": (OFF,)},
    "edge": {"resnet": (SS, MS, OFF), "bert-99": (SS, OFF), "bert-99.9": (SS, OFF), "3d-unet-99": (SS, OFF),
             "3d-unet-99.9": (SS, OFF), "stable-diffusion-xl": (SS, OFF)},
    "datacenter,edge": {"resnet": (SS, MS, OFF, SRV), "retinanet": (SS, OFF, MS, SRV), "bert-99": (SS, OFF),
                        "bert-99.9": (SS, OFF), "3d-unet-99": (SS, OFF), "3d-unet-99.9": (SS, OFF),
                        "llama2-70b-99": (OFF,), "llama2-70b-99.9": (OFF,),
                        "stable-diffusion-xl": (SS, OFF, SRV)},
}
_V5 = {
    "datacenter": {"retinanet": (SRV, OFF), "dlrm-v2-99": (SRV, OFF), "dlrm-v2-99.9": (SRV, OFF),
                   "3d-unet-99": (OFF,), "3d-unet-99.9": (OFF,), "llama2-70b-99": (OFF,),
                   "llama2-70b-99.9": (OFF,), "stable-diffusion-xl": (SRV, OFF)},
    "edge": {"resnet": (SS, MS, OFF), "retinanet": (SS, MS, OFF), "bert-99": (SS, OFF), "bert-99.9": (SS, OFF),
             "3d-unet-99": (SS, OFF), "3d-unet-99.9": (SS, OFF), "stable-diffusion-xl": (SS, OFF)},
    "datacenter,edge": {"resnet": (SS, MS, OFF, SRV), "retinanet": (SS, OFF, MS, SRV), "bert-99": (SS, OFF),
                        "bert-99.9": (SS, OFF), "dlrm-v2-99": (OFF, SRV), "dlrm-v2-99.9": (OFF, SRV),
                        "3d-unet-99": (SS, OFF), "3d-unet-99.9": (SS, OFF), "llama2-70b-99": (OFF,),
                        "llama2-70b-99.9": (OFF,), "stable-diffusion-xl": (SS, OFF, SRV)},
}
INTERACTIVE_OR_SERVER = {"llama2-70b-99", "llama2-70b-99.9"}


def required_scenarios(version: str, system_type: str, model: str) -> tuple[str, ...] | None:
    table = _V6 if version.startswith("v6") else _V5
    key = "datacenter,edge" if system_type in ("datacenter,edge", "edge,datacenter") else system_type
    return table.get(key, {}).get(model)


class MLLog:
    """A LoadGen detail log: `:::MLLOG {json}` lines, tolerant of other and truncated lines."""

    MARKER = ":::MLLOG"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.messages: dict[str, list[dict]] = {}
        self.bad_lines = 0
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line.startswith(self.MARKER):
                    continue
                try:
                    record = json.loads(line[len(self.MARKER):])
                    key = record["key"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    self.bad_lines += 1
                    continue
                self.messages.setdefault(key, []).append(record)

    def get(self, key: str, default=None):
        """The value of the first message with this key."""
        records = self.messages.get(key)
        return records[0].get("value", default) if records else default

    def errors(self) -> list[str]:
        return [str(r.get("value")) for records in self.messages.values() for r in records
                if (r.get("metadata") or {}).get("is_error")]


@dataclass
class Problem:
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


@dataclass
class ResultRow:
    division: str
    submitter: str
    system: str
    model: str
    scenario: str
    performance: str = ""
    accuracy: str = ""
    problems: int = 0


@dataclass
class Report:
    root: Path
    version: str
    problems: list[Problem] = field(default_factory=list)
    rows: list[ResultRow] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"root": str(self.root), "version": self.version, "ok": self.ok,
                "problems": [{"path": p.path, "message": p.message} for p in self.problems],
                "results": [vars(r) for r in self.rows]}


def _dirs(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_dir()) if path.is_dir() else []


def _files(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.is_file()) if path.is_dir() else []


class _Checker:
    def __init__(self, root: Path, version: str, skip_compliance: bool, skip_dataset_size_check: bool):
        self.root, self.version, self.skip_compliance = root, version, skip_compliance
        self.skip_dataset_size_check = skip_dataset_size_check
        self.layout = check_version(version)
        self.report = Report(root, version)
        self.seeds = dict(zip(SEED_KEYS, SEEDS[version], strict=True))

    def problem(self, path: Path, message: str) -> None:
        try:
            shown = str(path.relative_to(self.root))
        except ValueError:
            shown = str(path)
        self.report.problems.append(Problem(shown or ".", message))

    def run(self) -> Report:
        if not self.root.is_dir():
            self.problem(self.root, "is not a directory")
            return self.report
        for entry in sorted(self.root.iterdir()):
            if entry.name.startswith(STAGING_PREFIX):
                self.problem(entry, "leftover staging directory of an interrupted write (remove it)")
            elif entry.is_file() and not entry.name.endswith((".md", ".pdf")):
                self.problem(entry, "file outside a division directory")
            elif entry.is_dir() and entry.name not in DIVISIONS and entry.name != "network":
                self.problem(entry, f"unknown division '{entry.name}' (choose: closed, open)")
        divisions = [d for d in _dirs(self.root) if d in DIVISIONS]
        if not divisions:
            self.problem(self.root, "no closed/ or open/ division directory")
        for division in divisions:
            for f in _files(self.root / division):
                self.problem(self.root / division / f, "file outside a submitter directory")
            for submitter in _dirs(self.root / division):
                self.check_submitter(division, submitter)
        return self.report

    def check_submitter(self, division: str, submitter: str) -> None:
        base = self.root / division / submitter
        self.check_hygiene(base)
        results = base / "results"
        if not results.is_dir():
            self.problem(results, "missing results directory")
            return
        for system in _dirs(results):
            system_json = self.check_system(base, division, submitter, system)
            system_type = (system_json or {}).get("system_type", "")
            for model_dir in _dirs(results / system):
                model = MODEL_ALIASES.get(model_dir, model_dir)
                rules = MODELS.get(model)
                where = results / system / model_dir
                if rules is None:
                    self.problem(where, f"no rules known for model '{model_dir}' "
                                        f"(known: {', '.join(sorted({*MODELS, *MODEL_ALIASES}))})")
                scenarios = _dirs(where)
                if division == "closed" and system_json is not None:
                    self.check_scenario_set(where, model, system_type, scenarios)
                code = base / "src" if self.layout.v6 else base / "code" / model_dir
                if not code.is_dir():
                    self.problem(code, "missing source directory (the implementation's code)")
                for scenario in scenarios:
                    self.check_scenario(base, division, submitter, system, model_dir, scenario, rules)

    def check_hygiene(self, base: Path) -> None:
        """What the checker refuses anywhere in a submitter's tree."""
        for dirpath, dirnames, filenames in os.walk(base):
            here = Path(dirpath)
            if not dirnames and not filenames:
                self.problem(here, "empty directory")
            for name in dirnames + filenames:
                path = here / name
                if name.startswith("."):
                    self.problem(path, "hidden file or directory (git-unfriendly name)")
                if " " in name:
                    self.problem(path, "space in the name")
                if name == "__pycache__":
                    self.problem(path, "__pycache__ directory")
                if path.is_symlink() and not path.exists():
                    self.problem(path, "broken symbolic link")
                elif name in filenames and path.stat().st_size > FILE_SIZE_LIMIT:
                    self.problem(path, "larger than 50 MB")

    def check_system(self, base: Path, division: str, submitter: str, system: str) -> dict | None:
        path = base / "systems" / f"{system}.json"
        if not path.is_file():
            self.problem(path, "missing system description")
            return None
        try:
            desc = json.loads(path.read_text())
        except json.JSONDecodeError as e:
            self.problem(path, f"invalid JSON: {e.msg} (line {e.lineno})")
            return None
        if not isinstance(desc, dict):
            self.problem(path, "not a JSON object")
            return None
        for message in validate_system(desc, division=division, submitter=submitter):
            self.problem(path, message)
        return desc

    def check_scenario_set(self, where: Path, model: str, system_type: str, scenarios: list[str]) -> None:
        required = required_scenarios(self.version, system_type, model)
        if required is None:
            self.problem(where, f"{model} is not a {system_type} benchmark in {self.version}")
            return
        missing = [s for s in required if s not in scenarios]
        if model in INTERACTIVE_OR_SERVER and not {"Interactive", SRV} & set(scenarios):
            missing.append("Interactive or Server")
        if missing:
            self.problem(where, f"missing required scenario(s) for {system_type}: {', '.join(missing)}")

    def check_scenario(self, base, division, submitter, system, model_dir, scenario, rules) -> None:
        lay = self.layout
        row = ResultRow(division, submitter, system, model_dir, scenario)
        before = len(self.report.problems)
        perf = base / lay.mode_dir(system, model_dir, scenario, "performance") / "run_1"
        acc = base / lay.mode_dir(system, model_dir, scenario, "accuracy")
        self.required_files(perf, PERF_FILES, extra_ok=("mlperf_log_accuracy.json",))
        self.required_files(acc, ACC_FILES)
        self.check_meta(base, system, model_dir, scenario)
        if (perf / "mlperf_log_detail.txt").is_file():
            row.performance = self.check_performance(perf, division, scenario, rules)
        if (acc / "mlperf_log_detail.txt").is_file():
            row.accuracy = self.check_accuracy(acc, division, rules)
        if division == "closed" and rules is not None and not self.skip_compliance:
            self.check_compliance(base, system, model_dir, scenario, rules)
        row.problems = len(self.report.problems) - before
        self.report.rows.append(row)

    def required_files(self, where: Path, names, extra_ok=()) -> None:
        if not where.is_dir():
            self.problem(where, "missing directory")
            return
        present = _files(where)
        for name in names:
            if name not in present:
                self.problem(where / name, "missing file")
            elif (where / name).stat().st_size == 0:
                self.problem(where / name, "empty file")
        if not self.layout.v6:  # the v5.x checker wants exactly these files
            allowed = {*names, *extra_ok, "mlperf_log_trace.json", "results.json", ".gitkeep"}
            for name in present:
                if name not in allowed:
                    self.problem(where / name, "unexpected file (the v5.x checker wants an exact file list)")

    def check_meta(self, base, system, model_dir, scenario) -> None:
        meta = base / self.layout.meta_dir(system, model_dir, scenario)
        for name in ("user.conf", "README.md"):
            f = meta / name
            if not f.is_file():
                self.problem(f, "missing file")
            elif f.stat().st_size == 0:
                self.problem(f, "empty file")
        if self.layout.v6:
            mfile = meta / "measurements.json"
        else:
            mfile = next((meta / f for f in _files(meta) if f.startswith(system) and f.endswith(".json")),
                         meta / f"{system}_<implementation>_{scenario}.json")
        if not mfile.is_file():
            self.problem(mfile, "missing measurements file")
            return
        try:
            data = json.loads(mfile.read_text())
        except json.JSONDecodeError as e:
            self.problem(mfile, f"invalid JSON: {e.msg}")
            return
        for key in MEASUREMENT_FIELDS:
            if not isinstance(data, dict) or key not in data:
                self.problem(mfile, f"field {key} is missing")
            elif not str(data[key]).strip():
                self.problem(mfile, f"field {key} is empty")

    def check_performance(self, perf: Path, division: str, scenario: str, rules: ModelRules | None) -> str:
        log = MLLog(perf / "mlperf_log_detail.txt")
        where = perf / "mlperf_log_detail.txt"
        if log.bad_lines:
            self.problem(where, f"{log.bad_lines} malformed :::MLLOG line(s)")
        for error in log.errors():
            self.problem(where, f"LoadGen error: {error}")
        validity = log.get("result_validity")
        if validity != "VALID":
            self.problem(where, f"result_validity is {validity or 'missing'}, expected VALID")
        effective = log.get("effective_scenario")
        if effective != scenario:
            self.problem(where, f"the run's scenario is {effective}, the directory says {scenario}")
        duration = log.get("effective_min_duration_ms")
        if not isinstance(duration, (int, float)) or duration < MIN_DURATION_MS:
            self.problem(where, f"min_duration is {duration} ms, a valid run needs >= {MIN_DURATION_MS} ms")
        for key, expected in self.seeds.items():
            found = log.get(f"effective_{key}")
            if found != expected:
                self.problem(where, f"{key} is {found}, {self.version} requires {expected}")
        if rules is not None:
            count = log.get("effective_performance_sample_count")
            if not isinstance(count, int) or count < rules.performance_sample_count:
                self.problem(where, f"performance_sample_count is {count}, needs >= {rules.performance_sample_count}")
            spq = log.get("effective_samples_per_query")
            if division == "closed" and scenario == OFF and (not isinstance(spq, int) or spq < rules.offline_min_spq):
                self.problem(where, f"Offline samples_per_query is {spq}, closed needs >= {rules.offline_min_spq}")
        metric = {OFF: "result_samples_per_second", SRV: "result_completed_samples_per_sec",
                  SS: "early_stopping_latency_ss", MS: "early_stopping_latency_ms"}.get(scenario)
        value = log.get(metric) if metric else None
        if scenario in (SS, MS) and isinstance(value, (int, float)):
            return f"{value / 1e6:.3f} ms"
        return f"{value:.2f}/s" if isinstance(value, (int, float)) else ""

    def check_accuracy(self, acc: Path, division: str, rules: ModelRules | None) -> str:
        log = MLLog(acc / "mlperf_log_detail.txt")
        for error in log.errors():
            self.problem(acc / "mlperf_log_detail.txt", f"LoadGen error: {error}")
        log_json = acc / "mlperf_log_accuracy.json"
        if log_json.is_file() and log_json.stat().st_size > MAX_ACCURACY_LOG_SIZE:
            self.problem(log_json, f"is not truncated ({log_json.stat().st_size} bytes > {MAX_ACCURACY_LOG_SIZE}); "
                                   "run `mlperfctl submission truncate`")
        txt = acc / "accuracy.txt"
        if not txt.is_file():
            return ""
        lines = txt.read_text(errors="replace").splitlines()
        if not any(HASH_LINE.match(line.strip()) for line in lines):
            self.problem(txt, "no hash=<sha256> line (run `mlperfctl submission truncate`)")
        if rules is None:
            return ""
        count = log.get("effective_accuracy_sample_count", log.get("qsl_reported_total_count"))
        if count != rules.dataset_size and not self.skip_dataset_size_check:
            self.problem(acc / "mlperf_log_detail.txt",
                         f"accuracy run covers {count} samples, the dataset has {rules.dataset_size}")
        shown = []
        for metric, low, high in rules.accuracy:
            found = next((float(m.group(1)) for line in lines
                          if (m := re.search(METRIC_PATTERNS[metric], line.strip()))), None)
            if found is None:
                self.problem(txt, f"no {metric} value found (expected a line matching {METRIC_PATTERNS[metric]!r})")
                continue
            shown.append(f"{metric}={found:g}")
            if division != "closed":
                continue
            if found < low:
                self.problem(txt, f"{metric}={found:g} is below the target {low:.4f}")
            if high is not None and found > high:
                self.problem(txt, f"{metric}={found:g} is above the upper limit {high:.4f}")
        return ", ".join(shown)

    def check_compliance(self, base, system, model_dir, scenario, rules: ModelRules) -> None:
        for test in rules.compliance:
            d = base / self.layout.compliance_dir(system, model_dir, scenario, test)
            if not d.is_dir():
                self.problem(d, f"missing compliance test {test} (closed division)")
                continue
            needs = []
            if test in ("TEST01", "TEST06"):
                needs.append("verify_accuracy.txt")
            if test in ("TEST01", "TEST04"):
                needs += ["verify_performance.txt", "performance/run_1/mlperf_log_detail.txt"]
            for name in needs:
                if not (d / name).is_file():
                    self.problem(d / name, "missing compliance file")
            verify = d / "verify_performance.txt"
            if verify.is_file() and "TEST PASS" not in verify.read_text(errors="replace"):
                self.problem(verify, "compliance performance check did not pass (no TEST PASS)")


def check(root: Path, version: str = "v6.1", *, skip_compliance: bool = False,
          skip_dataset_size_check: bool = False) -> Report:
    """Check a submission tree (the directory holding closed/ and open/). skip_dataset_size_check
    is the official checker's switch of that name: accuracy runs on a subset (e.g. demo data)."""
    return _Checker(Path(root), version, skip_compliance, skip_dataset_size_check).run()
