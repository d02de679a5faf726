"""The round is resolved once: mlperf_rules.resolve is the one way from a round's name to the rounds a run uses
(the submission round, the rules round, the LoadGen pin), called in one place on the host (options.resolve_round)
and one in the harness; no other module looks a round up by name itself."""

import re
from pathlib import Path

import pytest

import mlperf_rules

ROOT = Path(__file__).resolve().parent.parent
LOOKUPS = re.compile(r"\b(get_round|rules_round|latest_closed_round)\(|\bROUNDS\[|\bROUNDS\.get\(")
RESOLVE = re.compile(r"\bmlperf_rules\.resolve\(")


def sources(package: str) -> dict[str, str]:
    return {str(p.relative_to(ROOT)): p.read_text() for p in sorted((ROOT / package).rglob("*.py"))}


def test_no_module_looks_a_round_up_by_name_itself():
    found = [f"{path}:{text[:m.start()].count(chr(10)) + 1}: {m.group(0)}"
             for package in ("mlperfctl", "mlperf_harness") for path, text in sources(package).items()
             for m in LOOKUPS.finditer(text)]
    assert found == []


def test_one_place_resolves_the_round_on_the_host_and_one_in_the_harness():
    host = [path for path, text in sources("mlperfctl").items() if RESOLVE.search(text)]
    harness = [path for path, text in sources("mlperf_harness").items() if RESOLVE.search(text)]
    assert host == ["mlperfctl/options.py"]
    assert len(harness) == 1, harness


def test_resolve_carries_the_submission_round_the_rules_round_and_the_pin():
    c = mlperf_rules.resolve("v6.1", "gptj-99")  # gptj-99 was last closed in v5.0
    assert (c.version, c.rules_version, c.pin, c.loadgen, c.explicit) == ("v6.1", "v5.0", "6.0.17", "6.0.17", True)
    assert c.submission.layout.v6 and not mlperf_rules.resolve("v5.1").submission.layout.v6
    d = mlperf_rules.resolve(None, "rnnt")  # no --version: the model's newest closed round, the matrix's LoadGen
    assert (d.version, d.rules_version, d.loadgen, d.explicit) == ("v4.0", "v4.0", None, False)
    assert mlperf_rules.resolve(None).version == mlperf_rules.LATEST
    with pytest.raises(KeyError, match="unknown MLPerf round 'v3.9'"):
        mlperf_rules.resolve("v3.9", "resnet50")
