"""find-performance (mlperfctl/run/findperf.py) without containers: the Server search with a fake probe (pure
logic), the verdicts and latency targets read from real LoadGen logs (tests/data/tiny_probe_sut.py runs the real
mlcommons-loadgen against an in-process SUT), the cache (reuse, invalidation, the command line winning), a
whole search whose probes are real LoadGen runs, and the retry loop of `run --submission`'s compliance runs."""

import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

import mlperf_rules
from mlperfctl.errors import UserError
from mlperfctl.run import findperf
from mlperfctl.run import submission_flow as flow
from mlperfctl.run.findperf import LatencyBounds, TargetCache, find_targets, judge_server, search_server_qps
from mlperfctl.run.plan import Target
from mlperfctl.submission import MLLog

DATA = Path(__file__).parent / "data"


def tiny(out: Path, scenario: str, **kw) -> Path:
    args = [sys.executable, str(DATA / "tiny_probe_sut.py"), str(out), scenario]
    for k, v in kw.items():
        args += [f"--{k.replace('_', '-')}", str(v)]
    subprocess.run(args, check=True, capture_output=True, timeout=120)
    return out


def detail(out: Path) -> MLLog:
    return MLLog(out / "mlperf_log_detail.txt")


class Console:
    def __init__(self):
        self.lines: list[str] = []

    def print(self, text, **_):
        self.lines.append(str(text))


# -- the search ----------------------------------------------------------------------------------------------
def test_search_steps_down_then_bisects_to_the_highest_passing_rate():
    calls = []

    def meets(qps):
        calls.append(qps)
        return qps <= 37

    r = search_server_qps(100, meets, max_probes=6)
    assert r.met and r.chosen <= 37
    assert calls[:3] == [100, 50, 25]  # halving until one passes
    assert [q for q, _ in r.probes] == calls and len(calls) <= 6
    assert r.chosen == max(q for q, ok in r.probes if ok)
    assert all(q > 37 for q, ok in r.probes if not ok)
    assert 25 < r.chosen  # the bisection moved up from the first passing rate


def test_search_stops_at_the_start_when_it_passes_and_within_tolerance():
    r = search_server_qps(80, lambda q: True)
    assert r.probes == [(80, True)] and r.chosen == 80 and r.met
    r = search_server_qps(100, lambda q: q <= 90, max_probes=20, tolerance=0.05)
    failing = min(q for q, ok in r.probes if not ok)
    assert r.met and failing <= r.chosen * 1.05 and len(r.probes) < 20


def test_search_is_bounded_and_says_when_nothing_passed():
    r = search_server_qps(64, lambda q: False, max_probes=4)
    assert [q for q, _ in r.probes] == [64, 32, 16, 8]
    assert not r.met and r.chosen == 8
    # "no, and no lower rate can": the search stops at once
    r = search_server_qps(64, lambda q: None, max_probes=4)
    assert r.probes == [(64, False)] and not r.met and r.chosen == 64
    # rates whose probe would take too long are not probed (the floor may be learnt from the first probe)
    r = search_server_qps(64, lambda q: False, max_probes=6, min_qps=lambda: 20)
    assert [q for q, _ in r.probes] == [64, 32]
    with pytest.raises(ValueError):
        search_server_qps(0, lambda q: True)
    with pytest.raises(ValueError):
        search_server_qps(10, lambda q: True, max_probes=0)


# -- real LoadGen logs ---------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def logs(tmp_path_factory):
    base = tmp_path_factory.mktemp("probes")
    return {
        "offline": tiny(base / "offline", "Offline", target_qps=500, service_ms=2),
        # LoadGen judged against 1 s here, so the probe passes LoadGen's constraint whatever the machine's load
        "server_ok": tiny(base / "server-ok", "Server", target_qps=40, service_ms=1, target_latency_ms=1000),
        "server_overloaded": tiny(base / "server-over", "Server", target_qps=2000, service_ms=2),
        "server_slow": tiny(base / "server-slow", "Server", target_qps=20, service_ms=30),  # every query > 15 ms
        "ss": tiny(base / "ss", "SingleStream", service_ms=1),
        "ms": tiny(base / "ms", "MultiStream", service_ms=1),
    }


