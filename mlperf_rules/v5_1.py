"""MLPerf Inference v5.1 (checker: tag v5.1.1, tools/submission/submission_checker.py, MODEL_CONFIG["v5.1"])."""

from . import common as c
from .types import INT, MS, OFF, SRV, SS, Layout, Round, Seeds

_LLAMA2_REQ = {"datacenter": (OFF,), "datacenter,edge": (OFF,)}
_LLAMA2_OPT = {"datacenter": (INT, SRV), "datacenter,edge": (INT, SRV)}
_LLAMA2_TOKENS = {SRV: (2000, 200), INT: (450, 40)}
_BERT_REQ = {"edge": (SS, OFF), "datacenter,edge": (SS, OFF)}

ROUND = Round(
    version="v5.1",
    source="mlcommons/inference tag v5.1.1: tools/submission/submission_checker.py",
    seeds=Seeds(1780908523862526354, 14771362308971278857, 18209322760996052031),
    loadgen_versions=("5.0.22", "5.0.23", "5.0.24", "5.0.25", "5.1.0", "5.1.1", "5.1.2", "6.0.3", "6.0.4"),
    loadgen_pin="5.1.1",
    models=("resnet", "retinanet", "bert-99", "bert-99.9", "dlrm-v2-99", "dlrm-v2-99.9", "3d-unet-99",
            "3d-unet-99.9", "llama3.1-8b", "llama3.1-8b-edge", "llama2-70b-99", "llama2-70b-99.9",
            "stable-diffusion-xl", "mixtral-8x7b", "llama3.1-405b", "rgat", "pointpainting", "deepseek-r1",
            "whisper"),
    benchmarks={b.name: b for b in (
        c.resnet(("TEST01", "TEST04"), required={"edge": (SS, MS, OFF), "datacenter,edge": (SS, MS, OFF, SRV)}),
        c.retinanet(("TEST01",)),
        c.bert("bert-99", ("TEST01",), _BERT_REQ),
        c.bert("bert-99.9", ("TEST01",), _BERT_REQ),
        c.dlrm_v2("dlrm-v2-99", ("TEST01",)),
        c.dlrm_v2("dlrm-v2-99.9", ("TEST01",)),
        c.unet3d("3d-unet-99", ("TEST01",)),
        c.unet3d("3d-unet-99.9", ("TEST01",)),
        c.llama2("llama2-70b-99", _LLAMA2_REQ, _LLAMA2_TOKENS, _LLAMA2_OPT),
        c.llama2("llama2-70b-99.9", _LLAMA2_REQ, _LLAMA2_TOKENS, _LLAMA2_OPT),
        c.llama31_8b(),
        c.llama31_8b_edge(),
        c.sdxl(("TEST01", "TEST04")),
        c.rgat(),
        c.whisper(),
    )},
    model_mapping={"ssd-resnet34": "retinanet", "mobilenet": "resnet", "resnet50": "resnet",
                   "llama3_1-405b": "llama3.1-405b", "llama3_1-8b": "llama3.1-8b",
                   "llama3_1-8b-edge": "llama3.1-8b-edge"},
    acc_patterns=c.PATTERNS_V51,
    layout=Layout("v5", measurement_files=("user.conf", "README.md"), calibration_required=True),
    audit_configs=c.audit_configs(sdxl_test04=True, test05=False),
    compliance_root="compliance",
    system_fields=c.SYSTEM_FIELDS,
    result_fields=c.RESULT_FIELDS_V41,
    server_or_interactive_required=True,
)
