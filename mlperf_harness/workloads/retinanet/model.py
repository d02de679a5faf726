"""The MLPerf RetinaNet in plain PyTorch: ResNeXt50-32x4d body with frozen BatchNorm, FPN P3-P7, the
classification and box heads, anchors, box decoding, per-class NMS and the reference's post-processing.

Module and parameter names follow the MLPerf training checkpoint (backbone.body.*, backbone.fpn.*,
head.classification_head.*, head.regression_head.*) so its state_dict loads as it is. Anchors, decoding and
NMS are also written for numpy-free reuse by the ONNX builder (onnx_model.py) through `anchors()`.
"""

import argparse
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from ...errors import UsageError
from . import (
    BBOX_XFORM_CLIP,
    DETECTIONS_PER_IMAGE,
    MEAN,
    NMS_IOU,
    NUM_CLASSES,
    SCORE_THRESH,
    SIZE,
    STD,
    TOPK_CANDIDATES,
)
from .spec import ANCHORS_PER_LOCATION, BN_EPS, FPN_CH, FPN_IN, GROUPS, STAGES, WIDTH_PER_GROUP, anchors, level_sizes


class FrozenBN(nn.Module):
    """BatchNorm with fixed statistics (buffers weight, bias, running_mean, running_var)."""

    def __init__(self, ch: int):
        super().__init__()
        for name, value in (("weight", 1.0), ("bias", 0.0), ("running_mean", 0.0), ("running_var", 1.0)):
            self.register_buffer(name, torch.full((ch,), value))

    def forward(self, x):
        scale = self.weight * (self.running_var + BN_EPS).rsqrt()
        shift = self.bias - self.running_mean * scale
        return x * scale[None, :, None, None] + shift[None, :, None, None]


class Bottleneck(nn.Module):
    def __init__(self, in_ch: int, planes: int, stride: int):
        super().__init__()
        width = planes * WIDTH_PER_GROUP * GROUPS // 64
        self.conv1 = nn.Conv2d(in_ch, width, 1, bias=False)
        self.bn1 = FrozenBN(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, groups=GROUPS, bias=False)
        self.bn2 = FrozenBN(width)
        self.conv3 = nn.Conv2d(width, planes * 4, 1, bias=False)
        self.bn3 = FrozenBN(planes * 4)
        self.downsample = None
        if stride != 1 or in_ch != planes * 4:
            self.downsample = nn.Sequential(nn.Conv2d(in_ch, planes * 4, 1, stride, bias=False), FrozenBN(planes * 4))

    def forward(self, x):
        y = F.relu(self.bn1(self.conv1(x)))
        y = F.relu(self.bn2(self.conv2(y)))
        y = self.bn3(self.conv3(y))
        return F.relu(y + (x if self.downsample is None else self.downsample(x)))


