"""MLPerf Inference v4.1 (checker: tag v4.1, tools/submission/submission_checker.py, MODEL_CONFIG["v4.1"])."""

from . import common as c
from .types import OFF, SRV, Layout, Round, Seeds

_T15 = ("TEST01", "TEST05")
_LLAMA2_REQ = {"datacenter": (SRV, OFF), "datacenter,edge": (SRV, OFF)}
_LLAMA2_TOKENS = {"*": (2000, 200)}  # every non-Offline scenario ("conversational")

ROUND = Round(
    version="v4.1",
    source="mlcommons/inference tag v4.1: tools/submission/submission_checker.py",
    seeds=Seeds(3066443479025735752, 10688027786191513374, 14962580496156340209),
    test05_seeds=Seeds(16799458546791641818, 5453809927556429288, 5435552105434836064),
    loadgen_versions=("4.1.7", "4.1.12", "4.1.14", "4.1.16", "4.1.22", "4.1.23", "4.1.24", "4.1.25", "4.1.28",
                      "4.1.29", "4.1.30", "5.0.0", "5.0.1", "5.0.2", "5.0.3", "5.0.4", "5.0.5", "5.0.6", "5.0.7"),
    loadgen_pin="4.1.30",
    models=("resnet", "retinanet", "bert-99", "bert-99.9", "dlrm-v2-99", "dlrm-v2-99.9", "3d-unet-99",
            "3d-unet-99.9", "gptj-99", "gptj-99.9", "llama2-70b-99", "llama2-70b-99.9", "stable-diffusion-xl",
            "mixtral-8x7b"),
    benchmarks={b.name: b for b in (
        c.resnet(("TEST01", "TEST04", "TEST05")),
        c.retinanet(_T15),
        c.bert("bert-99", _T15, {"datacenter": (SRV, OFF), "edge": ("SingleStream", OFF),
                                 "datacenter,edge": ("SingleStream", OFF, SRV)}, server_latency_ms=130),
        c.bert("bert-99.9", _T15, {"datacenter": (SRV, OFF), "datacenter,edge": (OFF, SRV)}, server_latency_ms=130),
        c.dlrm_v2("dlrm-v2-99", _T15),
        c.dlrm_v2("dlrm-v2-99.9", _T15),
        c.unet3d("3d-unet-99", _T15),
        c.unet3d("3d-unet-99.9", _T15),
        c.gptj("gptj-99", (), c.GPTJ_RESULT_FIELDS),
        c.gptj("gptj-99.9", (), c.GPTJ_RESULT_FIELDS),
        c.llama2("llama2-70b-99", _LLAMA2_REQ, _LLAMA2_TOKENS),
        c.llama2("llama2-70b-99.9", _LLAMA2_REQ, _LLAMA2_TOKENS),
        c.sdxl(("TEST01", "TEST04")),
    )},
    model_mapping={"ssd-resnet34": "retinanet", "mobilenet": "resnet", "resnet50": "resnet"},
    acc_patterns=c.PATTERNS_V41,
    layout=Layout("v5", measurement_files=("user.conf", "README.md", "mlperf.conf")),
    audit_configs=c.audit_configs(sdxl_test04=True, test05=True),
    compliance_root="compliance/nvidia",
    system_fields=c.SYSTEM_FIELDS,
    result_fields=c.RESULT_FIELDS_V41,
    dataset_size_checked=False,
)
