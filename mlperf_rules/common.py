"""Facts shared by several rounds: system description fields, accuracy.txt patterns, audit.config files,
and builders for the benchmarks whose numbers stay the same from round to round.

Sources (mlcommons/inference): tools/submission/submission_checker.py at the round tags,
tools/submission/submission_checker/constants.py (HEAD), compliance/[nvidia/]TESTxx/**/audit.config,
loadgen/mlperf.conf; summarised in ../shared/mlperf-rounds.md.
"""

from __future__ import annotations

from .types import INT, MS, OFF, SRV, SS, Benchmark, Metric

MAX_ACCURACY_LOG_SIZE = 10 * 1024  # bytes; truncation keeps the first and last 4096 characters
TRUNCATE_KEEP = 4096
FILE_SIZE_LIMIT = 50 * 1024 * 1024
HASH_PATTERN = r"^hash=([\w\d]+)$"  # accuracy.txt line written by the truncation step
MEASUREMENT_FIELDS = ("input_data_types", "retraining", "starting_weights_filename", "weight_data_types",
                      "weight_transformations")

# systems/<system>.json: the same 35 names, in this order, in every round v4.0 ... v6.1
SYSTEM_FIELDS = (
    "division", "submitter", "status", "system_name", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
    "host_memory_capacity", "host_storage_capacity", "host_storage_type", "accelerators_per_node",
    "accelerator_model_name", "accelerator_memory_capacity", "framework", "operating_system",
    "system_type", "other_software_stack", "host_processor_frequency", "host_processor_caches",
    "host_memory_configuration", "host_processor_interconnect", "host_networking",
    "host_networking_topology", "accelerator_frequency", "accelerator_host_interconnect",
    "accelerator_interconnect", "accelerator_interconnect_topology",
    "accelerator_memory_configuration", "accelerator_on-chip_memories", "cooling", "hw_notes",
    "sw_notes", "host_network_card_count", "system_type_detail",
)
# ... of which these must hold a meaningful (non-empty) value
SYSTEM_FIELDS_NON_EMPTY = (
    "division", "submitter", "system_type", "status", "system_name", "number_of_nodes",
    "host_processor_model_name", "host_processors_per_node", "host_processor_core_count",
    "host_memory_capacity", "host_memory_configuration", "host_storage_capacity", "host_storage_type",
    "host_networking", "host_network_card_count", "host_networking_topology", "accelerators_per_node",
    "accelerator_model_name", "accelerator_memory_capacity", "accelerator_host_interconnect",
    "accelerator_memory_configuration", "accelerator_interconnect", "cooling", "framework",
    "operating_system", "other_software_stack",
)
SYSTEM_STATUS = ("available", "preview", "rdi")  # compared lower-cased
DIVISIONS = ("closed", "open", "network")

# accuracy.txt patterns (group 1 = the value), three generations
_PATTERNS_COMMON = {
    "AUC": r"^AUC=([\d\.]+).*",
    "DICE": r"Accuracy\:\s*mean\s*=\s*([\d\.]+).*",
    "F1": r"^{[\"\']exact_match[\"\']\:\s*[\d\.]+,\s*[\"\']f1[\"\']\:\s*([\d\.]+)}",
    "GEN_LEN": r".*'gen_len':\s([\d.]+).*",
    "TOKENS_PER_SAMPLE": r".*'tokens_per_sample':\s([\d.]+).*",
}
PATTERNS_V40 = {  # tag v4.0
    **_PATTERNS_COMMON,
    "acc": r"^accuracy=([\d\.]+).*",
    "mAP": r"^mAP=([\d\.]+).*",
    "WER": r"Word Error Rate\:.*, accuracy=([0-9\.]+)%",
    "ROUGE1": r".*'rouge1':\s([\d.]+).*",
    "ROUGE2": r".*'rouge2':\s([\d.]+).*",
    "ROUGEL": r".*'rougeL':\s([\d.]+).*",
    "CLIP_SCORE": r".*'CLIP_SCORE':\s([\d.]+).*",
    "FID_SCORE": r".*'FID_SCORE':\s([\d.]+).*",
}
PATTERNS_V41 = {**PATTERNS_V40, "gsm8k_accuracy": r".*'gsm8k':\s([\d.]+).*",
                "mbxp_accuracy": r".*'mbxp':\s([\d.]+).*"}
