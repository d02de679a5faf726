"""MLPerf Inference v6.0 (checker: the modular tools/submission/submission_checker/constants.py,
MODEL_CONFIG["v6.0"], mlcommons/inference b66003e1)."""

from . import common as c
from .types import INT, MS, OFF, SRV, SS, Layout, Round, Seeds

_LLAMA2_REQ = {"datacenter": (OFF,), "datacenter,edge": (OFF,)}
_LLAMA2_OPT = {"datacenter": (INT, SRV), "datacenter,edge": (INT, SRV)}
_LLAMA2_TOKENS = {SRV: (2000, 200), INT: (450, 40)}
_BERT_REQ = {"edge": (SS, OFF), "datacenter,edge": (SS, OFF)}
_EDGE_RESNET = {"edge": (SS, MS, OFF), "datacenter,edge": (SS, MS, OFF, SRV)}
_SDXL_REQ = {"edge": (SS, OFF), "datacenter,edge": (SS, OFF, SRV)}

ROUND = Round(
    version="v6.0",
    source="mlcommons/inference b66003e1: tools/submission/submission_checker/constants.py",
    seeds=Seeds(2465351861681999779, 14276810075590677512, 3936089224930324775),
    loadgen_versions=tuple(f"6.0.{n}" for n in range(5, 16)),
    loadgen_pin="6.0.15",
    models=("resnet", "retinanet", "bert-99", "bert-99.9", "3d-unet-99", "3d-unet-99.9", "llama3.1-8b",
            "llama3.1-8b-edge", "llama2-70b-99", "llama2-70b-99.9", "stable-diffusion-xl", "mixtral-8x7b",
            "llama3.1-405b", "rgat", "pointpainting", "deepseek-r1", "whisper", "gpt-oss-120b", "wan-2.2-t2v-a14b",
            "qwen3-vl-235b-a22b", "dlrm-v3", "yolo-95", "yolo-99"),
    benchmarks={b.name: b for b in (
        c.resnet(("TEST01", "TEST04"), required=_EDGE_RESNET),
        c.retinanet(("TEST01",), required={"datacenter,edge": (SS, OFF, MS, SRV)}),
        c.bert("bert-99", ("TEST01",), _BERT_REQ),
        c.bert("bert-99.9", ("TEST01",), _BERT_REQ),
        c.unet3d("3d-unet-99", ("TEST01",)),
        c.unet3d("3d-unet-99.9", ("TEST01",)),
        c.llama2("llama2-70b-99", _LLAMA2_REQ, _LLAMA2_TOKENS, _LLAMA2_OPT),
        c.llama2("llama2-70b-99.9", _LLAMA2_REQ, _LLAMA2_TOKENS, _LLAMA2_OPT),
        c.llama31_8b(),
        c.llama31_8b_edge(),
        c.sdxl(("TEST01", "TEST04"), required=_SDXL_REQ),
        c.rgat(),
        c.yolo("yolo-95"),
        c.yolo("yolo-99"),
        c.whisper(),
    )},
    model_mapping={"ssd-resnet34": "retinanet", "mobilenet": "resnet", "resnet50": "resnet",
                   "llama3_1-405b": "llama3.1-405b", "llama3_1-8b": "llama3.1-8b",
                   "llama3_1-8b-edge": "llama3.1-8b-edge"},
    acc_patterns=c.PATTERNS_V60,
    layout=Layout("v6", measurement_files=("user.conf", "README.md")),
    audit_configs={**c.audit_configs(sdxl_test04=True, test05=False, wan_test04=True), **c.YOLO_AUDIT_CONFIGS},
    compliance_root="compliance",
    system_fields=c.SYSTEM_FIELDS,
    result_fields=c.RESULT_FIELDS_V41,
    server_or_interactive_required=True,
)
