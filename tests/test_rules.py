"""The rulebook (mlperf_rules): the facts that matter, checked against the official checkers' values, and
its consistency with matrix.yaml and with the accuracy lines the harness writes."""

import ast
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

import mlperf_rules
from mlperf_rules import INT, MS, OFF, SRV, SS

ROOT = Path(__file__).resolve().parents[1]
V61 = mlperf_rules.get_round("v6.1")

# accuracy.txt lines exactly as the harness writes them: mlperf_harness/accuracy.py format_line (ImageNet),
# mlperf_harness/sdxl/accuracy.py lines (one dict per metric, 8 decimals), mlperf_harness/llm/accuracy.py
# format_line (repr of the reference's result dict)
RESNET_LINE = "accuracy=76.500%, good=38250, total=50000"
SDXL_LINES = "{'CLIP_SCORE': 31.75000000}\n{'FID_SCORE': 23.50000000}\n"
LLAMA2_LINE = ("{'rouge1': 44.5, 'rouge2': 22.1, 'rougeL': 28.7, 'rougeLsum': 42.0, 'gen_len': 1234567, "
               "'gen_num': 24576, 'gen_tok_len': 7237000, 'tokens_per_sample': 294.5}")
GPTJ_LINE = "{'rouge1': 43.0, 'rouge2': 20.2, 'rougeL': 30.0, 'rougeLsum': 40.1, 'gen_len': 3700000, 'gen_num': 13368}"


def test_rounds_and_lookup_errors():
    assert mlperf_rules.versions() == ("v6.1", "v6.0", "v5.1", "v5.0", "v4.1", "v4.0")
    with pytest.raises(KeyError, match=r"unknown MLPerf round 'v9.9' \(choose: v6.1, v6.0, v5.1"):
        mlperf_rules.get_round("v9.9")
    with pytest.raises(KeyError, match="rnnt has no rules in v6.1"):
        V61.required_scenarios("rnnt", "edge")
    with pytest.raises(ValueError, match="unknown system_type 'laptop'"):
        V61.required_scenarios("resnet50", "laptop")


@pytest.mark.parametrize("version, seeds", [
    ("v6.1", (2085463073848966840, 2747215439041700203, 16159082839903944936)),
    ("v6.0", (2465351861681999779, 14276810075590677512, 3936089224930324775)),
    ("v5.1", (1780908523862526354, 14771362308971278857, 18209322760996052031)),
    ("v5.0", (6023615788873153749, 15036839855038426416, 9933818062894767841)),
    ("v4.1", (3066443479025735752, 10688027786191513374, 14962580496156340209)),
    ("v4.0", (13281865557512327830, 198141574272810017, 7575108116881280410)),
])
def test_seeds(version, seeds):
    assert mlperf_rules.get_round(version).seeds.as_dict() == dict(zip(mlperf_rules.SEED_KEYS, seeds, strict=True))


def test_loadgen_versions_carry_their_rounds_seeds():
    assert V61.loadgen_pin == "6.0.17" and mlperf_rules.round_for_loadgen("6.0.17") is V61
    assert mlperf_rules.round_for_loadgen("6.0.15").version == "v6.0"
    assert mlperf_rules.round_for_loadgen("5.1.1").version == "v5.1"
    assert mlperf_rules.round_for_loadgen("6.0.4").version == "v5.1"  # 6.0.3/6.0.4 still had v5.1's seeds
    assert mlperf_rules.round_for_loadgen("5.0.8") is None  # the interim seeds of no round
    pins = [r.loadgen_pin for r in mlperf_rules.ROUNDS.values()]
    assert pins == ["6.0.17", "6.0.15", "5.1.1", "5.0.21", "4.1.30", None]
    seen = [v for r in mlperf_rules.ROUNDS.values() for v in r.loadgen_versions]
    assert len(seen) == len(set(seen))  # a LoadGen version belongs to one round at most


