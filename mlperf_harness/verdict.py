"""The round a run is for, and its one accuracy verdict.

`choose(version, model)` turns --version into a mlperf_rules.RoundChoice (the one call to mlperf_rules.resolve in
the harness); the run skeleton hands it to the family's Runner (`Runner.round`) for anything round-dependent.
`judge(choice, model, accuracy_txt)` is result.json's "accuracy_verdict": the closed-division targets of the
round whose rules apply to the model, the values accuracy.txt states and whether they meet them."""

import mlperf_rules

from .errors import UsageError


def choose(version: str | None, model: str) -> "mlperf_rules.RoundChoice":
    """The RoundChoice of --version (None: the model's default round), or a one-line UsageError."""
    try:
        return mlperf_rules.resolve(version, model)
    except KeyError:
        raise UsageError(
            f"--version {version} is not a known MLPerf round", f"use one of {', '.join(mlperf_rules.versions())}"
        ) from None


def judge(choice: "mlperf_rules.RoundChoice", model: str, accuracy_txt: str) -> dict:
    """{"round", "rules_round", "targets": [{"key", "target", "upper"}], "values", "pass", "problems"}; pass is
    None and targets empty when no round has accuracy rules for the model."""
    rnd = choice.rules
    targets = rnd.accuracy_targets(model) if rnd is not None else ()
    verdict: dict = {"round": choice.version, "rules_round": choice.rules_version, "targets": [], "values": {},
                     "pass": None, "problems": []}  # fmt: skip
    if not targets:
        return verdict
    problems = mlperf_rules.accuracy_check(rnd, model, accuracy_txt, division="closed")
    verdict.update(
        targets=[{"key": m.key, "target": m.target, "upper": m.upper} for m in targets],
        values=mlperf_rules.accuracy_values(rnd, model, accuracy_txt),
        problems=problems,
    )
    verdict["pass"] = not problems
    return verdict


def line(verdict: dict) -> str:
    """One line for the console: the round, each value against its bounds, PASS or FAIL."""
    where = verdict["round"] + (
        f" (rules of {verdict['rules_round']})" if verdict["rules_round"] != verdict["round"] else ""
    )
    if verdict["pass"] is None:
        return f"accuracy verdict ({where}): no accuracy targets for this model"
    parts = []
    for t in verdict["targets"]:
        bounds = " and ".join(b for b in (t["target"] is not None and f">= {t['target']:.4f}",
                                          t["upper"] is not None and f"<= {t['upper']:.4f}") if b)  # fmt: skip
        parts.append(f"{t['key']}={verdict['values'].get(t['key'])} ({bounds})")
    return f"accuracy verdict ({where}): {'; '.join(parts)}: {'PASS' if verdict['pass'] else 'FAIL'}"
