"""Seeded random RetinaNet parameters as numpy arrays, named and shaped as the MLPerf checkpoint's state_dict.

Pure numpy, so demo data can be written where torch is not installed. The classification bias is set so that
a fair share of anchors clear the 0.05 score threshold: random weights then still give full detection lists
and exercise top-k, NMS and the 300-detection cut.
"""

import numpy as np

from . import NUM_CLASSES
from .spec import ANCHORS_PER_LOCATION, FPN_CH, FPN_IN, GROUPS, STAGES, WIDTH_PER_GROUP

DEMO_CLS_BIAS = -2.2  # sigmoid(-2.2) = 0.10


def _conv(rng, out_ch: int, in_ch: int, k: int, gain: float = 1.0) -> np.ndarray:
    std = gain * np.sqrt(2.0 / (in_ch * k * k))
    return (rng.standard_normal((out_ch, in_ch, k, k), dtype=np.float32) * np.float32(std)).astype(np.float32)


def _bn(rng, prefix: str, ch: int, p: dict) -> None:
    p[f"{prefix}.weight"] = (1.0 + 0.1 * rng.standard_normal(ch, dtype=np.float32)).astype(np.float32)
    p[f"{prefix}.bias"] = (0.1 * rng.standard_normal(ch, dtype=np.float32)).astype(np.float32)
    p[f"{prefix}.running_mean"] = (0.1 * rng.standard_normal(ch, dtype=np.float32)).astype(np.float32)
    p[f"{prefix}.running_var"] = (1.0 + 0.2 * rng.random(ch, dtype=np.float32)).astype(np.float32)


def retinanet_params(seed: int, num_classes: int = NUM_CLASSES) -> dict[str, np.ndarray]:
    """Every parameter and frozen-BN buffer, in a fixed order from one seed."""
    rng = np.random.default_rng(seed)
    p: dict[str, np.ndarray] = {}
    b = "backbone.body"
    p[f"{b}.conv1.weight"] = _conv(rng, 64, 3, 7)
    _bn(rng, f"{b}.bn1", 64, p)
    in_ch = 64
    for i, (planes, blocks, _) in enumerate(STAGES, start=1):
        width = planes * WIDTH_PER_GROUP * GROUPS // 64
        for j in range(blocks):
            q = f"{b}.layer{i}.{j}"
            p[f"{q}.conv1.weight"] = _conv(rng, width, in_ch, 1)
            _bn(rng, f"{q}.bn1", width, p)
            p[f"{q}.conv2.weight"] = _conv(rng, width, width // GROUPS, 3)
            _bn(rng, f"{q}.bn2", width, p)
            p[f"{q}.conv3.weight"] = _conv(rng, planes * 4, width, 1, gain=0.2)  # steady residual scale
            _bn(rng, f"{q}.bn3", planes * 4, p)
            if j == 0:
                p[f"{q}.downsample.0.weight"] = _conv(rng, planes * 4, in_ch, 1)
                _bn(rng, f"{q}.downsample.1", planes * 4, p)
            in_ch = planes * 4
    f = "backbone.fpn"
    for i, c in enumerate(FPN_IN):
        p[f"{f}.inner_blocks.{i}.weight"] = _conv(rng, FPN_CH, c, 1, gain=0.5)
        p[f"{f}.inner_blocks.{i}.bias"] = np.zeros(FPN_CH, np.float32)
    for i in range(len(FPN_IN)):
        p[f"{f}.layer_blocks.{i}.weight"] = _conv(rng, FPN_CH, FPN_CH, 3, gain=0.5)
        p[f"{f}.layer_blocks.{i}.bias"] = np.zeros(FPN_CH, np.float32)
    for name in ("p6", "p7"):
        p[f"{f}.extra_blocks.{name}.weight"] = _conv(rng, FPN_CH, FPN_CH, 3, gain=0.5)
        p[f"{f}.extra_blocks.{name}.bias"] = np.zeros(FPN_CH, np.float32)
    for head, out, per_anchor, bias in (
        ("classification_head", "cls_logits", num_classes, DEMO_CLS_BIAS),
        ("regression_head", "bbox_reg", 4, 0.0),
    ):
        h = f"head.{head}"
        for k in (0, 2, 4, 6):
            p[f"{h}.conv.{k}.weight"] = _conv(rng, FPN_CH, FPN_CH, 3)
            p[f"{h}.conv.{k}.bias"] = np.zeros(FPN_CH, np.float32)
        p[f"{h}.{out}.weight"] = _conv(rng, ANCHORS_PER_LOCATION * per_anchor, FPN_CH, 3, gain=0.05)
        p[f"{h}.{out}.bias"] = np.full(ANCHORS_PER_LOCATION * per_anchor, bias, np.float32)
    return p
