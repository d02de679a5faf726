"""The shapes every round module fills in: plain frozen dataclasses, standard library only."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import PurePosixPath as P

SS, MS, OFF, SRV, INT = "SingleStream", "MultiStream", "Offline", "Server", "Interactive"
SCENARIOS = (SS, MS, OFF, SRV, INT)
# The system_type values the checker accepts, and the key each one selects its scenario lists by.
SYSTEM_TYPES = {"datacenter": "datacenter", "edge": "edge", "datacenter,edge": "datacenter,edge",
                "edge,datacenter": "datacenter,edge"}
SEED_KEYS = ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")


@dataclass(frozen=True)
class Seeds:
    qsl: int
    sample_index: int
    schedule: int

    def as_dict(self) -> dict[str, int]:
        """{"qsl_rng_seed": ..., "sample_index_rng_seed": ..., "schedule_rng_seed": ...}"""
        return dict(zip(SEED_KEYS, (self.qsl, self.sample_index, self.schedule), strict=True))


@dataclass(frozen=True)
class Metric:
    """One accuracy bound of the closed division: `key` names the accuracy.txt pattern; `target` is the
    lower bound (>=), `upper` the upper bound (<=); `*_expression` is how the checker writes it."""

    key: str
    target: float | None
    expression: str | None = None
    upper: float | None = None
    upper_expression: str | None = None


@dataclass(frozen=True)
class Benchmark:
    """One benchmark of one round, as that round's checker and compliance folder define it."""

    name: str  # canonical (the checker's model name)
    # system type ("datacenter", "edge", "datacenter,edge") -> scenarios; a missing type = not allowed
    required: Mapping[str, tuple[str, ...]]
    accuracy: tuple[Metric, ...]
    performance_sample_count: int
    dataset_size: int  # samples in the accuracy run
    offline_min_spq: int | None  # minimum effective_samples_per_query of a closed Offline run
    compliance: tuple[str, ...]  # TEST01, TEST04, TEST05, TEST06 ... required in closed
    loadgen_name: str  # the model key of LoadGen's mlperf.conf / user.conf
    optional: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    accuracy_sample_count: int | None = None  # replaces dataset_size in the check where given
    test01_delta: Mapping[str, float] = field(default_factory=dict)  # metric -> % (default: 1, 0.1 for -99.9)
    server_latency_ms: float | None = None  # Server latency constraint (p99, ms)
    # scenario ("Server", "Interactive", or "*" for every non-Offline one) -> (TTFT ms, TPOT ms), p99, strict <
    token_latency_ms: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    accuracy_log_dtype: str | None = None  # how the reference accuracy script decodes mlperf_log_accuracy.json
    test01_audit_dir: str | None = None  # compliance/TEST01/<this>/audit.config
    result_fields: Mapping[str, str] = field(default_factory=dict)  # scenario -> log key, overriding the round's

    def delta_percent(self, metric: str) -> float:
        """The TEST01 fallback's allowed |1 - baseline/compliance| in percent for this metric."""
        if metric in self.test01_delta:
            return self.test01_delta[metric]
        return 0.1 if "99.9" in self.name else 1.0


