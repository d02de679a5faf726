"""MLPerf Inference v4.0 (checker: tag v4.0, tools/submission/submission_checker.py, MODEL_CONFIG["v4.0"])."""

from . import common as c
from .types import OFF, SRV, SS, Benchmark, Layout, Round, Seeds

_T15 = ("TEST01", "TEST05")
_LLAMA2_REQ = {"datacenter": (SRV, OFF), "datacenter,edge": (SRV, OFF)}
_LLAMA2_TOKENS = {"*": (2000, 200)}  # every non-Offline scenario

ROUND = Round(
    version="v4.0",
    source="mlcommons/inference tag v4.0: tools/submission/submission_checker.py",
    seeds=Seeds(13281865557512327830, 198141574272810017, 7575108116881280410),
    test05_seeds=Seeds(2376919268182438552, 11176391829184272374, 3911940905271271337),
    loadgen_versions=(),  # LoadGen 4.0/4.0.1 have no built-in seeds: they come from the round's mlperf.conf
    loadgen_pin=None,
    models=("resnet", "retinanet", "rnnt", "bert-99", "bert-99.9", "dlrm-v2-99", "dlrm-v2-99.9", "3d-unet-99",
            "3d-unet-99.9", "gptj-99", "gptj-99.9", "llama2-70b-99", "llama2-70b-99.9", "stable-diffusion-xl"),
    benchmarks={b.name: b for b in (
        c.resnet(("TEST01", "TEST04", "TEST05")),
        c.retinanet(_T15),
        Benchmark("rnnt", {"datacenter": (SRV, OFF), "edge": (SS, OFF), "datacenter,edge": (SS, OFF, SRV)},
                  (c.target("WER", 100 - 7.452, 0.99, "(100 - 7.452) * 0.99"),), 2513, 2513, 2513, _T15, "rnnt",
                  server_latency_ms=1000, test01_audit_dir="rnnt"),
        c.bert("bert-99", _T15, {"datacenter": (SRV, OFF), "edge": (SS, OFF), "datacenter,edge": (SS, OFF, SRV)},
               server_latency_ms=130),
        c.bert("bert-99.9", _T15, {"datacenter": (SRV, OFF), "datacenter,edge": (OFF, SRV)}, server_latency_ms=130),
        c.dlrm_v2("dlrm-v2-99", _T15),
        c.dlrm_v2("dlrm-v2-99.9", _T15),
        c.unet3d("3d-unet-99", _T15),
        c.unet3d("3d-unet-99.9", _T15),
        c.gptj("gptj-99", ()),
        c.gptj("gptj-99.9", ()),
        c.llama2("llama2-70b-99", _LLAMA2_REQ, _LLAMA2_TOKENS, result_fields=c.LLAMA2_RESULT_FIELDS_V40),
        c.llama2("llama2-70b-99.9", _LLAMA2_REQ, _LLAMA2_TOKENS, result_fields=c.LLAMA2_RESULT_FIELDS_V40),
        c.sdxl((), delta=False),
    )},
    model_mapping={
        "ssd-mobilenet": "ssd-small", "ssd-resnet34": "retinanet", "mobilenet": "resnet", "resnet50": "resnet",
        "ssd_resnet101_v1_fpn_640x640": "ssd-small", "ssd_resnet101_v1_fpn_1024x1024": "ssd-large",
        "ssd_resnet152_v1_fpn_640x640": "ssd-small", "ssd_resnet152_v1_fpn_1024x1024": "ssd-large",
        "rcnn-resnet50-lowproposals-coco": "ssd-large", "rcnn-inception-resnet-v2-lowproposals-coco": "ssd-large",
        "rcnn-inception-v2-coco": "ssd-large", "rcnn-nas-lowproposals-coco": "ssd-large",
        "rcnn-resnet101-lowproposals-coco": "ssd-large", "ssd_mobilenet_v1_coco": "ssd-small",
        "ssd_mobilenet_v1_fpn_640x640": "ssd-small", "ssd_mobilenet_v1_quantized_coco": "ssd-small",
        "ssd_mobilenet_v2_320x320": "ssd-small", "ssd_mobilenet_v2_fpnlite_320x320": "ssd-small",
        "ssd_mobilenet_v2_fpnlite_640x640": "ssd-small", "ssd_resnet50_v1_fpn_640x640": "ssd-small",
        "ssd_resnet50_v1_fpn_1024x1024": "ssd-large",
    },
    acc_patterns=c.PATTERNS_V40,
    # v4.0 also requires mlperf.conf beside user.conf in measurements/
    layout=Layout("v5", measurement_files=("user.conf", "README.md", "mlperf.conf")),
    audit_configs=c.audit_configs(sdxl_test04=False, test05=True),
    compliance_root="compliance/nvidia",
    system_fields=c.SYSTEM_FIELDS,
    result_fields=c.RESULT_FIELDS_V40,
    dataset_size_checked=False,
)
