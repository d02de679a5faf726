"""user.conf per execution mode, checked against LoadGen's own reading of it."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.loadgen import settings

ROOT = Path(__file__).resolve().parents[2]


def rs(**over) -> settings.RunSettings:
    base = dict(
        model="resnet50", scenario="Offline", mode="performance", execution_mode="valid",
        target_qps=None, target_latency_ms=None, performance_sample_count=None,
    )  # fmt: skip
    return settings.RunSettings(**{**base, **over})


def effective(run: settings.RunSettings, tmp_path):
    conf = tmp_path / "user.conf"
    conf.write_text(settings.user_conf(run))
    return settings.test_settings(run, conf)


def test_official_rules_come_from_loadgen():
    rules = settings.official("resnet50", "Offline")
    assert (rules.min_duration_ms, rules.min_query_count, rules.performance_sample_count) == (600000, 24576, 1024)


def test_valid_keeps_the_rules(tmp_path):
    s = effective(rs(target_qps=250), tmp_path)
    assert (s.min_duration_ms, s.min_query_count, s.offline_expected_qps) == (600000, 24576, 250)
    assert s.performance_sample_count_override == 1024


def test_fast_is_a_tenth(tmp_path):
    s = effective(rs(execution_mode="fast", scenario="MultiStream", target_latency_ms=50), tmp_path)
    assert (s.min_duration_ms, s.min_query_count) == (60000, 66)
    assert s.multi_stream_expected_latency_ns == 50_000_000


def test_test_mode_is_seconds(tmp_path):
    s = effective(rs(execution_mode="test", scenario="SingleStream", performance_sample_count=32), tmp_path)
    assert (s.min_duration_ms, s.min_query_count, s.performance_sample_count_override) == (1000, 64, 32)


@pytest.mark.parametrize(
    "over,needle",
    [
        ({"performance_sample_count": 100}, "performance samples"),
        ({"scenario": "Server"}, "--target-qps"),
        ({"scenario": "Server", "target_qps": 5, "target_latency_ms": 100}, "latency bound"),
        ({"scenario": "SingleStream", "target_qps": 5}, "does not apply"),
        ({"scenario": "Batch"}, "unknown scenario"),
    ],
)
def test_rejected(over, needle):
    with pytest.raises(UsageError, match=needle):
        settings.user_conf(rs(**over))


@pytest.mark.parametrize("execution_mode", ["test", "fast"])
def test_test_query_count_replaces_the_min_query_count(tmp_path, execution_mode):
    run = rs(execution_mode=execution_mode, scenario="SingleStream", test_query_count=7, performance_sample_count=9)
    assert "resnet50.SingleStream.min_query_count = 7" in settings.user_conf(run)
    s = effective(run, tmp_path)
    assert (s.min_query_count, s.performance_sample_count_override) == (7, 9)


def test_test_query_count_replaces_a_workloads_own_test_counts():
    run = rs(execution_mode="test", test_query_count=3)
    assert "resnet50.Offline.min_query_count = 3" in settings.user_conf(run, {"Offline": 4})
    assert "resnet50.Offline.min_query_count = 4" in settings.user_conf(rs(execution_mode="test"), {"Offline": 4})


@pytest.mark.parametrize(
    "over,needle",
    [
        ({"test_query_count": 5}, "min query count of a valid run"),
        ({"execution_mode": "test", "test_query_count": 0}, "--test-query-count 0 must be positive"),
        ({"execution_mode": "test", "performance_sample_count": 0}, "--performance-sample-count 0 must be positive"),
    ],
)
def test_new_options_rejected(over, needle):
    with pytest.raises(UsageError, match=needle):
        settings.user_conf(rs(**over))


def fresh_effective(run: settings.RunSettings, where) -> dict:
    """The TestSettings LoadGen makes of the run's user.conf in a process of its own: LoadGen layers its built-in
    mlperf.conf under a user.conf only in the first FromConfig of a process (as in a harness run)."""
    where.mkdir(parents=True)
    (where / "user.conf").write_text(settings.user_conf(run))
    code = (
        "import json, sys; from mlperf_harness.loadgen import settings as st\n"
        f"s = st.test_settings(st.RunSettings(*{tuple(vars(run).values())!r}), {str(where / 'user.conf')!r})\n"
        "keys = ('server_target_qps', 'use_token_latencies', 'ttft_latency', 'tpot_latency', "
        "'server_target_latency_ns', 'min_duration_ms', 'performance_sample_count_override')\n"
        "print(json.dumps({'scenario': str(s.scenario), **{k: getattr(s, k) for k in keys}}))\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=where,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_interactive_is_a_server_run_under_the_models_interactive_key(tmp_path):
    """Interactive: LoadGen's Server scenario with the "<model>-interactive" settings of its built-in mlperf.conf
    (llama2-70b: TTFT 450 ms, TPOT 40 ms, no target latency), as the reference's --lg-model-name does."""
    run = rs(model="llama2-70b", scenario="Interactive", execution_mode="test", target_qps=2.5,
             performance_sample_count=8)
    text = settings.user_conf(run)
    assert "llama2-70b-interactive.Server.target_qps = 2.5\n" in text
    assert "llama2-70b-interactive.*.performance_sample_count_override = 8\n" in text
    assert "llama2-70b-interactive.Server.min_query_count = 32\n" in text
    assert "Interactive" not in text.split("\n", 1)[1]  # no key LoadGen would not read
    s = fresh_effective(run, tmp_path / "interactive")
    assert s["scenario"] == "TestScenario.Server" and s["server_target_qps"] == 2.5
    assert s["use_token_latencies"] and (s["ttft_latency"], s["tpot_latency"]) == (450_000_000, 40_000_000)
    assert s["server_target_latency_ns"] == 0
    assert (s["min_duration_ms"], s["performance_sample_count_override"]) == (1000, 8)
    server = fresh_effective(rs(model="llama2-70b", scenario="Server", execution_mode="test", target_qps=2.5),
                             tmp_path / "server")
    assert (server["ttft_latency"], server["tpot_latency"]) == (2_000_000_000, 200_000_000)  # plain Server's
    assert settings.official("llama2-70b", "Interactive").token_latencies_ms == (450.0, 40.0)
    conf = settings.mlperf_conf("llama2-70b", "Interactive")
    assert "llama2-70b-interactive.Server.ttft_latency = 450\n" in conf
    assert "llama2-70b-interactive.Server.tpot_latency = 40\n" in conf


@pytest.mark.parametrize("over,needle", [
    ({"target_qps": None}, "the Interactive scenario needs --target-qps"),
    ({"target_latency_ms": 100}, "--target-latency would change the Interactive latency bound"),
    ({"model": "resnet50"}, "has no resnet50-interactive settings in its built-in mlperf.conf"),
])
def test_interactive_rejected(over, needle):
    with pytest.raises(UsageError, match=needle):
        settings.user_conf(rs(**{"model": "llama2-70b", "scenario": "Interactive", "target_qps": 1.0, **over}))