V61_BOUNDS = LatencyBounds.server(mlperf_rules.ROUNDS["v6.1"], "resnet50")


def test_bounds_come_from_the_rulebook():
    assert V61_BOUNDS == LatencyBounds(15, None, None)
    bench = mlperf_rules.get_round("v5.1").benchmark("llama2-70b-99")
    ttft, tpot = bench.token_latency_ms.get("Server") or bench.token_latency_ms["*"]
    llm = LatencyBounds.server(mlperf_rules.ROUNDS["v5.1"], "llama2-70b-99")
    assert llm == LatencyBounds(None, ttft, tpot)  # LLMs: TTFT/TPOT
    # Interactive: the round's own, tighter limits (v5.1 on); none in a round without the scenario
    for version in ("v5.1", "v6.0"):
        interactive = LatencyBounds.server(mlperf_rules.ROUNDS[version], "llama2-70b-99", "Interactive")
        assert interactive == LatencyBounds(None, 450, 40) and (450, 40) < (ttft, tpot)
    with pytest.raises(UserError, match="v4.1 has no Interactive TTFT/TPOT limits for llama2-70b-99"):
        LatencyBounds.server(mlperf_rules.ROUNDS["v4.1"], "llama2-70b-99", "Interactive")


def test_server_verdicts_from_real_logs(logs):
    over = judge_server(detail(logs["server_overloaded"]), V61_BOUNDS)
    assert not over["meets"] and over["validity"] == "INVALID"
    assert "LoadGen: latency constraint not met" in over["reasons"]
    assert any(r.startswith("p99 latency") and "> 15 ms" in r for r in over["reasons"])
    assert over["latency_percentile"] == "result_99.00_percentile_latency_ns" and over["latency_ms"] > 15
    assert not over["hopeless"]  # its fastest queries were quick: a lower rate may do
    slow = judge_server(detail(logs["server_slow"]), V61_BOUNDS)
    assert slow["hopeless"] and not slow["meets"] and any("even the fastest query" in r for r in slow["reasons"])
    ok = detail(logs["server_ok"])
    generous = judge_server(ok, LatencyBounds(latency_ms=1000))
    assert generous["meets"] and generous["reasons"] == [] and generous["loadgen_target_latency_ms"] == 1000
    # the rulebook's bound applies on top of LoadGen's own verdict
    strict = judge_server(ok, LatencyBounds(latency_ms=0.001))
    assert not strict["meets"] and strict["reasons"][0] == f"p99 latency {strict['latency_ms']:.3f} ms > 0.001 ms"
    assert strict["hopeless"] and not generous["hopeless"]
    # an LLM bound needs the token latencies, which a resnet50 log does not have
    llm = judge_server(ok, LatencyBounds(latency_ms=1000, ttft_ms=2000, tpot_ms=200))
    assert not llm["meets"] and any("result_first_token_99.00_percentile_latency_ns" in r for r in llm["reasons"])


@pytest.mark.parametrize("which,scenario,key", [("ss", "SingleStream", "result_90.00_percentile_latency_ns"),
                                                ("ms", "MultiStream", "result_99.00_percentile_latency_ns")])
def test_latency_targets_from_the_percentile_loadgen_uses(logs, which, scenario, key):
    log = detail(logs[which])
    ms, used = findperf.latency_target_ms(log, scenario)
    assert used == key
    assert ms == findperf.sig(log.get(key) / 1e6) and ms > 0
    summary = (logs[which] / "mlperf_log_summary.txt").read_text()
    assert f"{log.get(key)}" in summary  # the figure the summary prints for that percentile


def test_latency_target_missing_is_one_line(tmp_path):
    (tmp_path / "mlperf_log_detail.txt").write_text("")
    with pytest.raises(UserError, match="reported no result_90.00_percentile_latency_ns"):
        findperf.latency_target_ms(MLLog(tmp_path / "mlperf_log_detail.txt"), "SingleStream")