PATTERNS_V50 = {  # the v5.0 submission-window checker (7bf59976); v5.1 adds ROUGELSUM and ACCURACY
    **_PATTERNS_COMMON,
    "acc": r"^(?:\{\"accuracy|accuracy)[\": ]*=?\s*([\d\.]+).*",
    "mAP": r".*(?:mAP=|'Total':)\s*([\d.]+)",
    "ROUGE1": r".*'rouge1':\s+'?([\d.]+)'?.*",
    "ROUGE2": r".*'rouge2':\s+'?([\d.]+)'?.*",
    "ROUGEL": r".*'rougeL':\s+'?([\d.]+)'?.*",
    "CLIP_SCORE": r".*'CLIP_SCORE':\s+'?([\d.]+).*",
    "FID_SCORE": r".*'FID_SCORE':\s+'?([\d.]+).*",
    "exact_match": r".*'exact_match':\s([\d.]+).*",
    "gsm8k_accuracy": r".*'gsm8k':\s([\d.]+).*",
    "mbxp_accuracy": r".*'mbxp':\s([\d.]+).*",
}
PATTERNS_V51 = {**PATTERNS_V50, "ROUGELSUM": r".*'rougeLsum':\s+'?([\d.]+)'?.*",
                "ACCURACY": r"Word Error Rate\:.*, accuracy=([0-9\.]+)%"}
PATTERNS_V60 = {
    **PATTERNS_V51,
    "DLRM_NE": r".*metric/lifetime_ne/rating:\s*([\d\.]+).*",
    "DLRM_ACC": r".*metric/lifetime_accuracy/rating:\s*([\d\.]+).*",
    "DLRM_AUC": r".*metric/lifetime_gauc/rating:\s*([\d\.]+).*",
    "F1_HIERARCHICAL": r"\{.*\"f1\":\s*([\d\.]+).*\}",
    "vbench_score": r".*'vbench_score':\s([\d.]+).*",
}
PATTERNS_V61 = {**PATTERNS_V60, "E2E_ACCURACY": r"Accuracy:\s*([\d\.]+)"}

# detail-log key of each scenario's result
RESULT_FIELDS_V40 = {OFF: "result_samples_per_second", SS: "early_stopping_latency_ss",
                     MS: "early_stopping_latency_ms", SRV: "result_scheduled_samples_per_sec"}
RESULT_FIELDS_V41 = {**RESULT_FIELDS_V40, SRV: "result_completed_samples_per_sec"}
RESULT_FIELDS_V61 = {**RESULT_FIELDS_V41, "Interactive": "result_completed_samples_per_sec"}
LLAMA2_RESULT_FIELDS_V40 = {OFF: "result_tokens_per_second", SRV: "result_completed_samples_per_sec"}
LLAMA2_RESULT_FIELDS = {OFF: "result_tokens_per_second", SRV: "result_completed_tokens_per_second"}
GPTJ_RESULT_FIELDS = {OFF: "result_inferred_tokens_per_second", SRV: "result_inferred_completed_tokens_per_second"}

# audit.config files: (test, TEST01 benchmark dir or None) -> ((key, value), ...)
ACCURACY_LOG_RNG_SEED = "720381539243781796"
TEST01_SAMPLING_TARGET = {"resnet50": 4096, "retinanet": 256, "bert": 4096, "dlrm": 4096, "dlrm-v2": 4096,
                          "3d-unet": 64, "rnnt": 4096, "gpt-j": 4096, "stable-diffusion-xl": 128,
                          "rgat": 4096}  # rgat: compliance/TEST01/rgat (audit.conf until f9813a4e), v5.0 on
TEST01_SAMPLING_TARGET["whisper"] = 4096  # compliance/TEST01/whisper (6a5fcc53, 2025-07-08; tag v5.1.1 ... HEAD)


