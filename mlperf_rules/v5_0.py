"""MLPerf Inference v5.0 (checker: commit 7bf59976, the monolithic submission_checker.py of the submission
window, MODEL_CONFIG["v5.0"]; accuracy dataset sizes from tag v5.1.1, which the modular checker also uses)."""

from . import common as c
from .types import MS, OFF, SRV, SS, Layout, Round, Seeds

_LLAMA2_REQ = {"datacenter": (SRV, OFF), "datacenter,edge": (SRV, OFF)}
_LLAMA2_TOKENS = {"*": (2000, 200)}  # every non-Offline scenario
_BERT_REQ = {"edge": (SS, OFF), "datacenter,edge": (SS, OFF)}

ROUND = Round(
    version="v5.0",
    source="mlcommons/inference commit 7bf59976 (2025-02-14): tools/submission/submission_checker.py",
    seeds=Seeds(6023615788873153749, 15036839855038426416, 9933818062894767841),
    loadgen_versions=tuple(f"5.0.{n}" for n in range(9, 22)),
    loadgen_pin="5.0.21",
    models=("resnet", "retinanet", "bert-99", "bert-99.9", "dlrm-v2-99", "dlrm-v2-99.9", "3d-unet-99",
            "3d-unet-99.9", "gptj-99", "gptj-99.9", "llama2-70b-99", "llama2-70b-99.9", "llama2-70b-interactive-99",
            "llama2-70b-interactive-99.9", "stable-diffusion-xl", "mixtral-8x7b", "llama3.1-405b", "rgat",
            "pointpainting"),
    benchmarks={b.name: b for b in (
        c.resnet(("TEST01", "TEST04")),
        c.retinanet(("TEST01",), required={"datacenter": (SRV, OFF), "edge": (SS, MS, OFF),
                                           "datacenter,edge": (SS, OFF, MS, SRV)}),
        c.bert("bert-99", ("TEST01",), _BERT_REQ),
        c.bert("bert-99.9", ("TEST01",), _BERT_REQ),
        c.dlrm_v2("dlrm-v2-99", ("TEST01",)),
        c.dlrm_v2("dlrm-v2-99.9", ("TEST01",)),
        c.unet3d("3d-unet-99", ("TEST01",)),
        c.unet3d("3d-unet-99.9", ("TEST01",)),
        # compliance: none, as the v5.0 checker; the modular checker at HEAD asks TEST06 under --version v5.0
        c.gptj("gptj-99", (), c.GPTJ_RESULT_FIELDS),
        c.gptj("gptj-99.9", (), c.GPTJ_RESULT_FIELDS),
        c.llama2("llama2-70b-99", _LLAMA2_REQ, _LLAMA2_TOKENS),
        c.llama2("llama2-70b-99.9", _LLAMA2_REQ, _LLAMA2_TOKENS),
        c.sdxl(("TEST01", "TEST04")),
        c.rgat(),
    )},
    model_mapping={"ssd-resnet34": "retinanet", "mobilenet": "resnet", "resnet50": "resnet",
                   "llama3_1-405b": "llama3.1-405b"},
    acc_patterns=c.PATTERNS_V50,
    layout=Layout("v5", measurement_files=("user.conf", "README.md")),
    audit_configs=c.audit_configs(sdxl_test04=True, test05=False),
    compliance_root="compliance/nvidia",
    system_fields=c.SYSTEM_FIELDS,
    result_fields=c.RESULT_FIELDS_V41,
)