class Body(nn.Module):
    """ResNeXt50-32x4d up to layer4; returns the layer2, layer3 and layer4 outputs (C3, C4, C5)."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = FrozenBN(64)
        in_ch = 64
        for i, (planes, blocks, stride) in enumerate(STAGES, start=1):
            layer = [Bottleneck(in_ch, planes, stride)] + [Bottleneck(planes * 4, planes, 1) for _ in range(blocks - 1)]
            setattr(self, f"layer{i}", nn.Sequential(*layer))
            in_ch = planes * 4

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.bn1(self.conv1(x))), 3, 2, 1)
        c2 = self.layer1(x)
        c3 = self.layer2(c2)
        c4 = self.layer3(c3)
        return [c3, c4, self.layer4(c4)]


class ExtraBlocks(nn.Module):
    def __init__(self):
        super().__init__()
        self.p6 = nn.Conv2d(FPN_CH, FPN_CH, 3, 2, 1)
        self.p7 = nn.Conv2d(FPN_CH, FPN_CH, 3, 2, 1)


class FPN(nn.Module):
    """Top-down pathway with nearest upsampling; P6 from P5 (not C5), P7 from relu(P6)."""

    def __init__(self):
        super().__init__()
        self.inner_blocks = nn.ModuleList(nn.Conv2d(c, FPN_CH, 1) for c in FPN_IN)
        self.layer_blocks = nn.ModuleList(nn.Conv2d(FPN_CH, FPN_CH, 3, 1, 1) for _ in FPN_IN)
        self.extra_blocks = ExtraBlocks()

    def forward(self, feats):
        inner = self.inner_blocks[-1](feats[-1])
        out = [self.layer_blocks[-1](inner)]
        for i in range(len(feats) - 2, -1, -1):
            lateral = self.inner_blocks[i](feats[i])
            inner = lateral + F.interpolate(inner, size=lateral.shape[-2:], mode="nearest")
            out.insert(0, self.layer_blocks[i](inner))
        p6 = self.extra_blocks.p6(out[-1])
        return [*out, p6, self.extra_blocks.p7(F.relu(p6))]


class Backbone(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = Body()
        self.fpn = FPN()


class Head(nn.Module):
    """Four 3x3 conv+ReLU then a 3x3 conv with `per_anchor` outputs per anchor; levels concatenated."""

    def __init__(self, out_name: str, per_anchor: int):
        super().__init__()
        layers: list[nn.Module] = []
        for _ in range(4):
            layers += [nn.Conv2d(FPN_CH, FPN_CH, 3, 1, 1), nn.ReLU()]
        self.conv = nn.Sequential(*layers)
        self.out_name = out_name
        setattr(self, out_name, nn.Conv2d(FPN_CH, ANCHORS_PER_LOCATION * per_anchor, 3, 1, 1))
        self.per_anchor = per_anchor

    def forward(self, feats):
        outs = []
        for f in feats:
            y = getattr(self, self.out_name)(self.conv(f))
            n, _, h, w = y.shape
            # (N, A*K, H, W) -> (N, H*W*A, K): anchors ordered by row, column, then the 9 cell anchors
            outs.append(
                y.view(n, ANCHORS_PER_LOCATION, self.per_anchor, h, w)
                .permute(0, 3, 4, 1, 2)
                .reshape(n, -1, self.per_anchor)
            )
        return torch.cat(outs, dim=1)


class Heads(nn.Module):
    def __init__(self, num_classes: int):
        super().__init__()
        self.classification_head = Head("cls_logits", num_classes)
        self.regression_head = Head("bbox_reg", 4)


def decode(deltas: torch.Tensor, anchors_: torch.Tensor) -> torch.Tensor:
    """Box deltas (dx, dy, dw, dh; weights 1) applied to anchors -> x1, y1, x2, y2."""
    w = anchors_[:, 2] - anchors_[:, 0]
    h = anchors_[:, 3] - anchors_[:, 1]
    cx = anchors_[:, 0] + 0.5 * w
    cy = anchors_[:, 1] + 0.5 * h
    dw = deltas[:, 2].clamp(max=BBOX_XFORM_CLIP)
    dh = deltas[:, 3].clamp(max=BBOX_XFORM_CLIP)
    pcx = deltas[:, 0] * w + cx
    pcy = deltas[:, 1] * h + cy
    half_w = 0.5 * torch.exp(dw) * w
    half_h = 0.5 * torch.exp(dh) * h
    return torch.stack([pcx - half_w, pcy - half_h, pcx + half_w, pcy + half_h], dim=1)


def box_iou(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = (rb - lt).clamp(min=0).prod(dim=2)
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def nms(boxes: torch.Tensor, scores: torch.Tensor, iou: float) -> torch.Tensor:
    """Greedy NMS: indices kept, best score first; a box goes when its IoU with a kept one exceeds `iou`."""
    order = torch.argsort(scores, descending=True, stable=True)
    over = (box_iou(boxes[order], boxes[order]) > iou).cpu().numpy()
    removed = np.zeros(len(order), dtype=bool)
    keep = []
    for i in range(len(order)):
        if removed[i]:
            continue
        keep.append(i)
        removed |= over[i]
    return order[torch.as_tensor(keep, dtype=torch.long, device=order.device)]


def batched_nms(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor, iou: float) -> torch.Tensor:
    """NMS within each label; the kept indices over all labels, best score first."""
    kept = [idx[nms(boxes[idx], scores[idx], iou)] for idx in (torch.where(labels == c)[0] for c in labels.unique())]
    if not kept:
        return torch.empty(0, dtype=torch.long, device=boxes.device)
    keep = torch.cat(kept)
    return keep[torch.argsort(scores[keep], descending=True, stable=True)]


def postprocess(cls_logits, box_deltas, level_anchors, size: int = SIZE):
    """One image: per level the sigmoid scores above SCORE_THRESH, its best TOPK_CANDIDATES (score, anchor,
    class), decoded and clipped to the image; then per-class NMS and the best DETECTIONS_PER_IMAGE.
    Returns boxes [D, 4] (x1, y1, x2, y2 in input pixels), scores [D], labels [D] int64."""
    boxes, scores, labels = [], [], []
    start = 0
    for anc in level_anchors:
        n = anc.shape[0]
        logits, deltas = cls_logits[start : start + n], box_deltas[start : start + n]
        start += n
        k = logits.shape[1]
        s = torch.sigmoid(logits).flatten()
        cand = torch.where(s > SCORE_THRESH)[0]
        s = s[cand]
        s, top = s.topk(min(TOPK_CANDIDATES, s.numel()))
        cand = cand[top]
        a = torch.div(cand, k, rounding_mode="floor")
        b = decode(deltas[a], anc[a]).clamp(min=0, max=size)
        boxes.append(b)
        scores.append(s)
        labels.append(cand % k)
    boxes_, scores_, labels_ = torch.cat(boxes), torch.cat(scores), torch.cat(labels)
    keep = batched_nms(boxes_, scores_, labels_, NMS_IOU)[:DETECTIONS_PER_IMAGE]
    return boxes_[keep], scores_[keep], labels_[keep]


class RetinaNet(nn.Module):
    """Input: N x 3 x SIZE x SIZE float RGB in 0..1 (normalised inside); forward returns the raw head outputs
    (class logits [N, anchors, classes], box deltas [N, anchors, 4]); `detect` adds the post-processing."""

    def __init__(self, num_classes: int = NUM_CLASSES, size: int = SIZE):
        super().__init__()
        self.backbone = Backbone()
        self.head = Heads(num_classes)
        self.size = size
        self.register_buffer("mean", torch.tensor(MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(STD).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("anchors", torch.from_numpy(np.concatenate(anchors(size))), persistent=False)
        self.level_counts = [side * side * ANCHORS_PER_LOCATION for side in level_sizes(size)]

    def forward(self, x):
        x = (x - self.mean) / self.std
        feats = self.backbone.fpn(self.backbone.body(x))
        return self.head.classification_head(feats), self.head.regression_head(feats)

    def detect(self, x):
        """Detections per image: a list of (boxes, scores, labels) tensors."""
        cls_logits, deltas = self(x)
        levels = self.anchors.split(self.level_counts)
        return [postprocess(cls_logits[i], deltas[i], levels, self.size) for i in range(x.shape[0])]


def read_state_dict(path: Path) -> dict:
    """The state_dict of a MLPerf training checkpoint ({"model": state_dict, "optimizer": ..., "args": Namespace})
    or a bare state_dict; a DataParallel `module.` prefix and BatchNorm `num_batches_tracked` are dropped."""
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", f"pass --model-path to the RetinaNet {path.suffix} file")
    try:
        with torch.serialization.safe_globals([argparse.Namespace]):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several unpickling error types
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UsageError(
            f"torch cannot load {path} as a checkpoint: {first[:200]}",
            "pass the MLPerf RetinaNet training checkpoint retinanet_model_10.pth (not ONNX, not a pickled model)",
        ) from None
    state = obj.get("model", obj) if isinstance(obj, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise UsageError(f"{path} holds no state_dict", "pass the MLPerf RetinaNet checkpoint retinanet_model_10.pth")
    out = {}
    for k, v in state.items():
        k = k.removeprefix("module.")
        if not k.endswith("num_batches_tracked"):
            out[k] = v
    return out


def load(path: Path, size: int = SIZE) -> RetinaNet:
    """A RetinaNet in eval mode with the weights of `path`; the class count comes from the checkpoint."""
    state = read_state_dict(path)
    w = state.get("head.classification_head.cls_logits.weight")
    if w is None:
        raise UsageError(
            f"{path} is not a RetinaNet checkpoint (no head.classification_head)", "pass retinanet_model_10.pth"
        )
    model = RetinaNet(num_classes=int(w.shape[0]) // ANCHORS_PER_LOCATION, size=size)
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise UsageError(
            f"{path} does not fit the ResNeXt50-32x4d FPN RetinaNet: {' '.join(str(e).split())[:300]}",
            "pass the MLPerf RetinaNet checkpoint retinanet_model_10.pth",
        ) from None
    return model.eval()