def _test01(target: int) -> tuple[tuple[str, str], ...]:
    return (("*.*.mode", "2"), ("*.*.accuracy_log_rng_seed", ACCURACY_LOG_RNG_SEED),
            ("*.*.accuracy_log_sampling_target", str(target)))


_TEST04_BASE = tuple((f"*.{s}.{k}", v) for k, v in (("mode", "2"), ("performance_issue_unique", "0"),
                                                     ("performance_issue_same", "1"),
                                                     ("performance_issue_same_index", "3"))
                     for s in (MS, OFF, SS, SRV))
TEST06 = (("*.*.mode", "2"), ("*.*.accuracy_log_rng_seed", ACCURACY_LOG_RNG_SEED),
          ("*.*.accuracy_log_sampling_target", "100"), ("*.*.min_query_count", "100"), ("*.*.min_duration", "0"),
          ("*.*.sample_concatenate_permutation", "0"))


_TEST04_WAN = (("wan-2.2-t2v-a14b.Offline.min_query_count", "20"),
               ("wan-2.2-t2v-a14b.SingleStream.min_query_count", "20"))


def audit_configs(*, sdxl_test04: bool, test05: bool, wan_test04: bool = False,
                  test01_dirs=tuple(TEST01_SAMPLING_TARGET)) -> dict:
    configs = {("TEST01", d): _test01(TEST01_SAMPLING_TARGET[d]) for d in test01_dirs}
    configs[("TEST04", None)] = (_TEST04_BASE + ((("stable-diffusion-xl.Offline.min_query_count", "500"),)
                                                 if sdxl_test04 else ()) + (_TEST04_WAN if wan_test04 else ()))
    configs[("TEST06", None)] = TEST06
    if test05:
        configs[("TEST05", None)] = (("*.*.test05", "1"),)
    return configs


# -- benchmark builders: numbers as the checker writes them, multiplied out here ---------------------------
def target(key: str, base: float, factor: float, expression: str | None = None) -> Metric:
    return Metric(key, base * factor, expression or f"{base} * {factor}")


def window(key: str, low: float, high: float) -> Metric:
    return Metric(key, low, str(low), high, str(high))


def resnet(compliance, required=None, **kw) -> Benchmark:
    required = required or {"datacenter": (SRV, OFF), "edge": (SS, MS, OFF), "datacenter,edge": (SS, OFF, MS, SRV)}
    return Benchmark("resnet", required, (target("acc", 76.46, 0.99),), 1024, 50000, 24576, compliance, "resnet50",
                     server_latency_ms=15, accuracy_log_dtype="float32", test01_audit_dir="resnet50", **kw)


def retinanet(compliance, **kw) -> Benchmark:
    kw.setdefault("required", {"datacenter": (SRV, OFF), "edge": (SS, MS, OFF), "datacenter,edge": (SS, OFF, MS, SRV)})
    return Benchmark("retinanet", accuracy=(target("mAP", 37.55, 0.99),), performance_sample_count=64,
                     dataset_size=24781, offline_min_spq=24576, compliance=compliance, loadgen_name="retinanet",
                     server_latency_ms=100, accuracy_log_dtype="float32", test01_audit_dir="retinanet", **kw)


def bert(name: str, compliance, required, server_latency_ms=None) -> Benchmark:
    factor = 0.999 if name.endswith("99.9") else 0.99
    return Benchmark(name, required, (target("F1", 90.874, factor),), 10833, 10833, 10833, compliance, "bert",
                     server_latency_ms=server_latency_ms, accuracy_log_dtype="float32", test01_audit_dir="bert")


def dlrm_v2(name: str, compliance, required=None) -> Benchmark:
    factor = 0.999 if name.endswith("99.9") else 0.99
    return Benchmark(name, required or {"datacenter": (SRV, OFF), "datacenter,edge": (OFF, SRV)},
                     (target("AUC", 80.31, factor),), 204800, 330067, 24576, compliance, "dlrm-v2",
                     server_latency_ms=60, accuracy_log_dtype="float32", test01_audit_dir="dlrm-v2")