def test_the_default_loadgen_is_one_pin_in_matrix_pyproject_and_rulebook():
    """The default LoadGen is written three times: matrix.yaml's runtime.loadgen (the images), pyproject's
    mlcommons-loadgen (the host's tests and tools) and the latest round's pin in the rulebook; they are one."""
    matrix = yaml.safe_load((ROOT / "matrix.yaml").read_text())
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    deps = [d for group in (pyproject["project"]["dependencies"],
                            *pyproject["project"].get("optional-dependencies", {}).values()) for d in group]
    host = {re.sub(r"\s", "", d).split("==")[1] for d in deps if re.match(r"mlcommons-loadgen\s*==", d)}
    rnd = mlperf_rules.resolve(matrix["round"])
    assert matrix["round"] == mlperf_rules.LATEST
    assert host == {matrix["runtime"]["loadgen"]} == {rnd.pin}
    assert matrix["runtime"]["loadgen"] in rnd.submission.loadgen_versions


def test_our_model_names_resolve():
    assert V61.canonical("resnet50") == "resnet" and V61.benchmark("resnet50").name == "resnet"
    assert V61.canonical("sdxl") == "stable-diffusion-xl"
    assert V61.canonical("mobilenet") == "resnet" and V61.canonical("efficientnet") == "resnet"
    assert V61.benchmark("gptj-99") is None and V61.canonical("retinanet") is None
    assert mlperf_rules.get_round("v6.0").canonical("retinanet") == "retinanet"
    assert mlperf_rules.get_round("v5.0").benchmark("llama3_1-405b") is None  # in the round, not transcribed
    assert mlperf_rules.get_round("v5.0").canonical("llama3_1-405b") == "llama3.1-405b"


@pytest.mark.parametrize("model, version", [
    ("resnet50", "v6.1"), ("sdxl", "v6.1"), ("bert-99", "v6.1"), ("3d-unet-99.9", "v6.1"),
    ("llama2-70b-99.9", "v6.1"), ("llama2-70b-99", "v6.0"), ("retinanet", "v6.0"), ("dlrm-v2-99", "v5.1"),
    ("dlrm-v2-99.9", "v5.1"), ("gptj-99", "v5.0"), ("gptj-99.9", "v5.0"), ("rnnt", "v4.0"), ("rgat", "v6.1"),
    ("mobilenet", None), ("efficientnet", None), ("no-such-model", None),
])
def test_latest_closed_round(model, version):
    assert mlperf_rules.latest_closed_round(model) == version


def test_gptj_gets_the_v50_rules():
    rnd = mlperf_rules.rules_round("gptj-99")
    assert rnd.version == "v5.0" and mlperf_rules.rules_round("gptj-99.9", "v6.1").version == "v5.0"
    bench = rnd.benchmark("gptj-99")
    assert [m.key for m in bench.accuracy] == ["ROUGE1", "ROUGE2", "ROUGEL", "GEN_LEN"]
    assert bench.accuracy[0].target == 42.9865 * 0.99 and bench.compliance == ()
    assert rnd.required_scenarios("gptj-99", "edge") == (SS, OFF)
    assert mlperf_rules.rules_round("resnet50", "v5.1").version == "v5.1"


def test_required_and_optional_scenarios():
    assert V61.required_scenarios("resnet50", "edge") == (SS, MS, OFF)
    assert V61.required_scenarios("resnet50", "edge,datacenter") == (SS, MS, OFF, SRV)
    assert V61.required_scenarios("resnet50", "datacenter") is None  # dropped from datacenter in v5.1
    assert mlperf_rules.get_round("v5.0").required_scenarios("resnet50", "datacenter") == (SRV, OFF)
    assert V61.required_scenarios("llama2-70b-99.9", "datacenter") == (OFF,)
    assert V61.optional_scenarios("llama2-70b-99.9", "datacenter") == (INT, SRV)
    assert V61.one_of_scenarios("llama2-70b-99.9", "datacenter") == (SRV, INT)
    assert mlperf_rules.get_round("v5.0").one_of_scenarios("llama2-70b-99", "datacenter") == ()
    assert V61.required_scenarios("sdxl", "datacenter") is None
    assert mlperf_rules.get_round("v5.1").required_scenarios("sdxl", "datacenter") == (SRV, OFF)