# -- find_targets and the cache ------------------------------------------------------------------------------
def plan_of(scenarios, targets=None, model="resnet50"):
    return SimpleNamespace(scenarios=list(scenarios), targets=dict(targets or {}), precision="fp32",
                           cell=SimpleNamespace(id=f"python-onnxruntime-cpu-{model}", model=model))


def options(**kw):
    return SimpleNamespace(**{"find_performance": False, "round": mlperf_rules.resolve("v6.1", "resnet50"),
                              "threads": None, "batch_size": None, "count": None, **kw})


def cache(tmp_path, p, o, image_id="sha256:one"):
    return findperf.cache_for(p, o, cache_root=tmp_path / "cache", system="box_cpu", image_id=image_id)


@pytest.fixture
def fake_probe(logs):
    """Probes answered with the real logs: Server at or below 100 QPS meets the bound, above it does not."""
    calls = []

    def probe(scenario, piece, target):
        calls.append((scenario, piece, target))
        if scenario == "Server":
            return logs["server_ok"] if target.value <= 100 else logs["server_overloaded"]
        return logs[{"Offline": "offline", "SingleStream": "ss", "MultiStream": "ms"}[scenario]]

    probe.calls = calls
    return probe


def test_find_targets_searches_records_and_caches(tmp_path, fake_probe, monkeypatch):
    monkeypatch.setattr(LatencyBounds, "server", classmethod(lambda cls, v, m, s="Server": cls(latency_ms=1000)))
    p, o = plan_of(["Offline", "Server", "SingleStream"]), options(find_performance=True)
    console = Console()
    found = find_targets(p, o, cache=cache(tmp_path, p, o), probe=fake_probe, console=console)
    offline_qps = found.record["Offline"]["probes"][0]["samples_per_second"]
    assert found.targets["Offline"] == Target("--target-qps", offline_qps) and offline_qps > 100
    server = found.record["Server"]
    assert server["source"] == "measured" and server["met"] and server["start_qps"] == offline_qps
    probes = [x for x in server["probes"] if x["scenario"] == "Server"]
    assert probes[0]["target_qps"] == offline_qps and not probes[0]["meets"]
    assert 1 < len(probes) <= findperf.MAX_SERVER_PROBES
    chosen = max(x["target_qps"] for x in probes if x["meets"])
    assert found.targets["Server"] == Target("--target-qps", chosen) and chosen <= 100
    assert [c[1] for c in fake_probe.calls if c[0] == "Server"] == [f"find-performance-{n}"
                                                                     for n in range(1, len(probes) + 1)]
    assert found.targets["SingleStream"].flag == "--target-latency"
    assert sum(1 for line in console.lines if "Server probe" in line and "p99" in line) == len(probes)  # progress
    saved = json.loads((tmp_path / "cache" / "find-performance" / "python-onnxruntime-cpu-resnet50@box_cpu.json")
                       .read_text())
    assert saved["key"]["image_id"] == "sha256:one"
    assert saved["scenarios"]["Server"]["target"] == {"flag": "--target-qps", "value": chosen}
    json.dumps(found.record)  # run.json can hold it

    # a later run reuses the cache: no probe at all
    fake_probe.calls.clear()
    again = find_targets(p, options(), cache=cache(tmp_path, p, o), probe=fake_probe, console=Console())
    assert fake_probe.calls == [] and again.targets == found.targets
    assert {r["source"] for r in again.record.values()} == {"cache"}
    # --find-performance measures again
    find_targets(p, o, cache=cache(tmp_path, p, o), probe=fake_probe, console=Console())
    assert fake_probe.calls and fake_probe.calls[0][0] == "Offline"


