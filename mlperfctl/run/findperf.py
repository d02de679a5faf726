"""find-performance: the targets of a run measured with short LoadGen runs ("probes"), shared by `run` and
`run --submission`.

- Offline: the target QPS is the samples per second of a short (test execution mode) Offline run.
- Server and Interactive (a LoadGen Server run under the model's interactive settings): a search over target QPS
  with short runs of the scenario, starting from the Offline rate: step down (halving)
  until a probe meets the round's latency bound, then bisect between the highest passing and the lowest
  failing rate; at most MAX_SERVER_PROBES Server probes. A probe meets the bound when LoadGen says its latency
  constraint is met (`result_perf_constraints_met`) and its p99 latency is within the rulebook's (mlperf_rules)
  Server bound, or for LLMs its p99 TTFT/TPOT below the rulebook's limits for the scenario (Interactive's are
  the tighter ones: llama2-70b 450/40 ms against Server's 2000/200). The search stops early when even
  the fastest query of a probe exceeded the bound (no lower rate can help) and never probes a rate whose run
  would take over MAX_PROBE_SECONDS. When no probe meets the bound, the lowest rate probed is used and the
  record says `met: false` (the Server result will be INVALID in a valid run).
- SingleStream/MultiStream: the target latency is the percentile latency LoadGen judges the scenario by
  (`effective_target_latency_percentile`: 90th SingleStream, 99th MultiStream) of a short run.

A target given on the command line always wins. What is measured is cached per cell and system (a small JSON
under the cache folder, keyed by cell, system, image ID, round and the settings that change speed) and reused
by later runs unless --find-performance is given again; the record of the search (probes, chosen targets,
where each target came from) goes into run.json."""

from __future__ import annotations

import json
import os
import re
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import mlperf_rules

from ..errors import UserError
from ..submission import MLLog
from .plan import RunPlan, Target
from .results import offline_samples_per_second

MAX_SERVER_PROBES = 6      # Server probes of one search, at most
MAX_PROBE_SECONDS = 60     # a rate whose probe would last longer (its min query count / rate) is not probed
STEP_DOWN = 0.5            # a failing probe before any passed: the next one at half its rate
TOLERANCE = 0.05           # bisection stops when the failing rate is within 5% of the passing one
PROBE_EXECUTION_MODE = "test"
CACHE_FORMAT = 1
DEFAULT_PERCENTILE = {"SingleStream": 0.9, "MultiStream": 0.99, "Server": 0.99, "Interactive": 0.99}
SEARCHED = ("Server", "Interactive")  # the scenarios whose target QPS is searched against a latency bound

# (scenario, piece, target or None) -> the probe's output folder (with mlperf_log_detail.txt)
ProbeRunner = Callable[[str, str, "Target | None"], Path]


def sig(value: float) -> float:
    """A target rounded to 4 significant digits (what goes on the harness command line)."""
    return float(f"{value:.4g}")


# -- the Server search (pure logic) --------------------------------------------------------------------------
@dataclass
class SearchResult:
    chosen: float                     # the highest rate that met the bound (or the lowest probed, met False)
    met: bool
    probes: list[tuple[float, bool]]  # (target QPS, met) in the order probed


def search_server_qps(start: float, meets: Callable[[float], bool | None], *, max_probes: int = MAX_SERVER_PROBES,
                      step_down: float = STEP_DOWN, tolerance: float = TOLERANCE,
                      min_qps: Callable[[], float] | float = 0.0) -> SearchResult:
    """The highest target QPS at or below `start` for which `meets(qps)` holds, in at most `max_probes` calls:
    `start` first (done if it meets), halving until one meets, then bisecting until the failing rate is within
    `tolerance` of the passing one. `meets` returns None for "no, and no lower rate can" (the search stops);
    rates below `min_qps` (a number, or a callable asked before each probe) are not probed."""
    if not start > 0:
        raise ValueError(f"the search needs a positive start rate, not {start}")
    if max_probes < 1:
        raise ValueError("the search needs at least one probe")
    passing = failing = None
    qps = sig(start)
    probes: list[tuple[float, bool]] = []
    while len(probes) < max_probes:
        verdict = meets(qps)
        ok = bool(verdict)
        probes.append((qps, ok))
        if ok:
            passing = qps
        else:
            failing = qps
        if passing is not None and (failing is None or failing <= passing * (1 + tolerance)):
            break
        if verdict is None and passing is None:  # hopeless: lower rates cannot meet the bound either
            break
        following = sig(qps * step_down) if passing is None else sig((passing + failing) / 2)
        if any(following == q for q, _ in probes):  # rounding left nothing between them
            break
        if following < (min_qps() if callable(min_qps) else min_qps):
            break
        qps = following
    if passing is None:
        return SearchResult(min(q for q, _ in probes), False, probes)
    return SearchResult(passing, True, probes)