@dataclass(frozen=True)
class Layout:
    """Where every piece of one round's submission tree goes, relative to <division>/<submitter>/.

    `family` "v5" is the code/measurements/results/compliance layout (v4.0 ... v5.1), "v6" the
    src/results/<scenario>/TESTxx layout (v6.0, v6.1)."""

    family: str
    measurement_files: tuple[str, ...]  # required beside the measurements json
    calibration_required: bool = False  # calibration.md or documentation/calibration.md (closed)

    perf_files = ("mlperf_log_summary.txt", "mlperf_log_detail.txt")
    perf_optional_files = ("mlperf_log_accuracy.json",)
    acc_files = ("mlperf_log_summary.txt", "mlperf_log_detail.txt", "mlperf_log_accuracy.json", "accuracy.txt")
    ignored_files = ("mlperf_log_trace.json", "results.json", ".gitkeep")
    exact_file_lists = property(lambda self: self.family == "v5")

    @property
    def v6(self) -> bool:
        return self.family == "v6"

    def system_file(self, system: str) -> P:
        return P("systems", f"{system}.json")

    def scenario_dir(self, system: str, model: str, scenario: str) -> P:
        return P("results", system, model, scenario)

    def mode_dir(self, system: str, model: str, scenario: str, mode: str) -> P:
        """mode: performance or accuracy (performance logs go one level down, in run_1/)."""
        return self.scenario_dir(system, model, scenario) / mode

    def perf_run_dir(self, system: str, model: str, scenario: str) -> P:
        return self.mode_dir(system, model, scenario, "performance") / "run_1"

    def meta_dir(self, system: str, model: str, scenario: str) -> P:
        """Holds the measurements json, user.conf and README.md."""
        if self.v6:
            return self.scenario_dir(system, model, scenario)
        return P("measurements", system, model, scenario)

    def measurements_file(self, system: str, model: str, scenario: str, implementation: str) -> P:
        """v6: measurements.json; v5: <system>_<implementation>_<scenario>.json (the checker takes the
        first json there whose name starts with the system name)."""
        name = "measurements.json" if self.v6 else f"{system}_{implementation}_{scenario}.json"
        return self.meta_dir(system, model, scenario) / name

    def compliance_dir(self, system: str, model: str, scenario: str, test: str) -> P:
        if self.v6:
            return self.scenario_dir(system, model, scenario) / test
        return P("compliance", system, model, scenario) / test

    def src_dir(self, model: str, implementation: str) -> P:
        """Where the implementation's code is written."""
        return P("src", model) if self.v6 else P("code", model, implementation)

    def code_required(self, model: str) -> P:
        """The directory whose presence the checker requires."""
        return P("src") if self.v6 else P("code", model)