def test_cache_is_invalidated_by_a_new_image_and_loses_to_the_command_line(tmp_path, fake_probe):
    p, o = plan_of(["Server"]), options()
    find_targets(p, o, cache=cache(tmp_path, p, o), probe=fake_probe, console=Console())
    first = len(fake_probe.calls)
    assert first >= 2  # Server without a target: measured without --find-performance (Offline run + probes)
    fake_probe.calls.clear()
    console = Console()
    find_targets(p, o, cache=cache(tmp_path, p, o, image_id="sha256:rebuilt"), probe=fake_probe, console=console)
    assert len(fake_probe.calls) == first  # measured again
    assert any("made with another image_id" in line for line in console.lines)
    fake_probe.calls.clear()
    given = plan_of(["Server"], {"Server": Target("--target-qps", 7.5)})
    found = find_targets(given, options(find_performance=True), cache=cache(tmp_path, p, o), probe=fake_probe,
                         console=Console())
    assert fake_probe.calls == [] and found.targets["Server"] == Target("--target-qps", 7.5)
    assert found.record["Server"]["source"] == "command line"
    # other settings that change the speed are part of the key, and a broken file is not reused
    assert TargetCache(tmp_path / "cache", cell=p.cell.id, system="box_cpu",
                       key={**cache(tmp_path, p, o).key, "threads": 4}).load() == {}
    c = cache(tmp_path, p, o)
    c.path.write_text("{broken")
    assert c.load() == {} and c.stale.startswith("unreadable")


def test_offline_and_latency_scenarios_are_measured_only_when_asked(tmp_path, fake_probe):
    p = plan_of(["Offline", "SingleStream"])
    found = find_targets(p, options(), cache=cache(tmp_path, p, options()), probe=fake_probe, console=Console())
    assert fake_probe.calls == [] and found.targets == {}  # as before: the harness's defaults


def test_a_whole_search_with_real_loadgen_probes(tmp_path, monkeypatch):
    """Offline answers 4x faster than Server's worker can keep up with, so the search must step down."""
    monkeypatch.setattr(LatencyBounds, "server", classmethod(lambda cls, v, m, s="Server": cls(latency_ms=100)))

    def probe(scenario, piece, target):
        out = tmp_path / "runs" / f"{scenario}-{piece}"
        if scenario == "Offline":
            return tiny(out, "Offline", target_qps=800, service_ms=1.25)
        return tiny(out, "Server", target_qps=target.value, service_ms=5, target_latency_ms=100)

    p, o = plan_of(["Server"]), options(find_performance=True)
    console = Console()
    found = find_targets(p, o, cache=cache(tmp_path, p, o), probe=probe, console=console)
    server = found.record["Server"]
    probes = [x for x in server["probes"] if x["scenario"] == "Server"]
    assert server["start_qps"] > 400 and not probes[0]["meets"]  # 2x+ the 200/s the Server worker manages
    assert server["met"] and len(probes) <= findperf.MAX_SERVER_PROBES
    chosen = found.targets["Server"].value
    assert chosen == max(x["target_qps"] for x in probes if x["meets"]) and chosen < 250
    for x in probes:  # each probe's own LoadGen log says what the search judged
        log = detail(tmp_path / "runs" / f"Server-{x['piece']}")
        assert log.get("effective_target_qps") == pytest.approx(x["target_qps"])
        assert x["meets"] == (log.get("result_perf_constraints_met") is True and x["latency_ms"] <= 100)


def llm_log(where: Path, qps: float) -> Path:
    """A detail log as an LLM Server-type probe leaves it (the keys the search reads), its p99 TTFT growing with
    the arrival rate: 100 ms per query per second; TPOT 30 ms."""
    where.mkdir(parents=True, exist_ok=True)
    values = {"result_validity": "VALID", "result_perf_constraints_met": True, "effective_target_qps": qps,
              "effective_min_query_count": 32, "effective_target_latency_ns": 0,
              "effective_target_latency_percentile": 0.99, "result_99.00_percentile_latency_ns": 9e9,
              "result_min_latency_ns": 5e9, "result_completed_samples_per_sec": qps,
              "result_first_token_99.00_percentile_latency_ns": qps * 100e6,
              "result_time_per_output_token_99.00_percentile_ns": 30e6}
    (where / "mlperf_log_detail.txt").write_text("".join(f':::MLLOG {{"key": "{k}", "value": {json.dumps(v)}}}\n'
                                                         for k, v in values.items()))
    return where


