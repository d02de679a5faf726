"""What the rulebook of the chosen round asks of a run: the scenarios of a category (`--scenario all`
and `run --submission`) and the LoadGen a round's image is built with. The round arrives resolved
(options.resolve_round); mlperf_rules is the only source, the matrix's per-model scenario lists are not used."""

from __future__ import annotations

import mlperf_rules

from ..errors import UserError


def required_scenarios(choice: mlperf_rules.RoundChoice, model: str, category: str) -> list[str]:
    """The scenarios of `--scenario all` (and `run --submission`) for `model` on an `category` system: the ones
    the round requires, then every optional one it lists for the category (llama2-70b from v5.1 on: Offline, then
    Server and Interactive, of which the checker wants at least one), so the tree has each scenario the round
    offers; a single --scenario picks one."""
    rnd = choice.rules
    if rnd is None:
        raise UserError(f"no MLPerf round has closed-division rules for {model} (the rulebook lists the "
                        f"scenarios and compliance tests): pick one --scenario")
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
    required = rnd.required_scenarios(model, category)
    if required is None:
        return []
    scenarios = list(required)
    optional = rnd.optional_scenarios(model, category)
    scenarios += [s for s in mlperf_rules.SCENARIOS if s in optional and s not in scenarios]
    return scenarios  # holds the one-of group (Server or Interactive), which is optional scenarios


def check_scenario(choice: mlperf_rules.RoundChoice, model: str, scenario: str) -> None:
    """A scenario only some rounds have (Interactive: llama2-70b from v5.1 on) is refused in one line when the
    round whose rules apply to the model does not list it for the model."""
    if scenario != mlperf_rules.INT:
        return
    rnd = choice.rules
    if rnd is not None and scenario in rnd.listed_scenarios(model):
        return
    where = rnd.version if rnd is not None else choice.version
    has = [r.version for r in reversed(mlperf_rules.ROUNDS.values()) if scenario in r.listed_scenarios(model)]
    if has:
        fix = f"pick --version {' or '.join(has)}, or --scenario Server"
    else:
        fix = f"no round lists it for {model}: pick another --scenario"
    raise UserError(f"--scenario {scenario}: {model} has no {scenario} scenario in {where} ({fix})")


def pinned_rounds() -> str:
    return ", ".join(f"{r.version}: {r.loadgen_pin}" for r in mlperf_rules.ROUNDS.values() if r.loadgen_pin)


def no_pin_line(version: str, fix: str) -> str:
    """The one line for a round without a LoadGen of its own (v4.0), ending in what to do."""
    return (f"--version {version}: no LoadGen release carries {version}'s seeds (LoadGen {version[1:]} read them "
            f"from the round's mlperf.conf), so mlperfctl cannot make a {version} submission; {fix}")


def build_loadgen(choice: mlperf_rules.RoundChoice | None, default_loadgen: str) -> str | None:
    """`build`/`lock`/`images --version`: the round's pinned LoadGen (None: no --version, the matrix's); a round
    without a pin is refused in one line."""
    if choice is None:
        return None
    if choice.pin is None:
        raise UserError(no_pin_line(choice.version, f"drop --version (LoadGen {default_loadgen}) or pick a round "
                                                    f"with a LoadGen pin ({pinned_rounds()})"))
    return choice.pin


def submission_loadgen(choice: mlperf_rules.RoundChoice, model: str) -> str:
    """`run --submission`: the LoadGen of the submission round, whose seeds its results must carry (also when
    --version was not given: the model's default round); a round without one is refused in one line."""
    if choice.pin is None:
        newer = [r.version for r in mlperf_rules.ROUNDS.values() if r.loadgen_pin and r.benchmark(model)]
        fix = (f"pick --version {' or '.join(newer)} (where {model} is a benchmark)" if newer
               else f"{model} is a closed benchmark only of rounds without a LoadGen pin")
        raise UserError(no_pin_line(choice.version, fix + ", or run without --submission"))
    return choice.pin
