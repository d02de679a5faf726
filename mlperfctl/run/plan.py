"""Plan a run: the cell (defaults: the built-in harness, the detected device, the model's first
backend), the scenarios (`all`: what the category requires), the modes, and each scenario's
target. Every option and target/scenario combination is checked here: one line, exit 2,
before any image is built or container started."""

from __future__ import annotations

import math
import os
import shutil
from dataclasses import dataclass, field

import mlperf_rules
from mlperf_harness import workloads
from mlperf_harness.errors import UsageError

from ..errors import UserError, choices
from ..matrix import SCENARIOS, Cell, LoadedMatrix
from ..options import RunOptions
from .rulebook import check_scenario, required_scenarios

MODES = ("performance", "accuracy")
EXECUTION_MODES = ("test", "fast", "valid")
CATEGORIES = tuple(mlperf_rules.SYSTEM_TYPES)  # edge, datacenter, datacenter,edge (or edge,datacenter)
DIVISIONS = ("open", "closed")
QPS_SCENARIOS = ("Offline", "Server", "Interactive")  # Interactive: a LoadGen Server run (the round's LLM limits)
LATENCY_SCENARIOS = ("SingleStream", "MultiStream")
# scenario -> (RunOptions field, flag): the CM names of the per-scenario targets
PER_SCENARIO = {
    "Offline": ("offline_target_qps", "--offline-target-qps"),
    "Server": ("server_target_qps", "--server-target-qps"),
    "Interactive": ("interactive_target_qps", "--interactive-target-qps"),
    "SingleStream": ("singlestream_target_latency", "--singlestream-target-latency"),
    "MultiStream": ("multistream_target_latency", "--multistream-target-latency"),
}
POSITIVE = {"target_qps": "--target-qps", "target_latency": "--target-latency",
            **{f: flag for f, flag in PER_SCENARIO.values()},
            "performance_sample_count": "--performance-sample-count", "test_query_count": "--test-query-count",
            "count": "--count", "threads": "--threads", "batch_size": "--batch-size",
            "tensor_parallel": "--tensor-parallel"}


@dataclass(frozen=True)
class Target:
    """A scenario's target: `--target-qps` (Offline, Server, Interactive) or `--target-latency` ms (SS, MS)."""

    flag: str       # the harness option: --target-qps | --target-latency
    value: float


@dataclass(frozen=True)
class RunPlan:
    cell: Cell
    scenarios: list[str]
    modes: list[str]
    precision: str
    model_file: str
    workload: workloads.Workload | None  # the harness's declaration (None: an external implementation's cell)
    targets: dict[str, Target] = field(default_factory=dict)  # scenarios without one: none given


def _one_of(value, allowed, what):
    if value not in allowed:
        raise UserError(f"unknown {what} '{value}' {choices(allowed)}")


def detect_device() -> str:
    """cuda when nvidia-smi answers, rocm when /dev/kfd exists, else cpu."""
    if shutil.which("nvidia-smi") and os.path.exists("/dev/nvidiactl"):
        return "cuda"
    if os.path.exists("/dev/kfd"):
        return "rocm"
    return "cpu"


def scenario_targets(opts: RunOptions, scenarios: list[str]) -> dict[str, Target]:
    """Each scenario's target: its own option wins, else the general one that fits it
    (--target-qps: Offline, Server and Interactive; --target-latency: SingleStream and MultiStream).
    An option that fits none of the run's scenarios is an error, not a silent no-op."""
    for name, flag in POSITIVE.items():
        value = getattr(opts, name)
        if value is not None and not value > 0:
            raise UserError(f"{flag} {value}: must be positive")
        if value is not None and not math.isfinite(value):
            raise UserError(f"{flag} {value}: must be a finite number")
    which = ", ".join(scenarios)
    for scenario, (name, flag) in PER_SCENARIO.items():
        if getattr(opts, name) is not None and scenario not in scenarios:
            raise UserError(f"{flag} is for {scenario}, which this run does not include ({which}); "
                            f"drop it, or pass --scenario {scenario} (or all, where the category has it)")
    for name, flag, fits, other in (("target_qps", "--target-qps", QPS_SCENARIOS, "--target-latency"),
                                    ("target_latency", "--target-latency", LATENCY_SCENARIOS, "--target-qps")):
        if getattr(opts, name) is not None and not any(s in fits for s in scenarios):
            raise UserError(f"{flag} applies to {', '.join(fits[:-1])} and {fits[-1]}, not {which}: use {other}")
    targets = {}
    for scenario in scenarios:
        own = getattr(opts, PER_SCENARIO[scenario][0])
        general = opts.target_qps if scenario in QPS_SCENARIOS else opts.target_latency
        value = own if own is not None else general
        if value is not None:
            targets[scenario] = Target("--target-qps" if scenario in QPS_SCENARIOS else "--target-latency",
                                       float(value))
    return targets