def test_interactive_is_searched_against_the_interactive_limits(tmp_path, logs):
    """An Interactive run without a target QPS is measured like Server, but its probes are Interactive runs judged
    by the round's Interactive TTFT/TPOT (450/40 ms for llama2-70b): with TTFT = 100 ms per QPS the chosen rate
    stays below 4.5 QPS, where Server's 2000 ms would allow up to 20."""
    calls = []

    def probe(scenario, piece, target):
        calls.append((scenario, piece, target))
        if scenario == "Offline":
            return logs["offline"]  # a few hundred samples/s: the search starts high and steps down
        return llm_log(tmp_path / "runs" / f"{scenario}-{piece}", target.value)

    o = options(round=mlperf_rules.resolve("v6.0", "llama2-70b-99"), find_performance=True)
    found = {}
    for scenario in ("Interactive", "Server"):
        p = plan_of([scenario], model="llama2-70b-99")
        console = Console()
        found[scenario] = find_targets(p, o, cache=cache(tmp_path / scenario, p, o), probe=probe, console=console,
                                       max_probes=12)
        assert any(f"{scenario} probe 1/12" in line for line in console.lines)
    interactive = found["Interactive"].record["Interactive"]
    assert interactive["bounds"] == {"latency_ms": None, "ttft_ms": 450, "tpot_ms": 40}
    probes = [x for x in interactive["probes"] if x["scenario"] == "Interactive"]
    assert probes and all(x["meets"] == (x["target_qps"] * 100 < 450) for x in probes)
    chosen = found["Interactive"].targets["Interactive"]
    assert interactive["met"] and chosen.flag == "--target-qps" and 4.5 * 0.95 / 1.05 < chosen.value < 4.5
    assert {c[0] for c in calls if c[1].startswith("find-performance-")} == {"Interactive", "Server"}
    server = found["Server"].targets["Server"].value
    assert found["Server"].record["Server"]["bounds"]["ttft_ms"] == 2000 and 15 < server < 20


# -- compliance runs: reduced Server target, retries -----------------------------------------------------------
def test_compliance_server_target_reduction():
    t = Target("--target-qps", 200.0)
    assert flow.compliance_target("Server", t, 0) == t
    assert flow.compliance_target("Server", t, 6) == Target("--target-qps", 188.0)
    assert flow.compliance_target("Offline", t, 6) == t  # Server only
    assert flow.compliance_target("Server", None, 6) is None


def test_compliance_attempts():
    assert flow.compliance_attempts("TEST01", 2, "valid") == (3, True)
    assert flow.compliance_attempts("TEST04", 2, "test") == (3, False)  # INVALID is expected outside valid mode
    assert flow.compliance_attempts("TEST06", 2, "valid") == (1, False)  # TEST06's INVALID is expected
    assert flow.compliance_attempts(None, 2, "valid") == (1, False)  # performance and accuracy runs


def test_an_invalid_compliance_run_is_retried_until_valid():
    results = iter(["INVALID", "VALID", "VALID"])
    calls, retried = [], []

    def attempt(n):
        calls.append(n)
        return {"validity": next(results), "attempt": n}

    entry = flow.run_attempts(attempt, 3, retry_invalid=True, on_retry=retried.append)
    assert calls == [1, 2] and retried == [1] and entry == {"validity": "VALID", "attempt": 2}

    calls.clear()
    entry = flow.run_attempts(lambda n: calls.append(n) or {"validity": "INVALID", "attempt": n}, 3,
                              retry_invalid=True)
    assert calls == [1, 2, 3] and entry["attempt"] == 3  # retries spent: the last result stands
    calls.clear()
    flow.run_attempts(lambda n: calls.append(n) or {"validity": "INVALID"}, 3, retry_invalid=False)
    assert calls == [1]