# -- what a probe's LoadGen log says ---------------------------------------------------------------------------
@dataclass(frozen=True)
class LatencyBounds:
    """The round's bounds for a model's Server-type scenario (mlperf_rules): p99 latency, and TTFT/TPOT p99 for
    LLMs (ms)."""

    latency_ms: float | None = None
    ttft_ms: float | None = None
    tpot_ms: float | None = None

    @classmethod
    def server(cls, rnd: mlperf_rules.Round | None, model: str, scenario: str = "Server") -> LatencyBounds:
        """From the rules round of the run (RoundChoice.rules; None: no round has rules for the model), for Server
        or Interactive (whose TTFT/TPOT limits are its own)."""
        bench = rnd.benchmark(model) if rnd else None
        if bench is None:
            return cls()
        tokens = bench.token_latency_ms.get(scenario)
        if not tokens and scenario != "Interactive":  # "*": every non-Offline scenario of the rounds before v5.1
            tokens = bench.token_latency_ms.get("*")
        if scenario == "Interactive" and not tokens:
            raise UserError(f"find-performance: {rnd.version} has no Interactive TTFT/TPOT limits for {model}")
        if tokens:  # LLMs: judged by TTFT and TPOT (as LoadGen and the checker do), not the whole answer's latency
            return cls(None, *tokens)
        return cls(bench.server_latency_ms)


def percentile_key(log: MLLog, scenario: str) -> str:
    """The detail-log key of the latency percentile LoadGen judges the scenario by (result_90.00_... for 0.9)."""
    fraction = log.get("effective_target_latency_percentile") or DEFAULT_PERCENTILE[scenario]
    return f"result_{fraction * 100:.2f}_percentile_latency_ns"


def judge_server(log: MLLog, bounds: LatencyBounds) -> dict:
    """Whether a Server probe met the latency bound, with the figures and the reasons it did not."""
    reasons = []
    constraints = log.get("result_perf_constraints_met")
    if constraints is not True:
        reasons.append("LoadGen: latency constraint not met" if constraints is False
                       else "LoadGen reported no result_perf_constraints_met")
    key = percentile_key(log, "Server")
    latency = log.get(key)
    fact = {"target_qps": log.get("effective_target_qps"),
            "completed_samples_per_sec": log.get("result_completed_samples_per_sec"),
            "latency_percentile": key, "latency_ms": _ms(latency),
            "loadgen_target_latency_ms": _ms(log.get("effective_target_latency_ns")),
            "bound_ms": bounds.latency_ms, "validity": log.get("result_validity")}
    if bounds.latency_ms is not None:
        if not isinstance(latency, (int, float)):
            reasons.append(f"no {key} in the log")
        elif latency > bounds.latency_ms * 1e6:
            reasons.append(f"p99 latency {latency / 1e6:.3f} ms > {bounds.latency_ms:g} ms")
    for name, key, limit in (("TTFT", "result_first_token_99.00_percentile_latency_ns", bounds.ttft_ms),
                             ("TPOT", "result_time_per_output_token_99.00_percentile_ns", bounds.tpot_ms)):
        if limit is None:
            continue
        value = log.get(key)
        fact[f"{name.lower()}_ms"] = _ms(value)
        fact[f"{name.lower()}_bound_ms"] = limit
        if not isinstance(value, (int, float)):
            reasons.append(f"no {key} in the log")
        elif value >= limit * 1e6:
            reasons.append(f"p99 {name} {value / 1e6:.3f} ms >= {limit:g} ms")
    fastest = log.get("result_min_latency_ns")
    hopeless = (bounds.latency_ms is not None and isinstance(fastest, (int, float))
                and fastest > bounds.latency_ms * 1e6)
    if hopeless:
        reasons.append(f"even the fastest query took {fastest / 1e6:.3f} ms: no lower rate can meet the bound")
    return {**fact, "meets": not reasons, "hopeless": hopeless, "reasons": reasons}