@dataclass(frozen=True)
class Round:
    """One MLPerf Inference round: what its official checker and compliance folder require."""

    version: str
    source: str  # which official checker the facts come from
    seeds: Seeds
    # PyPI mlcommons-loadgen versions whose built-in mlperf.conf carries this round's seeds
    loadgen_versions: tuple[str, ...]
    loadgen_pin: str | None
    models: tuple[str, ...]  # every benchmark of the round (canonical names)
    benchmarks: Mapping[str, Benchmark]  # the ones whose rules are transcribed here
    model_mapping: Mapping[str, str]  # alias -> canonical, the round's checker table
    acc_patterns: Mapping[str, str]  # metric key -> regex (re.match on each accuracy.txt line)
    layout: Layout
    audit_configs: Mapping[tuple[str, str | None], tuple[tuple[str, str], ...]]  # (test, TEST01 dir) -> keys
    compliance_root: str  # where the audit.config files live in mlcommons/inference at this round
    system_fields: tuple[str, ...]
    result_fields: Mapping[str, str]  # scenario -> the detail-log key holding the result
    test05_seeds: Seeds | None = None
    dataset_size_checked: bool = True
    server_or_interactive_required: bool = False  # both optional -> at least one present
    min_duration_ms: int = 600_000

    # -- lookups -------------------------------------------------------------------------------------------
    def canonical(self, model: str) -> str | None:
        """The round's benchmark name for a model name (canonical, alias, or one of mlperfctl's)."""
        from .names import resolve

        return resolve(self, model)

    def benchmark(self, model: str) -> Benchmark | None:
        """The benchmark's rules, resolving aliases and mlperfctl's model names; None when absent."""
        name = self.canonical(model)
        return self.benchmarks.get(name) if name else None

    def _need(self, model: str) -> Benchmark:
        bench = self.benchmark(model)
        if bench is None:
            known = ", ".join(sorted(self.benchmarks))
            raise KeyError(f"{model} has no rules in {self.version} (transcribed: {known})")
        return bench

    def required_scenarios(self, model: str, system_type: str) -> tuple[str, ...] | None:
        """Scenarios a closed submission must have; None when the model is not allowed for the system type."""
        return self._need(model).required.get(_system_key(system_type))

    def optional_scenarios(self, model: str, system_type: str) -> tuple[str, ...]:
        return self._need(model).optional.get(_system_key(system_type), ())

    def listed_scenarios(self, model: str, system_type: str | None = None) -> tuple[str, ...]:
        """Every scenario the round lists for the model on the system type, required or optional (`system_type`
        None: on any), in SCENARIOS order; () when the model has no rules here."""
        bench = self.benchmark(model)
        if bench is None:
            return ()
        keys = [_system_key(system_type)] if system_type is not None else list(set(SYSTEM_TYPES.values()))
        found = {s for k in keys for table in (bench.required, bench.optional) for s in table.get(k, ())}
        return tuple(s for s in SCENARIOS if s in found)

    def one_of_scenarios(self, model: str, system_type: str) -> tuple[str, ...]:
        """Scenarios of which at least one must be present (Server/Interactive when both are optional)."""
        optional = set(self.optional_scenarios(model, system_type))
        if self.server_or_interactive_required and {SRV, INT} <= optional:
            return (SRV, INT)
        return ()

    def compliance_tests(self, model: str) -> tuple[str, ...]:
        return self._need(model).compliance

    def accuracy_targets(self, model: str) -> tuple[Metric, ...]:
        return self._need(model).accuracy

    def audit_config(self, test: str, model: str | None = None) -> dict[str, str]:
        """The keys of the test's audit.config (TEST01: the model's own file)."""
        key = (test, self._need(model).test01_audit_dir if test == "TEST01" else None)
        if key not in self.audit_configs:
            raise KeyError(f"no {test} audit.config for {model} in {self.version}")
        return dict(self.audit_configs[key])

    def audit_config_text(self, test: str, model: str | None = None) -> str:
        """audit.config as LoadGen reads it from the working directory."""
        return "".join(f"{k} = {v}\n" for k, v in self.audit_config(test, model).items())

    def audit_config_source(self, test: str, model: str | None = None) -> str:
        """The file's path in mlcommons/inference at this round."""
        sub = f"/{self._need(model).test01_audit_dir}" if test == "TEST01" else ""
        return f"{self.compliance_root}/{test}{sub}/audit.config"

    def result_field(self, model: str | None, scenario: str) -> str | None:
        """The detail-log key of the scenario's result (tokens per second for LLMs where the round says so). An
        Interactive result is a LoadGen Server run's: the checker looks its key up by the log's effective scenario
        (Server), so Interactive takes Server's key wherever no Interactive one is given."""
        bench = self.benchmark(model) if model else None
        chain = (scenario, SRV) if scenario == INT else (scenario,)
        for table in ((bench.result_fields if bench is not None else {}), self.result_fields):
            for name in chain:
                if name in table:
                    return table[name]
        return None

    def dataset_size(self, model: str) -> int:
        bench = self._need(model)
        return bench.accuracy_sample_count or bench.dataset_size


def _system_key(system_type: str) -> str:
    try:
        return SYSTEM_TYPES[system_type]
    except KeyError:
        raise ValueError(f"unknown system_type '{system_type}' (choose: {', '.join(SYSTEM_TYPES)})") from None


@dataclass(frozen=True)
class RoundChoice:
    """The round a run or a tree is for, resolved once (mlperf_rules.resolve) and passed everywhere as this value:
    `submission` is the round of the tree (its layout, seeds and checker), `rules` the round whose benchmark rules
    apply to the model (gptj-99 under --version v6.1: v5.0; None when no round has rules for it), `loadgen` the
    LoadGen the image is built with (the submission round's pin when the round was asked for, else None: the
    matrix's), `explicit` whether it was asked for."""

    submission: Round
    rules: Round | None
    loadgen: str | None
    explicit: bool = False

    @property
    def version(self) -> str:
        return self.submission.version

    @property
    def rules_version(self) -> str | None:
        return self.rules.version if self.rules else None

    @property
    def pin(self) -> str | None:
        """The LoadGen release whose built-in seeds are the submission round's (None: v4.0 has none)."""
        return self.submission.loadgen_pin

    def __repr__(self) -> str:
        return (f"RoundChoice({self.version}, rules={self.rules_version}, loadgen={self.loadgen}, "
                f"explicit={self.explicit})")

    def as_dict(self) -> dict:
        return {"round": self.version, "rules_round": self.rules_version, "loadgen_pin": self.pin,
                "explicit": self.explicit}