def test_compliance_tests_and_audit_configs():
    assert V61.compliance_tests("resnet50") == ("TEST01", "TEST04")
    assert V61.compliance_tests("llama2-70b-99.9") == ("TEST06",)
    assert mlperf_rules.get_round("v4.1").compliance_tests("resnet50") == ("TEST01", "TEST04", "TEST05")
    assert mlperf_rules.get_round("v4.0").compliance_tests("sdxl") == ()
    assert V61.audit_config("TEST01", "resnet50") == {
        "*.*.mode": "2", "*.*.accuracy_log_rng_seed": "720381539243781796",
        "*.*.accuracy_log_sampling_target": "4096"}
    assert V61.audit_config("TEST01", "sdxl")["*.*.accuracy_log_sampling_target"] == "128"
    test04 = V61.audit_config("TEST04", "sdxl")
    assert test04["*.Offline.performance_issue_same_index"] == "3"
    assert test04["stable-diffusion-xl.Offline.min_query_count"] == "500"
    assert "stable-diffusion-xl.Offline.min_query_count" not in mlperf_rules.get_round("v4.0").audit_config("TEST04")
    assert V61.audit_config("TEST06", "llama2-70b-99.9")["*.*.min_duration"] == "0"
    assert V61.audit_config_text("TEST01", "resnet50").splitlines()[0] == "*.*.mode = 2"
    assert mlperf_rules.get_round("v5.0").audit_config_source("TEST01", "gptj-99") == \
        "compliance/nvidia/TEST01/gpt-j/audit.config"
    with pytest.raises(KeyError, match="no TEST09 audit.config for resnet50 in v4.0"):
        mlperf_rules.get_round("v4.0").audit_config("TEST09", "resnet50")


def test_numbers_that_matter():
    resnet = V61.benchmark("resnet50")
    assert resnet.performance_sample_count == 1024 and V61.dataset_size("resnet50") == 50000
    assert resnet.offline_min_spq == 24576 and resnet.server_latency_ms == 15
    assert [(m.key, m.target, m.expression) for m in resnet.accuracy] == [("acc", 76.46 * 0.99, "76.46 * 0.99")]
    sdxl = V61.benchmark("sdxl")
    assert [(m.key, m.target, m.upper) for m in sdxl.accuracy] == [
        ("CLIP_SCORE", 31.68631873, 31.81331801), ("FID_SCORE", 23.01085758, 23.95007626)]
    assert sdxl.delta_percent("FID_SCORE") == 2 and resnet.delta_percent("acc") == 1
    assert V61.benchmark("bert-99.9").delta_percent("F1") == 0.1
    llama = V61.benchmark("llama2-70b-99.9")
    assert llama.token_latency_ms == {SRV: (2000, 200), INT: (450, 40)}
    assert mlperf_rules.get_round("v5.1").dataset_size("dlrm-v2-99") == 330067
    assert not mlperf_rules.get_round("v4.1").dataset_size_checked
    assert V61.min_duration_ms == 600_000


