"""user.conf per execution mode, checked against LoadGen's own reading of it."""

import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.loadgen import settings


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
