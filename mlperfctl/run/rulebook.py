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
    required = list(rnd.required_scenarios(model, category) or ())
    one_of = rnd.one_of_scenarios(model, category)
    if one_of and not set(one_of) & set(required):
        required.append(one_of[0])
    if not required:
        other = "datacenter" if category == "edge" else "edge"
        raise UserError(f"{model} has no {category} scenarios in {rnd.version} (try --category {other})")
    return required
