"""The MLPerf Inference rulebook: what each round's official checker and compliance folder require.

Pure data plus small functions, standard library only: imported by mlperfctl on the host and copied
into the containers for the harness (which imports nothing of mlperfctl). One module per round
(v4_0 ... v6_1) fills in the dataclasses of `types`; `common` holds what rounds share.

    import mlperf_rules
    choice = mlperf_rules.resolve("v6.1", "gptj-99")   # the one way from a round's name to its rules
    choice.submission.layout; choice.rules.version      # "v5.0": gptj-99's newest round with rules
    rnd = choice.submission
    rnd.seeds.as_dict(); rnd.benchmark("resnet50").compliance; rnd.required_scenarios("resnet50", "edge")
    mlperf_rules.latest_closed_round("gptj-99")   # "v5.0"
"""

from __future__ import annotations

import re

from . import common, v4_0, v4_1, v5_0, v5_1, v6_0, v6_1
from .common import MAX_ACCURACY_LOG_SIZE, MEASUREMENT_FIELDS, SYSTEM_FIELDS, SYSTEM_FIELDS_NON_EMPTY
from .names import OPEN_ONLY, OUR_MODELS
from .types import (  # noqa: E501
    INT,
    MS,
    OFF,
    SCENARIOS,
    SEED_KEYS,
    SRV,
    SS,
    SYSTEM_TYPES,
    Benchmark,
    Layout,
    Metric,
    Round,
    RoundChoice,
    Seeds,
)

__all__ = [
    "ROUNDS", "LATEST", "versions", "resolve", "RoundChoice", "get_round", "latest_closed_round", "rules_round",
    "round_for_loadgen",
    "accuracy_values", "accuracy_check", "Round", "Benchmark", "Metric", "Layout", "Seeds", "OUR_MODELS",
    "OPEN_ONLY", "SCENARIOS", "SYSTEM_TYPES", "SEED_KEYS", "SS", "MS", "OFF", "SRV", "INT", "SYSTEM_FIELDS",
    "SYSTEM_FIELDS_NON_EMPTY", "MEASUREMENT_FIELDS", "MAX_ACCURACY_LOG_SIZE", "common",
]

# version -> Round, newest first
ROUNDS: dict[str, Round] = {r.version: r for r in (v6_1.ROUND, v6_0.ROUND, v5_1.ROUND, v5_0.ROUND, v4_1.ROUND,
                                                    v4_0.ROUND)}
LATEST = "v6.1"


def versions() -> tuple[str, ...]:
    """Every round in the rulebook, newest first."""
    return tuple(ROUNDS)


def get_round(version: str) -> Round:
    try:
        return ROUNDS[version]
    except KeyError:
        raise KeyError(f"unknown MLPerf round '{version}' (choose: {', '.join(ROUNDS)})") from None


def latest_closed_round(model: str) -> str | None:
    """The newest round in which `model` (ours or canonical) is a closed benchmark with rules here."""
    if model in OPEN_ONLY:
        return None
    return next((r.version for r in ROUNDS.values() if r.benchmark(model) is not None), None)


def rules_round(model: str, version: str | None = None) -> Round | None:
    """The round whose rules apply to `model`: `version` if the model is a benchmark there, else the newest
    round where it is one (gptj-99 -> v5.0); None when no round has rules for it."""
    if version is not None and get_round(version).benchmark(model) is not None:
        return ROUNDS[version]
    latest = latest_closed_round(model)
    if latest is None and model in OPEN_ONLY:
        latest = next((r.version for r in ROUNDS.values() if r.benchmark(model) is not None), None)
    return ROUNDS[latest] if latest else None


def resolve(version: str | None, model: str | None = None) -> RoundChoice:
    """The one way from a round's name to the rounds a run or tree uses. `version` None: the model's default,
    the newest round in which it is a closed benchmark (rnnt: v4.0, gptj-99: v5.0), else the latest round; the
    LoadGen is then the matrix's (None). An unknown round is a KeyError naming the choices."""
    explicit = version is not None
    if version is None:
        version = latest_closed_round(model) if model else None
        version = version or LATEST
    submission = get_round(version)
    rules = rules_round(model, version) if model else submission
    return RoundChoice(submission, rules, submission.loadgen_pin if explicit else None, explicit)


def round_for_loadgen(loadgen_version: str) -> Round | None:
    """The round whose seeds LoadGen `loadgen_version` has built in (None: another round's or none)."""
    return next((r for r in ROUNDS.values() if loadgen_version in r.loadgen_versions), None)


def accuracy_values(rnd: Round, model: str, text: str) -> dict[str, float | None]:
    """Each accuracy metric of the model as accuracy.txt states it (the first matching line), or None."""
    found: dict[str, float | None] = {}
    lines = text.splitlines()
    for metric in rnd.accuracy_targets(model):
        pattern = re.compile(rnd.acc_patterns[metric.key])
        found[metric.key] = next((float(m.group(1)) for line in lines if (m := pattern.match(line.strip()))), None)
    return found


def accuracy_check(rnd: Round, model: str, accuracy_txt: str, scenario: str | None = None, *,
                   division: str = "closed") -> list[str]:
    """Problems of accuracy.txt against the round's targets (a missing value is one in every division; the
    bounds apply to the closed division). `scenario` is reserved for per-scenario targets."""
    problems = []
    values = accuracy_values(rnd, model, accuracy_txt)
    for metric in rnd.accuracy_targets(model):
        value = values[metric.key]
        if value is None:
            problems.append(f"no {metric.key} value found (expected a line matching "
                            f"{rnd.acc_patterns[metric.key]!r})")
            continue
        if division != "closed":
            continue
        if metric.target is not None and value < metric.target:
            problems.append(f"{metric.key}={value:g} is below the target {metric.target:.4f}")
        if metric.upper is not None and value > metric.upper:
            problems.append(f"{metric.key}={value:g} is above the upper limit {metric.upper:.4f}")
    return problems