@pytest.mark.parametrize("version", ["v5.0", "v5.1", "v6.0", "v6.1"])
def test_rgat_rules_in_every_round_since_v5_0(version):
    """MODEL_CONFIG[version]["rgat"] (b66003e1; v5.0: 7bf59976) and compliance/TEST01/rgat/audit.config."""
    rnd = mlperf_rules.get_round(version)
    assert rnd.canonical("rgat") == "rgat" and "rgat" in rnd.models
    assert rnd.required_scenarios("rgat", "datacenter") == (OFF,)
    assert rnd.required_scenarios("rgat", "datacenter,edge") == (OFF,)
    assert rnd.required_scenarios("rgat", "edge") is None and rnd.optional_scenarios("rgat", "datacenter") == ()
    bench = rnd.benchmark("rgat")
    assert [(m.key, m.target, m.expression) for m in bench.accuracy] == [("acc", 0.7286 * 0.99, "0.7286 * 0.99")]
    assert (bench.performance_sample_count, rnd.dataset_size("rgat"), bench.offline_min_spq) == (788379,) * 3
    assert bench.loadgen_name == "rgat" and rnd.compliance_tests("rgat") == ("TEST01",)
    assert rnd.audit_config("TEST01", "rgat")["*.*.accuracy_log_sampling_target"] == "4096"
    assert rnd.audit_config_source("TEST01", "rgat").endswith("TEST01/rgat/audit.config")
    assert bench.delta_percent("acc") == 1.0
    line = "accuracy=72.860%, good=574413, total=788379"  # the reference's accuracy_igbh.py line
    assert float(re.match(rnd.acc_patterns["acc"], line).group(1)) == 72.86
    from mlperf_harness.workloads.rgat.accuracy import format_line

    assert format_line({"accuracy": 574413 / 788379, "good": 574413, "total": 788379}) == line
    assert mlperf_rules.accuracy_values(rnd, "rgat", line + "\n") == {"acc": 72.86}
    assert mlperf_rules.accuracy_check(rnd, "rgat", line + "\n") == []


def test_rgat_is_not_in_the_rounds_before_v5_0():
    for version in ("v4.0", "v4.1"):
        assert mlperf_rules.get_round(version).benchmark("rgat") is None


def test_every_round_has_the_35_system_fields():
    for rnd in mlperf_rules.ROUNDS.values():
        assert len(rnd.system_fields) == 35 == len(set(rnd.system_fields))
        assert rnd.system_fields[:3] == ("division", "submitter", "status")
        assert set(mlperf_rules.SYSTEM_FIELDS_NON_EMPTY) < set(rnd.system_fields)


def test_layouts():
    v6, v5 = V61.layout, mlperf_rules.get_round("v5.1").layout
    assert str(v6.perf_run_dir("box", "resnet50", OFF)) == "results/box/resnet50/Offline/performance/run_1"
    assert str(v6.compliance_dir("box", "resnet50", OFF, "TEST01")) == "results/box/resnet50/Offline/TEST01"
    assert str(v6.measurements_file("box", "resnet50", OFF, "impl")) == "results/box/resnet50/Offline/measurements.json"
    assert str(v6.src_dir("resnet50", "impl")) == "src/resnet50" and str(v6.code_required("resnet50")) == "src"
    assert str(v5.compliance_dir("box", "resnet50", OFF, "TEST01")) == "compliance/box/resnet50/Offline/TEST01"
    assert str(v5.measurements_file("box", "resnet50", OFF, "impl")) == \
        "measurements/box/resnet50/Offline/box_impl_Offline.json"
    assert str(v5.src_dir("resnet50", "impl")) == "code/resnet50/impl"
    assert v5.exact_file_lists and not v6.exact_file_lists and v5.calibration_required
    assert "mlperf.conf" in mlperf_rules.get_round("v4.1").layout.measurement_files
    assert "mlperf.conf" not in mlperf_rules.get_round("v5.0").layout.measurement_files