def latency_target_ms(log: MLLog, scenario: str) -> tuple[float, str]:
    """SingleStream/MultiStream: the percentile latency (ms) of a short run, and the key it came from."""
    key = percentile_key(log, scenario)
    value = log.get(key)
    if not isinstance(value, (int, float)) or value <= 0:
        raise UserError(f"find-performance: the {scenario} run reported no {key} ({log.path})")
    return max(sig(value / 1e6), 0.001), key


def _ms(ns) -> float | None:
    return round(ns / 1e6, 3) if isinstance(ns, (int, float)) else None


# -- the cache ----------------------------------------------------------------------------------------------
class TargetCache:
    """The measured targets of one cell on one system: <cache>/find-performance/<cell>@<system>.json. Entries
    are reused only when the key (image ID, round, precision, threads, batch size, count) is the same."""

    def __init__(self, root: Path, *, cell: str, system: str, key: dict):
        self.path = Path(root) / "find-performance" / f"{_safe(cell)}@{_safe(system)}.json"
        self.key = {"cell": cell, "system": system, **key}
        self.stale: str | None = None  # why an existing file was not used

    def load(self) -> dict[str, dict]:
        """scenario -> {"target": {"flag", "value"}, ...}; {} when absent, unreadable or made for another key."""
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            self.stale = f"unreadable ({e})"
            return {}
        if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or not isinstance(data.get("scenarios"),
                                                                                               dict):
            self.stale = "not a find-performance cache"
            return {}
        if data.get("key") != self.key:
            changed = sorted(k for k in self.key if (data.get("key") or {}).get(k) != self.key[k])
            self.stale = f"made with another {', '.join(changed) or 'key'}"
            return {}
        return data["scenarios"]

    def save(self, scenarios: dict[str, dict]) -> None:
        """Merge these scenarios' entries in (replacing the file atomically)."""
        kept = self.load()
        data = {"format": CACHE_FORMAT, "key": self.key, "scenarios": {**kept, **scenarios}}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".find-performance-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(data, f, indent=1, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def cache_for(p: RunPlan, opts, *, cache_root: Path, system: str, image_id: str) -> TargetCache:
    return TargetCache(cache_root, cell=p.cell.id, system=system,
                       key={"image_id": image_id, "version": opts.round.version, "precision": p.precision,
                            "threads": opts.threads, "batch_size": opts.batch_size, "count": opts.count})


# -- both flows ----------------------------------------------------------------------------------------------
@dataclass
class Found:
    targets: dict[str, Target]                             # every scenario of the run that has one
    record: dict[str, dict] = field(default_factory=dict)  # scenario -> what run.json records


def find_targets(p: RunPlan, opts, *, cache: TargetCache, probe: ProbeRunner, console,
                 max_probes: int = MAX_SERVER_PROBES) -> Found:
    """The targets of every scenario of the plan: the command line's, else the cache's (unless
    --find-performance), else measured when --find-performance is given (every untargeted scenario) or the
    scenario is Server or Interactive (they need a target QPS)."""
    found = Found({})
    untargeted = []
    for scenario in p.scenarios:
        if scenario in p.targets:
            found.targets[scenario] = p.targets[scenario]
            found.record[scenario] = {"source": "command line", "target": asdict(p.targets[scenario])}
        else:
            untargeted.append(scenario)
    cached = {} if opts.find_performance else cache.load()
    if cache.stale:
        console.print(f"find-performance: not reusing {cache.path}: {cache.stale}", highlight=False)
    measure = []
    for scenario in untargeted:
        entry = cached.get(scenario)
        target = _cached_target(entry)
        if target is not None:
            found.targets[scenario] = target
            found.record[scenario] = {**entry, "source": "cache", "cache": str(cache.path)}
            console.print(f"find-performance: {scenario} {target.flag} {target.value:g} from {cache.path} "
                          f"(--find-performance measures it again)", highlight=False)
        elif opts.find_performance or scenario in SEARCHED:
            measure.append(scenario)
    if not measure:
        return found
    console.print(f"find-performance: measuring {', '.join(measure)} with short {PROBE_EXECUTION_MODE}-mode runs"
                  + (f" ({' and '.join(s for s in SEARCHED if s in measure)}: at most {max_probes} probes each)"
                     if set(SEARCHED) & set(measure) else ""), highlight=False)
    measured: dict[str, dict] = {}
    offline = None
    if "Offline" in measure or set(SEARCHED) & set(measure):
        offline = _offline(probe)
        console.print(f"find-performance: Offline {offline['samples_per_second']} samples/s", highlight=False)
        if "Offline" in measure:
            measured["Offline"] = {"target": asdict(Target("--target-qps", offline["samples_per_second"])),
                                   "probes": [offline]}
    for scenario in measure:
        if scenario in SEARCHED:
            measured[scenario] = _server(p, opts, probe, offline, console, max_probes, scenario)
        elif scenario in ("SingleStream", "MultiStream"):
            out = probe(scenario, "find-performance", None)
            ms, key = latency_target_ms(MLLog(Path(out) / "mlperf_log_detail.txt"), scenario)
            measured[scenario] = {"target": asdict(Target("--target-latency", ms)),
                                  "probes": [{"scenario": scenario, "piece": "find-performance",
                                              "latency_percentile": key, "latency_ms": ms}]}
            console.print(f"find-performance: {scenario} target latency {ms:g} ms ({key})", highlight=False)
    stamp = time.time()
    for scenario, entry in measured.items():
        entry["measured_at"] = stamp
        found.targets[scenario] = Target(**entry["target"])
        found.record[scenario] = {**entry, "source": "measured", "cache": str(cache.path)}
    try:
        cache.save(measured)
    except OSError as e:
        console.print(f"find-performance: could not write the cache {cache.path} ({e.strerror or e})", highlight=False)
    return found


