"""LoadGen settings: the rules come from the mlperf.conf embedded in LoadGen, the run's choices go into a
generated user.conf, and TestSettings.FromConfig(user.conf, ..., conf_type=1) layers the two.

Interactive is not a LoadGen scenario: it is a Server run under the model's "<model>-interactive" key of
mlperf.conf (llama2-70b-interactive: TTFT 450 ms, TPOT 40 ms), as the reference runs it (--lg-model-name
llama2-70b-interactive) and the checker reads it (an Interactive folder whose effective_scenario is Server).
`lg_key` is that mapping; every key and FromConfig call here goes through it."""

from dataclasses import dataclass
from pathlib import Path

from ..errors import UsageError

SCENARIOS = ("Offline", "Server", "SingleStream", "MultiStream", "Interactive")
SERVER_TYPE = ("Server", "Interactive")  # the scenarios LoadGen runs as Server
MODES = ("performance", "accuracy")
EXECUTION_MODES = ("test", "fast", "valid")
TEST_MIN_DURATION_MS = 1000
TEST_MIN_QUERIES = {"Offline": 128, "SingleStream": 64, "MultiStream": 16, "Server": 32,
                    "Interactive": 32}  # Offline: samples
FAST_DIVISOR = 10


def lg_key(model: str, scenario: str) -> tuple[str, str]:
    """(LoadGen model key, LoadGen scenario) of a run: Interactive is Server under "<model>-interactive"."""
    if scenario == "Interactive":
        return f"{model}-interactive", "Server"
    return model, scenario


def conf_key(model: str, scenario: str) -> str:
    """The "<model>.<scenario>" prefix of the run's user.conf keys (llama2-70b-interactive.Server for Interactive)."""
    return ".".join(lg_key(model, scenario))


@dataclass(frozen=True)
class Official:
    """The round's rules for one model and scenario, read from LoadGen's embedded mlperf.conf."""

    min_duration_ms: int
    min_query_count: int
    performance_sample_count: int
    token_latencies_ms: tuple[float, float] | None = None  # (TTFT, TPOT) when LoadGen tracks token latencies


def _embedded(model: str, scenario: str):
    """TestSettings from LoadGen's embedded mlperf.conf alone (conf_type 0) for the run's LoadGen key."""
    import mlperf_loadgen as lg

    lg_model, lg_scenario = lg_key(model, scenario)
    s = lg.TestSettings()
    if s.FromConfig("", lg_model, lg_scenario, 0) != 0:
        raise RuntimeError(f"LoadGen could not read its embedded mlperf.conf for {lg_model}/{lg_scenario}")
    if scenario == "Interactive" and not s.use_token_latencies:
        from ..info import loadgen_version

        raise UsageError(
            f"LoadGen {loadgen_version()} has no {lg_model} settings in its built-in mlperf.conf (no Interactive "
            f"TTFT/TPOT limits for {model})",
            "use a LoadGen of a round with the Interactive scenario (mlperfctl build --version v5.1 or later)",
        )
    return s


def official(model: str, scenario: str) -> Official:
    s = _embedded(model, scenario)
    tokens = (s.ttft_latency / 1e6, s.tpot_latency / 1e6) if s.use_token_latencies else None
    return Official(s.min_duration_ms, s.min_query_count, s.performance_sample_count_override, tokens)


def mlperf_conf(model: str, scenario: str) -> str:
    """mlperf.conf as the run's record of what LoadGen took from its built-in mlperf.conf for model/scenario
    (LoadGen 4.1.12 and later read no mlperf.conf file; the v4.0 and v4.1 submission trees still want one beside
    user.conf, whose keys override these). In mlperf.conf's own key syntax; latencies in ms."""
    from ..info import loadgen_version

    s = _embedded(model, scenario)
    key = conf_key(model, scenario)
    model, scenario = lg_key(model, scenario)
    lines = [
        f"# the settings LoadGen {loadgen_version()} took from its built-in mlperf.conf for {key}",
        "# (written by mlperf_harness: this LoadGen reads no mlperf.conf file; user.conf's keys override these)",
        *(f"*.*.{k} = {getattr(s, k)}" for k in ("qsl_rng_seed", "sample_index_rng_seed", "schedule_rng_seed")),
        *(f"*.*.test05_{k} = {getattr(s, 'test05_' + k)}" for k in ("qsl_rng_seed", "sample_index_rng_seed",
                                                                    "schedule_rng_seed")),
        f"{model}.*.performance_sample_count_override = {s.performance_sample_count_override}",
        f"{key}.min_duration = {s.min_duration_ms}",
        f"{key}.min_query_count = {s.min_query_count}",
    ]  # fmt: skip
    latency = {
        "Server": (s.server_target_latency_ns, s.server_target_latency_percentile),
        "SingleStream": (s.single_stream_expected_latency_ns, s.single_stream_target_latency_percentile),
        "MultiStream": (s.multi_stream_expected_latency_ns, s.multi_stream_target_latency_percentile),
    }
    if scenario in latency:
        ns, percentile = latency[scenario]
        lines += [f"{key}.target_latency = {ns / 1e6:g}", f"{key}.target_latency_percentile = {percentile * 100:g}"]
    if scenario == "MultiStream":
        lines.append(f"{key}.samples_per_query = {s.multi_stream_samples_per_query}")
    if hasattr(s, "sample_concatenate_permutation"):  # LoadGen 6.0.x; a round's older LoadGen (5.1.1) lacks it
        lines.append(f"{key}.sample_concatenate_permutation = {int(s.sample_concatenate_permutation)}")
    lines.append(f"{key}.use_token_latencies = {int(s.use_token_latencies)}")
    if s.use_token_latencies:
        lines += [f"{key}.ttft_latency = {s.ttft_latency / 1e6:g}", f"{key}.tpot_latency = {s.tpot_latency / 1e6:g}"]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class RunSettings:
    model: str
    scenario: str
    mode: str
    execution_mode: str
    target_qps: float | None
    target_latency_ms: float | None
    performance_sample_count: int | None  # --performance-sample-count (alias --samples)
    test_query_count: int | None = None  # --test-query-count: min query count in test/fast execution mode