def plan(lm: LoadedMatrix, opts: RunOptions) -> RunPlan:
    m = lm.matrix
    _one_of(opts.model, m.models, "model")
    _one_of(opts.mode, (*MODES, "all"), "mode")
    _one_of(opts.execution_mode, EXECUTION_MODES, "execution mode")
    _one_of(opts.category, CATEGORIES, "category")
    _one_of(opts.division, DIVISIONS, "division")
    if opts.division == "closed" and opts.model in mlperf_rules.OPEN_ONLY:
        raise UserError(f"{opts.model} is an open-division model (it stands in for resnet through "
                        f"model_mapping.json): use --division open")
    model = m.models[opts.model]
    if opts.scenario == "all":
        scenarios = required_scenarios(opts.round, opts.model, opts.category)  # the round's rulebook
    else:
        _one_of(opts.scenario, SCENARIOS, "scenario")
        check_scenario(opts.round, opts.model, opts.scenario)  # Interactive: only where the round lists it
        scenarios = [opts.scenario]
    implementation = opts.implementation or builtin(lm)
    _one_of(implementation, m.implementations, "implementation")
    if m.implementations[implementation].kind == "external":
        raise UserError(f"{implementation} is an external implementation: `mlperfctl run` cannot drive external "
                        f"implementations yet (build its image with `mlperfctl build --implementation "
                        f"{implementation}`, or drop --implementation for the built-in harness)")
    filters = {"model": [opts.model], "implementation": [implementation],
               "device": [opts.device or detect_device()]}
    if opts.backend:
        filters["backend"] = [opts.backend]
    cells = lm.select(filters)
    if not cells:
        wanted = "-".join(filters.get(a, ["*"])[0] for a in ("implementation", "backend", "device", "model"))
        raise UserError(f"no cell {wanted} in the matrix (see `mlperfctl matrix explain` "
                        f"or `mlperfctl matrix list --model {opts.model}`)")
    cell = cells[0]  # matrix order: the first backend the model lists is the default
    workload = harness_workload(lm, cell)
    precision = opts.precision or workload.precisions(cell.device, cell.backend)[0]
    _one_of(precision, model.precisions, f"precision for {opts.model}")
    try:
        for scenario in scenarios:
            workload.check(cell.model, cell.device, cell.backend, precision, scenario)
        model_file = workload.model_file(cell.backend)
    except UsageError as e:
        raise UserError(str(e)) from None
    modes = list(MODES) if opts.mode == "all" else [opts.mode]
    targets = scenario_targets(opts, scenarios)
    return RunPlan(cell, scenarios, modes, precision, model_file, workload, targets)


def harness_workload(lm: LoadedMatrix, cell: Cell) -> workloads.Workload:
    """The harness's declaration for the cell's model: what it runs (backends, precisions, scenarios per
    device), its dataset layout and model files. A model the harness does not implement is refused here."""
    m = lm.matrix
    if not m.models[cell.model].implemented or cell.model not in workloads.WORKLOADS:
        done = ", ".join(n for n, x in m.models.items() if x.implemented)
        raise UserError(f"{cell.model} is not implemented by the built-in harness yet (implemented: {done})")
    return workloads.get(cell.model)


def builtin(lm: LoadedMatrix) -> str:
    return next(n for n, i in lm.matrix.implementations.items() if i.kind == "builtin")
