"""What the rulebook of the chosen round asks of a run: the scenarios of a category (`--scenario all`
and `run --submission`) and the compliance tests. mlperf_rules is the only source; the matrix's
per-model scenario lists are not used for this."""

from __future__ import annotations

import mlperf_rules

from ..errors import UserError


def rules_round(model: str, version: str) -> mlperf_rules.Round:
    """The round whose rules apply to `model` for `--version` (the newest with rules if that one has none)."""
    try:
        rnd = mlperf_rules.rules_round(model, version)
    except KeyError as e:
        raise UserError(str(e.args[0])) from None
    if rnd is None:
        raise UserError(f"no MLPerf round has closed-division rules for {model} (the rulebook lists the "
                        f"scenarios and compliance tests): pick one --scenario")
    return rnd


def required_scenarios(model: str, version: str, category: str) -> list[str]:
    """The scenarios the round requires of `model` on an `category` system: the required ones, plus the first
    of a one-of group (Server where Server or Interactive must be present), in the rulebook's order."""
    rnd = rules_round(model, version)
    required = _category_scenarios(rnd, model, category)
    if not required:
        # the checker looks a system type up in its own list only: a benchmark listed under datacenter,edge
        # alone (retinanet in v6.0) is neither an edge nor a datacenter benchmark
        others = [c for c in ("edge", "datacenter", "datacenter,edge")
                  if mlperf_rules.SYSTEM_TYPES[c] != mlperf_rules.SYSTEM_TYPES[category]
                  and _category_scenarios(rnd, model, c)]
        fix = (f"try --category {' or '.join(others)}" if others
               else "no category has it: pick one --scenario")
        raise UserError(f"{model} has no {category} scenarios in {rnd.version} ({fix})")
    return required


def _category_scenarios(rnd: mlperf_rules.Round, model: str, category: str) -> list[str]:
    required = list(rnd.required_scenarios(model, category) or ())
    one_of = rnd.one_of_scenarios(model, category)
    if one_of and not set(one_of) & set(required):
        required.append(one_of[0])
    return required


def round_loadgen(version: str) -> str | None:
    """The LoadGen a `version` result is built with: the round's pin (the PyPI mlcommons-loadgen whose built-in
    seeds are that round's), or None for a round without one (v4.0: the matrix's LoadGen)."""
    try:
        return mlperf_rules.get_round(version).loadgen_pin
    except KeyError as e:
        raise UserError(f"--version: {e.args[0]}") from None


def pinned_rounds() -> str:
    return ", ".join(f"{r.version}: {r.loadgen_pin}" for r in mlperf_rules.ROUNDS.values() if r.loadgen_pin)


def no_pin_line(version: str, fix: str) -> str:
    """The one line for a round without a LoadGen of its own (v4.0), ending in what to do."""
    return (f"--version {version}: no LoadGen release carries {version}'s seeds (LoadGen {version[1:]} read them "
            f"from the round's mlperf.conf), so mlperfctl cannot make a {version} submission; {fix}")


def build_loadgen(version: str | None, default_loadgen: str) -> str | None:
    """`build`/`lock`/`images --version`: the round's pinned LoadGen (None: the matrix's); a round without a pin
    is refused in one line."""
    if version is None:
        return None
    pin = round_loadgen(version)
    if pin is None:
        raise UserError(no_pin_line(version, f"drop --version (LoadGen {default_loadgen}) or pick a round with a "
                                             f"LoadGen pin ({pinned_rounds()})"))
    return pin


def submission_loadgen(model: str, version: str) -> str:
    """`run --submission`: the LoadGen of round `version`, whose seeds its results must carry; a round without
    one is refused in one line."""
    pin = round_loadgen(version)
    if pin is None:
        newer = [r.version for r in mlperf_rules.ROUNDS.values() if r.loadgen_pin and r.benchmark(model)]
        fix = (f"pick --version {' or '.join(newer)} (where {model} is a benchmark)" if newer
               else f"{model} is a closed benchmark only of rounds without a LoadGen pin")
        raise UserError(no_pin_line(version, fix + ", or run without --submission"))
    return pin