@pytest.mark.parametrize("version", mlperf_rules.versions())
def test_harness_accuracy_lines_match_every_rounds_patterns(version):
    rnd = mlperf_rules.get_round(version)
    assert mlperf_rules.accuracy_values(rnd, "resnet50", RESNET_LINE) == {"acc": 76.5}
    assert mlperf_rules.accuracy_check(rnd, "resnet50", RESNET_LINE) == []
    if rnd.benchmark("sdxl"):
        assert mlperf_rules.accuracy_values(rnd, "sdxl", SDXL_LINES) == {"CLIP_SCORE": 31.75, "FID_SCORE": 23.5}
        assert mlperf_rules.accuracy_check(rnd, "sdxl", SDXL_LINES) == []
    for model in ("llama2-70b-99", "llama2-70b-99.9"):
        if rnd.benchmark(model):
            assert mlperf_rules.accuracy_values(rnd, model, LLAMA2_LINE) == {
                "ROUGE1": 44.5, "ROUGE2": 22.1, "ROUGEL": 28.7, "TOKENS_PER_SAMPLE": 294.5}
            assert mlperf_rules.accuracy_check(rnd, model, LLAMA2_LINE) == []
    if rnd.benchmark("gptj-99"):
        assert mlperf_rules.accuracy_values(rnd, "gptj-99", GPTJ_LINE) == {
            "ROUGE1": 43.0, "ROUGE2": 20.2, "ROUGEL": 30.0, "GEN_LEN": 3700000}
        assert mlperf_rules.accuracy_check(rnd, "gptj-99", GPTJ_LINE) == []


def test_the_literal_lines_are_what_the_harness_writes():
    from mlperf_harness.workloads.imagenet import accuracy as imagenet
    from mlperf_harness.workloads.llm import accuracy as llm
    from mlperf_harness.workloads.sdxl import accuracy as sdxl

    assert imagenet.format_line(38250, 50000) == RESNET_LINE
    assert "\n".join(sdxl.lines({"CLIP_SCORE": 31.75, "FID_SCORE": 23.5})) + "\n" == SDXL_LINES
    assert llm.format_line(ast.literal_eval(LLAMA2_LINE)) == LLAMA2_LINE


def test_accuracy_check_failures():
    low = RESNET_LINE.replace("76.500", "70.000")
    assert mlperf_rules.accuracy_check(V61, "resnet50", low) == ["acc=70 is below the target 75.6954"]
    assert mlperf_rules.accuracy_check(V61, "resnet50", low, division="open") == []
    assert mlperf_rules.accuracy_check(V61, "resnet50", "hash=ab\n")[0].startswith("no acc value found")
    high = SDXL_LINES.replace("23.50000000", "24.00000000")
    assert mlperf_rules.accuracy_check(V61, "sdxl", high) == ["FID_SCORE=24 is above the upper limit 23.9501"]
    many = LLAMA2_LINE.replace("'tokens_per_sample': 294.5", "'tokens_per_sample': 400.0")
    assert mlperf_rules.accuracy_check(V61, "llama2-70b-99.9", many) == [
        "TOKENS_PER_SAMPLE=400 is above the upper limit 323.8950"]
    # rougeLsum must not be read as rougeL
    assert mlperf_rules.accuracy_values(V61, "llama2-70b-99.9", "{'rougeLsum': 1.0, 'rougeL': 28.7}")["ROUGEL"] == 28.7
    # v4.0's acc pattern is anchored: the JSON form later rounds accept does not match it
    assert mlperf_rules.accuracy_values(mlperf_rules.get_round("v4.0"), "resnet50", '{"accuracy": 76.5}') == {
        "acc": None}
    assert mlperf_rules.accuracy_values(V61, "resnet50", '{"accuracy": 76.5}') == {"acc": 76.5}


def test_every_pattern_compiles_and_every_metric_has_one():
    for rnd in mlperf_rules.ROUNDS.values():
        for pattern in rnd.acc_patterns.values():
            assert re.compile(pattern).groups >= 1
        for bench in rnd.benchmarks.values():
            assert bench.name in rnd.models
            assert all(m.key in rnd.acc_patterns for m in bench.accuracy)
            assert all((t, None) in rnd.audit_configs for t in bench.compliance if t != "TEST01")
            if "TEST01" in bench.compliance:
                assert ("TEST01", bench.test01_audit_dir) in rnd.audit_configs


