"""MLPerf Inference v6.1 (checker: the modular tools/submission/submission_checker/constants.py,
MODEL_CONFIG["v6.1"], mlcommons/inference b66003e1; the round was still open there)."""

from . import common as c
from .types import INT, MS, OFF, SRV, SS, Layout, Round, Seeds

_BERT_REQ = {"edge": (SS, OFF), "datacenter,edge": (SS, OFF)}

ROUND = Round(
    version="v6.1",
    source="mlcommons/inference b66003e1: tools/submission/submission_checker/constants.py",
    seeds=Seeds(2085463073848966840, 2747215439041700203, 16159082839903944936),
    loadgen_versions=("6.0.16", "6.0.17"),
    loadgen_pin="6.0.17",
    models=("resnet", "bert-99", "bert-99.9", "3d-unet-99", "3d-unet-99.9", "llama3.1-8b", "llama3.1-8b-edge",
            "llama2-70b-99.9", "stable-diffusion-xl", "rgat", "deepseek-r1", "whisper", "gpt-oss-120b",
            "wan-2.2-t2v-a14b", "qwen3-vl-235b-a22b", "qwen3.6-27b", "dlrm-v3", "yolo-95", "yolo-99", "e2e-rag-qna",
            "e2e-rag-db"),
    benchmarks={b.name: b for b in (
        c.resnet(("TEST01", "TEST04"), required={"edge": (SS, MS, OFF), "datacenter,edge": (SS, MS, OFF, SRV)}),
        c.bert("bert-99", ("TEST01",), _BERT_REQ),
        c.bert("bert-99.9", ("TEST01",), _BERT_REQ),
        c.unet3d("3d-unet-99", ("TEST01",)),
        c.unet3d("3d-unet-99.9", ("TEST01",)),
        c.llama2("llama2-70b-99.9", {"datacenter": (OFF,), "datacenter,edge": (OFF,)},
                 {SRV: (2000, 200), INT: (450, 40)}, {"datacenter": (INT, SRV), "datacenter,edge": (INT, SRV)}),
        c.llama31_8b(),
        c.llama31_8b_edge(),
        c.sdxl(("TEST01", "TEST04"), required={"edge": (SS, OFF), "datacenter,edge": (SS, OFF, SRV)}),
        c.rgat(),
        c.yolo("yolo-95"),
        c.yolo("yolo-99"),
        c.whisper(),
    )},
    model_mapping={"ssd-resnet34": "retinanet", "mobilenet": "resnet", "resnet50": "resnet",
                   "llama3_1-405b": "llama3.1-405b", "llama3_1-8b": "llama3.1-8b",
                   "llama3_1-8b-edge": "llama3.1-8b-edge"},
    acc_patterns=c.PATTERNS_V61,
    layout=Layout("v6", measurement_files=("user.conf", "README.md")),
    audit_configs={**c.audit_configs(sdxl_test04=True, test05=False, wan_test04=True), **c.YOLO_AUDIT_CONFIGS},
    compliance_root="compliance",
    system_fields=c.SYSTEM_FIELDS,
    result_fields=c.RESULT_FIELDS_V61,
    server_or_interactive_required=True,
)