def unet3d(name: str, compliance) -> Benchmark:
    factor = 0.999 if name.endswith("99.9") else 0.99
    return Benchmark(name, {"datacenter": (OFF,), "edge": (SS, OFF), "datacenter,edge": (SS, OFF)},
                     (target("DICE", 0.86170, factor),), 43, 43, 43, compliance, "3d-unet",
                     accuracy_log_dtype="uint8", test01_audit_dir="3d-unet")


def gptj(name: str, compliance, result_fields=None) -> Benchmark:
    factor = 0.999 if name.endswith("99.9") else 0.99
    metrics = (target("ROUGE1", 42.9865, factor), target("ROUGE2", 20.1235, factor),
               target("ROUGEL", 29.9881, factor), target("GEN_LEN", 4016878, 0.9))
    return Benchmark(name, {"datacenter": (SRV, OFF), "edge": (SS, OFF), "datacenter,edge": (SS, OFF, SRV)},
                     metrics, 13368, 13368, 13368, compliance, "gptj", server_latency_ms=20000,
                     accuracy_log_dtype="int64", test01_audit_dir="gpt-j", result_fields=result_fields or {})


def llama2(name: str, required, token_latency_ms, optional=None, result_fields=LLAMA2_RESULT_FIELDS) -> Benchmark:
    factor = 0.999 if name.endswith("99.9") else 0.99
    metrics = (target("ROUGE1", 44.4312, factor), target("ROUGE2", 22.0352, factor),
               target("ROUGEL", 28.6162, factor),
               Metric("TOKENS_PER_SAMPLE", 294.45 * 0.9, "294.45 * 0.9", 294.45 * 1.1, "294.45 * 1.1"))
    return Benchmark(name, required, metrics, 24576, 24576, 24576, ("TEST06",), "llama2-70b",
                     optional=optional or {}, server_latency_ms=20000, token_latency_ms=token_latency_ms,
                     accuracy_log_dtype="int32", result_fields=result_fields)


# llama3.1-8b (datacenter) and llama3.1-8b-edge, the same in v5.1 (tag v5.1.1) and in constants.py at b66003e1 for
# v6.0 and v6.1: ROUGE targets and the generated-length window (GEN_LEN: characters summed over the dataset),
# TTFT/TPOT p99 limits (Server 2000/100 ms, Interactive 500/30 ms), TEST06 for the datacenter model and no
# compliance test for -edge, int32 token ids (SUT_VLLM.py's responses; README: evaluation.py --dtype int32)
LLAMA31_8B_RESULT_FIELDS = {OFF: "result_tokens_per_second", SRV: "result_completed_tokens_per_second"}
LLAMA31_8B_EDGE_RESULT_FIELDS = {OFF: "result_tokens_per_second", SS: "result_90.00_percentile_latency_ns"}


def llama31_8b() -> Benchmark:
    metrics = (target("ROUGE1", 38.7792, 0.99), target("ROUGE2", 15.9075, 0.99), target("ROUGEL", 24.4957, 0.99),
               target("ROUGELSUM", 35.793, 0.99),
               Metric("GEN_LEN", 8167644 * 0.9, "8167644 * 0.9", 8167644 * 1.1, "8167644 * 1.1"))
    return Benchmark("llama3.1-8b", {"datacenter": (OFF,), "datacenter,edge": (OFF,)}, metrics, 13368, 13368, 13368,
                     ("TEST06",), "llama3_1-8b", optional={"datacenter": (INT, SRV),
                                                           "datacenter,edge": (INT, SRV)},
                     server_latency_ms=20000, token_latency_ms={SRV: (2000, 100), INT: (500, 30)},
                     accuracy_log_dtype="int32", result_fields=LLAMA31_8B_RESULT_FIELDS)