def _cached_target(entry) -> Target | None:
    try:
        target = Target(str(entry["target"]["flag"]), float(entry["target"]["value"]))
    except (TypeError, KeyError, ValueError):
        return None
    return target if target.value > 0 and target.flag in ("--target-qps", "--target-latency") else None


def _offline(probe: ProbeRunner) -> dict:
    out = Path(probe("Offline", "find-performance", None))
    qps = offline_samples_per_second(MLLog(out / "mlperf_log_detail.txt"))
    if not qps:
        raise UserError("find-performance: the Offline test run reported no samples per second")
    return {"scenario": "Offline", "piece": "find-performance", "samples_per_second": sig(qps)}


def _server(p: RunPlan, opts, probe: ProbeRunner, offline: dict, console, max_probes: int,
            scenario: str = "Server") -> dict:
    bounds = LatencyBounds.server(opts.round.rules, p.cell.model, scenario)
    facts: list[dict] = []
    queries: list[int] = []  # the probes' min query count (LoadGen's log): a probe lasts about queries / rate

    def min_qps() -> float:
        return queries[0] / MAX_PROBE_SECONDS if queries else 0.0

    def meets(qps: float) -> bool | None:
        n = len(facts) + 1
        console.print(f"find-performance: {scenario} probe {n}/{max_probes} at {qps:g} QPS", highlight=False)
        piece = f"find-performance-{n}"
        out = Path(probe(scenario, piece, Target("--target-qps", qps)))
        log = MLLog(out / "mlperf_log_detail.txt")
        fact = {"scenario": scenario, "piece": piece, "probe": n, **judge_server(log, bounds)}
        fact["target_qps"] = qps
        if isinstance(log.get("effective_min_query_count"), int) and not queries:
            queries.append(log.get("effective_min_query_count"))
        facts.append(fact)
        verdict = "meets the latency bound" if fact["meets"] else "misses: " + "; ".join(fact["reasons"])
        console.print(f"find-performance: {scenario} probe {n}/{max_probes} at {qps:g} QPS: p99 "
                      f"{fact['latency_ms']} ms, {verdict}", highlight=False)
        return None if fact["hopeless"] else fact["meets"]

    result = search_server_qps(offline["samples_per_second"], meets, max_probes=max_probes, min_qps=min_qps)
    if result.met:
        console.print(f"find-performance: {scenario} target QPS {result.chosen:g} (the highest probed rate meeting "
                      f"the latency bound)", highlight=False)
    else:
        console.print(f"[yellow]find-performance: no {scenario} probe down to {result.chosen:g} QPS met the latency "
                      f"bound; using {result.chosen:g} (the {scenario} result will be INVALID in a valid run)[/]")
    return {"target": asdict(Target("--target-qps", result.chosen)), "met": result.met,
            "start_qps": offline["samples_per_second"], "max_probes": max_probes,
            "bounds": asdict(bounds), "probes": [offline, *facts]}