def test_every_implemented_model_has_rules_in_some_round():
    """The consistency that would have caught gptj running without checker rules."""
    models = yaml.safe_load((ROOT / "matrix.yaml").read_text())["models"]
    implemented = sorted(m for m, spec in models.items() if spec.get("implemented"))
    assert implemented, "matrix.yaml marks no model implemented"
    assert [m for m in implemented if mlperf_rules.rules_round(m) is None] == []
    assert set(models) <= set(mlperf_rules.OUR_MODELS)  # every matrix model is mapped to a benchmark


def test_rulebook_is_standard_library_only():
    """The harness imports it inside containers: nothing outside the standard library, nothing of mlperfctl."""
    code = ("import sys, mlperf_rules; "
            "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'mlperfctl', 'mlperf_harness', 'yaml', "
            "'pydantic', 'typer', 'numpy'}); print(bad)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    for path in (ROOT / "mlperf_rules").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                assert node.module.split(".")[0] in sys.stdlib_module_names | {"__future__"}, (path, node.module)
            elif isinstance(node, ast.Import):
                assert all(a.name.split(".")[0] in sys.stdlib_module_names for a in node.names), path


def test_result_fields():
    assert V61.result_field("resnet50", OFF) == "result_samples_per_second"
    assert V61.result_field("resnet50", SS) == "early_stopping_latency_ss"
    assert V61.result_field(None, INT) == "result_completed_samples_per_sec"
    assert V61.result_field("llama2-70b-99.9", SRV) == "result_completed_tokens_per_second"
    assert mlperf_rules.get_round("v4.0").result_field("resnet50", SRV) == "result_scheduled_samples_per_sec"
    assert mlperf_rules.get_round("v5.0").result_field("gptj-99", OFF) == "result_inferred_tokens_per_second"


@pytest.mark.parametrize("version", ["v6.0", "v6.1"])
def test_yolo_rules_as_the_modular_checker_writes_them(version):
    """MODEL_CONFIG[version]'s yolo-95/yolo-99 rows (constants.py, mlcommons/inference b66003e1)."""
    rnd = mlperf_rules.get_round(version)
    for model, factor in (("yolo-95", 0.95), ("yolo-99", 0.99)):
        bench = rnd.benchmark(model)
        assert bench.name == model and bench.loadgen_name == "yolo"
        assert [(m.key, m.target, m.expression) for m in bench.accuracy] == [("mAP", 53.4 * factor, f"53.4 * {factor}")]
        assert rnd.required_scenarios(model, "edge") == (SS, MS, OFF)
        assert rnd.required_scenarios(model, "datacenter,edge") == (SS, MS, OFF)
        assert rnd.required_scenarios(model, "datacenter") is None  # edge only
        assert bench.performance_sample_count == 64 and rnd.dataset_size(model) == 1525
        assert bench.offline_min_spq == 1525 and bench.delta_percent("mAP") == 1
        assert rnd.compliance_tests(model) == ("TEST01",)
        assert rnd.audit_config("TEST01", model)["*.*.accuracy_log_sampling_target"] == "64"
        assert rnd.audit_config_source("TEST01", model) == "compliance/TEST01/yolo/audit.config"
    # reference accuracy-coco.py's line; the round's pattern reads the percentage
    assert mlperf_rules.accuracy_values(rnd, "yolo-99", "mAP=53.103%") == {"mAP": 53.103}
    assert mlperf_rules.accuracy_check(rnd, "yolo-95", "mAP=53.103%") == []
    assert mlperf_rules.accuracy_check(rnd, "yolo-99", "mAP=52.000%")  # below 52.866


def test_yolo_has_no_rules_before_v6_0():
    assert mlperf_rules.latest_closed_round("yolo-99") == "v6.1"
    for version in ("v5.1", "v5.0", "v4.1", "v4.0"):
        assert mlperf_rules.get_round(version).benchmark("yolo-95") is None
        assert ("TEST01", "yolo") not in mlperf_rules.get_round(version).audit_configs


def test_interactive_in_the_rulebook():
    """Interactive: an optional llama2-70b scenario from v5.1 on (v5.0 had llama2-70b-interactive as a benchmark of
    its own); its result key is the Server one's (the checker looks it up by the run's effective scenario)."""
    for version in ("v5.1", "v6.0", "v6.1"):
        rnd = mlperf_rules.get_round(version)
        assert rnd.listed_scenarios("llama2-70b-99.9", "datacenter") == (OFF, SRV, INT)
        assert rnd.benchmark("llama2-70b-99.9").token_latency_ms[INT] == (450, 40)
        assert rnd.result_field("llama2-70b-99.9", INT) == rnd.result_field("llama2-70b-99.9", SRV)
        assert rnd.result_field("resnet50", INT) == "result_completed_samples_per_sec"
    for version in ("v4.0", "v4.1", "v5.0"):
        assert INT not in mlperf_rules.get_round(version).listed_scenarios("llama2-70b-99")
    assert mlperf_rules.get_round("v6.0").listed_scenarios("llama2-70b-99", "edge") == ()
    assert INT not in V61.listed_scenarios("resnet50")


@pytest.mark.parametrize("version", ["v5.1", "v6.0", "v6.1"])
def test_whisper_rules_as_the_checkers_write_them(version):
    """tag v5.1.1's submission_checker.py and b66003e1's constants.py MODEL_CONFIG v5.1/v6.0/v6.1: Offline on every
    system type, ACCURACY >= (100.0 - 2.0671) * 0.99, 1633 samples, TEST01 only, tokens per second."""
    rnd = mlperf_rules.get_round(version)
    assert rnd.canonical("whisper") == "whisper" and "whisper" in rnd.models
    for system in ("datacenter", "edge", "datacenter,edge"):
        assert rnd.required_scenarios("whisper", system) == (OFF,)
        assert rnd.optional_scenarios("whisper", system) == ()
    (acc,) = rnd.accuracy_targets("whisper")
    assert (acc.key, acc.target, acc.expression) == ("ACCURACY", (100.0 - 2.0671) * 0.99, "(100.0 - 2.0671) * 0.99")
    assert acc.target == pytest.approx(96.953571)
    bench = rnd.benchmark("whisper")
    assert (bench.performance_sample_count, rnd.dataset_size("whisper"), bench.offline_min_spq) == (1633, 1633, 1633)
    assert rnd.compliance_tests("whisper") == ("TEST01",) and bench.delta_percent("ACCURACY") == 1
    assert rnd.audit_config("TEST01", "whisper")["*.*.accuracy_log_sampling_target"] == "4096"
    assert rnd.audit_config_source("TEST01", "whisper") == "compliance/TEST01/whisper/audit.config"
    assert rnd.result_field("whisper", OFF) == "result_tokens_per_second"
    assert bench.loadgen_name == "whisper" and bench.accuracy_log_dtype == "int64"
    # the reference's line (speech2text/README.md's target line) is what the ACCURACY pattern reads
    line = "Word Error Rate: 2.0671%, accuracy=97.9329%"
    assert mlperf_rules.accuracy_values(rnd, "whisper", line) == {"ACCURACY": 97.9329}
    assert mlperf_rules.accuracy_check(rnd, "whisper", line) == []
    low = "Word Error Rate: 4.0%, accuracy=96.0%"
    assert mlperf_rules.accuracy_check(rnd, "whisper", low) == ["ACCURACY=96 is below the target 96.9536"]


def test_whisper_is_not_a_benchmark_before_v51():
    assert mlperf_rules.latest_closed_round("whisper") == "v6.1"
    for version in ("v4.0", "v4.1", "v5.0"):
        assert mlperf_rules.get_round(version).benchmark("whisper") is None