def llama31_8b_edge() -> Benchmark:
    metrics = (target("ROUGE1", 39.06, 0.99), target("ROUGE2", 16.1147, 0.99), target("ROUGEL", 24.6375, 0.99),
               target("ROUGELSUM", 36.124, 0.99),
               Metric("GEN_LEN", 3051113 * 0.9, "3051113 * 0.9", 3051113 * 1.1, "3051113 * 1.1"))
    return Benchmark("llama3.1-8b-edge", {"edge": (SS, OFF), "datacenter,edge": (SS, OFF)}, metrics, 5000, 5000,
                     5000, (), "llama3_1-8b-edge", accuracy_log_dtype="int32",
                     result_fields=LLAMA31_8B_EDGE_RESULT_FIELDS)


def sdxl(compliance, required=None, delta=True) -> Benchmark:
    metrics = (window("CLIP_SCORE", 31.68631873, 31.81331801), window("FID_SCORE", 23.01085758, 23.95007626))
    return Benchmark("stable-diffusion-xl",
                     required or {"datacenter": (SRV, OFF), "edge": (SS, OFF), "datacenter,edge": (SS, OFF, SRV)},
                     metrics, 5000, 5000, 5000, compliance, "stable-diffusion-xl", server_latency_ms=20000,
                     test01_delta={"CLIP_SCORE": 1, "FID_SCORE": 2} if delta else {}, accuracy_log_dtype="uint8",
                     test01_audit_dir="stable-diffusion-xl")


def rgat(compliance=("TEST01",)) -> Benchmark:
    """R-GAT on IGBH-full, v5.0 ... v6.1 (checker constants b66003e1, v5.0 at 7bf59976): datacenter Offline only,
    acc >= 0.7286 * 0.99 on the 788379 validation papers; the reference answers one uint8 class byte per sample."""
    return Benchmark("rgat", {"datacenter": (OFF,), "datacenter,edge": (OFF,)}, (target("acc", 0.7286, 0.99),),
                     788379, 788379, 788379, compliance, "rgat", accuracy_log_dtype="uint8", test01_audit_dir="rgat")


# yolo-95 / yolo-99 (v6.0, v6.1; MODEL_CONFIG["v6.0"/"v6.1"] of the modular checker, mlcommons/inference b66003e1):
# accuracy-target ("mAP", 53.4 * 0.95 / 0.99), performance-sample-count 64, dataset-size 1525,
# OFFLINE_MIN_SPQ_SINCE_V4 1525, required SingleStream/MultiStream/Offline on edge and datacenter,edge, models_TEST01;
# LoadGen's mlperf.conf key is "yolo"; compliance/TEST01/yolo/audit.config (4757cd1d, 2026-01-29) samples 64
YOLO_AUDIT_CONFIGS = {("TEST01", "yolo"): _test01(64)}


def yolo(name: str, compliance=("TEST01",)) -> Benchmark:
    factor = 0.95 if name == "yolo-95" else 0.99
    scenarios = (SS, MS, OFF)
    return Benchmark(name, {"edge": scenarios, "datacenter,edge": scenarios}, (target("mAP", 53.4, factor),),
                     64, 1525, 1525, compliance, "yolo", accuracy_log_dtype="float32", test01_audit_dir="yolo")


def whisper(compliance=("TEST01",)) -> Benchmark:
    """whisper (v5.1 on; tag v5.1.1's checker and b66003e1's MODEL_CONFIG v5.1/v6.0/v6.1 agree): Offline on every
    system type, ACCURACY (100 - WER %) >= (100.0 - 2.0671) * 0.99, 1633 samples, its Offline result in tokens per
    second (mlperf.conf: use_token_latencies = 1), TEST01 (compliance/TEST01/whisper), int64 label ids in the log
    (speech2text/accuracy_eval.py's --output_dtype default)."""
    return Benchmark("whisper", {"datacenter": (OFF,), "edge": (OFF,), "datacenter,edge": (OFF,)},
                     (target("ACCURACY", 100.0 - 2.0671, 0.99, "(100.0 - 2.0671) * 0.99"),), 1633, 1633, 1633,
                     compliance, "whisper", accuracy_log_dtype="int64", test01_audit_dir="whisper",
                     result_fields={OFF: "result_tokens_per_second"})