def user_conf(rs: RunSettings, test_min_queries: dict[str, int] | None = None) -> str:
    """The user.conf text. Keys name the model exactly so they win over mlperf.conf's model-specific keys.
    test_min_queries replaces TEST_MIN_QUERIES for a model too slow for those (e.g. sdxl); the run's
    --test-query-count replaces both, and the fast mode's tenth of the round's count."""
    if rs.scenario not in SCENARIOS:
        raise UsageError(f"unknown scenario {rs.scenario!r}", f"use one of {', '.join(SCENARIOS)}")
    rules = official(rs.model, rs.scenario)
    key = conf_key(rs.model, rs.scenario)
    lg_model = lg_key(rs.model, rs.scenario)[0]
    lines = [f"# generated by mlperf_harness: {rs.execution_mode} execution mode, {rs.mode} mode"]
    if rs.target_qps is not None:
        if rs.scenario not in ("Offline", *SERVER_TYPE):
            raise UsageError(f"--target-qps does not apply to {rs.scenario}", "use --target-latency")
        lines.append(f"{key}.target_qps = {rs.target_qps:g}")
    elif rs.scenario in SERVER_TYPE:
        raise UsageError(f"the {rs.scenario} scenario needs --target-qps", "pass the query arrival rate to test")
    if rs.target_latency_ms is not None:
        if rs.scenario == "Offline":
            raise UsageError("--target-latency does not apply to Offline", "use --target-qps")
        if rs.scenario in SERVER_TYPE and rs.execution_mode == "valid":
            raise UsageError(
                f"--target-latency would change the {rs.scenario} latency bound of a valid run",
                "drop it, or use --execution-mode test/fast",
            )
        lines.append(f"{key}.target_latency = {rs.target_latency_ms:g}")
    count = rs.performance_sample_count
    if count is not None:
        if count < 1:
            raise UsageError(
                f"--performance-sample-count {count} must be positive", "pass a performance sample count >= 1"
            )
        if rs.execution_mode == "valid" and count < rules.performance_sample_count:
            raise UsageError(
                f"--performance-sample-count {count} is below the {rules.performance_sample_count} performance "
                f"samples {rs.model} needs in a valid run",
                "drop --performance-sample-count, or use --execution-mode test/fast",
            )
        lines.append(f"{lg_model}.*.performance_sample_count_override = {count}")
    queries = rs.test_query_count
    if queries is not None:
        if queries < 1:
            raise UsageError(f"--test-query-count {queries} must be positive", "pass a query count >= 1")
        if rs.execution_mode == "valid":
            raise UsageError(
                "--test-query-count would change the min query count of a valid run",
                "drop it, or use --execution-mode test/fast",
            )
    if rs.execution_mode == "test":
        lines.append(f"{key}.min_duration = {TEST_MIN_DURATION_MS}")
        lines.append(f"{key}.min_query_count = {queries or (test_min_queries or TEST_MIN_QUERIES)[rs.scenario]}")
    elif rs.execution_mode == "fast":
        lines.append(f"{key}.min_duration = {rules.min_duration_ms // FAST_DIVISOR}")
        lines.append(f"{key}.min_query_count = {queries or max(1, rules.min_query_count // FAST_DIVISOR)}")
    elif rs.execution_mode != "valid":
        raise UsageError(f"unknown execution mode {rs.execution_mode!r}", f"use one of {', '.join(EXECUTION_MODES)}")
    return "\n".join(lines) + "\n"


def test_settings(rs: RunSettings, conf_path: Path):
    """TestSettings from the embedded mlperf.conf plus conf_path; scenario and mode set here."""
    import mlperf_loadgen as lg

    lg_model, lg_scenario = lg_key(rs.model, rs.scenario)
    s = lg.TestSettings()
    if s.FromConfig(str(conf_path), lg_model, lg_scenario, 1) != 0:
        raise RuntimeError(f"LoadGen rejected {conf_path} (see mlperf_log_detail.txt)")
    s.scenario = getattr(lg.TestScenario, lg_scenario)
    s.mode = lg.TestMode.AccuracyOnly if rs.mode == "accuracy" else lg.TestMode.PerformanceOnly
    return s
