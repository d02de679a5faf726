"""The RetinaNet as an ONNX graph shaped like the reference's resnext50_32x4d_fpn.onnx: input `images`
float32 [1, 3, 800, 800] (RGB in 0..1, normalised in-graph), outputs `boxes` [D, 4] (x1, y1, x2, y2 in input
pixels), `scores` [D] and `labels` [D] int64, with top-k, box decoding, per-class NMS and the 300-detection
cut in the graph. Built from a state_dict of numpy arrays with onnx.helper (no torch needed); frozen
BatchNorm is folded into the convolutions.
"""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from . import (
    BBOX_XFORM_CLIP,
    DETECTIONS_PER_IMAGE,
    MEAN,
    NMS_IOU,
    ONNX_INPUT,
    SCORE_THRESH,
    SIZE,
    STD,
    TOPK_CANDIDATES,
)
from .spec import ANCHORS_PER_LOCATION, BN_EPS, FPN_IN, GROUPS, STAGES, anchors, level_sizes

OPSET = 17
IR_VERSION = 8  # readable by onnxruntime >= 1.10 and TensorRT 8+


class _Graph:
    def __init__(self, params: dict[str, np.ndarray]):
        self.params = params
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.n = 0
        self.names: set[str] = set()

    def node(self, op: str, inputs: list[str], name: str | None = None, outputs: int = 1, **attrs):
        self.n += 1
        base = name or f"{op.lower()}_{self.n}"
        outs = [base] if outputs == 1 else [f"{base}:{i}" for i in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=base, **attrs))
        return outs[0] if outputs == 1 else outs

    def const(self, name: str, value) -> str:
        """An initializer; a name already given is reused (the heads' weights are shared by all levels)."""
        if name not in self.names:
            self.names.add(name)
            self.inits.append(numpy_helper.from_array(np.array(value, order="C"), name))
        return name

    def conv(self, x, w: np.ndarray, b: np.ndarray, name: str, stride: int = 1, groups: int = 1, params: str = ""):
        k = w.shape[-1]
        params = params or name
        return self.node(
            "Conv",
            [x, self.const(f"{params}.w", w.astype(np.float32)), self.const(f"{params}.b", b.astype(np.float32))],
            name,
            kernel_shape=[k, k],
            strides=[stride, stride],
            pads=[k // 2] * 4,
            group=groups,
        )

    def conv_bn(self, x: str, conv: str, bn: str, stride: int = 1, groups: int = 1, relu: bool = True) -> str:
        p = self.params
        scale = p[f"{bn}.weight"] / np.sqrt(p[f"{bn}.running_var"] + np.float32(BN_EPS))
        bias = p[f"{bn}.bias"] - p[f"{bn}.running_mean"] * scale
        y = self.conv(x, p[f"{conv}.weight"] * scale[:, None, None, None], bias, conv, stride, groups)
        return self.node("Relu", [y], f"{conv}.relu") if relu else y

    def conv_p(self, x: str, prefix: str, out: str, stride: int = 1) -> str:
        return self.conv(x, self.params[f"{prefix}.weight"], self.params[f"{prefix}.bias"], out, stride, params=prefix)


def _body(g: _Graph, x: str) -> list[str]:
    b = "backbone.body"
    x = g.conv_bn(x, f"{b}.conv1", f"{b}.bn1", stride=2)
    x = g.node("MaxPool", [x], "maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    feats = []
    for i, (_, blocks, stride) in enumerate(STAGES, start=1):
        for j in range(blocks):
            q = f"{b}.layer{i}.{j}"
            s = stride if j == 0 else 1
            y = g.conv_bn(x, f"{q}.conv1", f"{q}.bn1")
            y = g.conv_bn(y, f"{q}.conv2", f"{q}.bn2", stride=s, groups=GROUPS)
            y = g.conv_bn(y, f"{q}.conv3", f"{q}.bn3", relu=False)
            short = g.conv_bn(x, f"{q}.downsample.0", f"{q}.downsample.1", stride=s, relu=False) if j == 0 else x
            x = g.node("Relu", [g.node("Add", [y, short], f"{q}.add")], f"{q}.out")
        if i >= 2:
            feats.append(x)
    return feats


def _fpn(g: _Graph, feats: list[str], sides: list[int]) -> list[str]:
    f = "backbone.fpn"
    last = len(FPN_IN) - 1
    inner = g.conv_p(feats[last], f"{f}.inner_blocks.{last}", f"fpn.inner{last}")
    outs = [g.conv_p(inner, f"{f}.layer_blocks.{last}", f"fpn.p{last + 3}")]
    for i in range(last - 1, -1, -1):
        lateral = g.conv_p(feats[i], f"{f}.inner_blocks.{i}", f"fpn.inner{i}")
        sizes = g.const(f"fpn.up{i}.sizes", np.array([1, 256, sides[i], sides[i]], np.int64))
        up = g.node(
            "Resize",
            [inner, "", "", sizes],
            f"fpn.up{i}",
            mode="nearest",
            coordinate_transformation_mode="asymmetric",
            nearest_mode="floor",
        )
        inner = g.node("Add", [lateral, up], f"fpn.sum{i}")
        outs.insert(0, g.conv_p(inner, f"{f}.layer_blocks.{i}", f"fpn.p{i + 3}"))
    p6 = g.conv_p(outs[-1], f"{f}.extra_blocks.p6", "fpn.p6", stride=2)
    p7 = g.conv_p(g.node("Relu", [p6], "fpn.p6.relu"), f"{f}.extra_blocks.p7", "fpn.p7", stride=2)
    return [*outs, p6, p7]


def _head(g: _Graph, x: str, head: str, out: str, per_anchor: int, level: int, side: int) -> str:
    """One level through a head, as [side*side*9, per_anchor] (batch 1)."""
    h = f"head.{head}"
    for k in (0, 2, 4, 6):
        x = g.node("Relu", [g.conv_p(x, f"{h}.conv.{k}", f"{head}.l{level}.conv{k}")], f"{head}.l{level}.relu{k}")
    y = g.conv_p(x, f"{h}.{out}", f"{head}.l{level}.{out}")
    shape5 = g.const(f"{head}.l{level}.shape5", np.array([1, ANCHORS_PER_LOCATION, per_anchor, side, side], np.int64))
    y = g.node("Reshape", [y, shape5], f"{head}.l{level}.r5")
    y = g.node("Transpose", [y], f"{head}.l{level}.t", perm=[0, 3, 4, 1, 2])
    shape2 = g.const(f"{head}.l{level}.shape2", np.array([-1, per_anchor], np.int64))
    return g.node("Reshape", [y, shape2], f"{head}.l{level}.flat")


def _level_candidates(g: _Graph, logits: str, deltas: str, anc: np.ndarray, level: int, classes: int):
    """Scores above the threshold among the level's best TOPK_CANDIDATES; decoded, clipped boxes; labels."""
    p = f"post.l{level}"
    flat = g.node("Reshape", [g.node("Sigmoid", [logits], f"{p}.sig"), g.const(f"{p}.m1", np.array([-1], np.int64))])
    k = min(TOPK_CANDIDATES, anc.shape[0] * classes)
    top_s, top_i = g.node("TopK", [flat, g.const(f"{p}.k", np.array([k], np.int64))], f"{p}.topk", outputs=2)
    keep = g.node("Greater", [top_s, g.const(f"{p}.thr", np.array(SCORE_THRESH, np.float32))], f"{p}.keep")
    scores = g.node("Compress", [top_s, keep], f"{p}.scores", axis=0)
    idx = g.node("Compress", [top_i, keep], f"{p}.idx", axis=0)
    n_classes = g.const(f"{p}.classes", np.array(classes, np.int64))
    anchor_idx = g.node("Div", [idx, n_classes], f"{p}.anchor")
    labels = g.node("Mod", [idx, n_classes], f"{p}.labels")
    w = anc[:, 2] - anc[:, 0]
    h = anc[:, 3] - anc[:, 1]
    ctr = np.stack([anc[:, 0] + np.float32(0.5) * w, anc[:, 1] + np.float32(0.5) * h], axis=1)
    ctr_s = g.node("Gather", [g.const(f"{p}.ctr", ctr.astype(np.float32)), anchor_idx], f"{p}.ctr_s", axis=0)
    wh = np.stack([w, h], axis=1).astype(np.float32)
    wh_s = g.node("Gather", [g.const(f"{p}.wh", wh), anchor_idx], f"{p}.wh_s", axis=0)
    d = g.node("Gather", [deltas, anchor_idx], f"{p}.d", axis=0)
    d_xy, d_wh = g.node("Split", [d, g.const(f"{p}.split", np.array([2, 2], np.int64))], f"{p}.dsplit", 2, axis=1)
    d_wh = g.node("Min", [d_wh, g.const(f"{p}.clip", np.array(BBOX_XFORM_CLIP, np.float32))], f"{p}.dwh")
    centre = g.node("Add", [g.node("Mul", [d_xy, wh_s], f"{p}.dxy_wh"), ctr_s], f"{p}.centre")
    half = g.node("Mul", [g.node("Exp", [d_wh], f"{p}.exp"), g.const(f"{p}.half", np.array(0.5, np.float32))])
    half = g.node("Mul", [half, wh_s], f"{p}.halfwh")
    box = g.node("Concat", [g.node("Sub", [centre, half]), g.node("Add", [centre, half])], f"{p}.box", axis=1)
    lo, hi = g.const(f"{p}.lo", np.array(0, np.float32)), g.const(f"{p}.hi", np.array(SIZE, np.float32))
    return g.node("Clip", [box, lo, hi], f"{p}.boxc"), scores, labels


def _nms(g: _Graph, boxes: str, scores: str, labels: str, classes: int) -> str:
    """Per-class NMS via NonMaxSuppression on a [1, classes, M] score matrix that holds each box's score in its
    own class row and -1 elsewhere; then the best DETECTIONS_PER_IMAGE of the kept ones, best first."""
    onehot = g.node(
        "OneHot",
        [
            labels,
            g.const("nms.depth", np.array(classes, np.int64)),
            g.const("nms.values", np.array([0, 1], np.float32)),
        ],
        "nms.onehot",
        axis=-1,
    )
    plus1 = g.node("Add", [g.node("Unsqueeze", [scores, g.const("nms.ax1", np.array([1], np.int64))]), "nms.one"])
    g.const("nms.one", np.array(1, np.float32))
    per_class = g.node("Sub", [g.node("Mul", [onehot, plus1]), "nms.one"], "nms.per_class")
    per_class = g.node("Unsqueeze", [g.node("Transpose", [per_class], perm=[1, 0]), "nms.ax0"], "nms.scores")
    g.const("nms.ax0", np.array([0], np.int64))
    selected = g.node(
        "NonMaxSuppression",
        [
            g.node("Unsqueeze", [boxes, "nms.ax0"], "nms.boxes"),
            per_class,
            g.const("nms.max", np.array([1 << 30], np.int64)),
            g.const("nms.iou", np.array([NMS_IOU], np.float32)),
            g.const("nms.min_score", np.array([0.0], np.float32)),
        ],
        "nms.selected",
    )
    kept = g.node("Gather", [selected, g.const("nms.col2", np.array(2, np.int64))], "nms.kept", axis=1)
    kept_scores = g.node("Gather", [scores, kept], "nms.kept_scores", axis=0)
    k = g.node(
        "Min",
        [g.node("Shape", [kept], "nms.count"), g.const("nms.cap", np.array([DETECTIONS_PER_IMAGE], np.int64))],
        "nms.k",
    )
    _, order = g.node("TopK", [kept_scores, k], "nms.best", outputs=2)
    return g.node("Gather", [kept, order], "nms.final", axis=0)


def build(params: dict[str, np.ndarray]) -> onnx.ModelProto:
    """The whole network and post-processing for batch 1 at SIZE x SIZE."""
    classes = params["head.classification_head.cls_logits.weight"].shape[0] // ANCHORS_PER_LOCATION
    g = _Graph(params)
    x = g.node("Sub", [ONNX_INPUT, g.const("mean", np.array(MEAN, np.float32).reshape(1, 3, 1, 1))], "norm.sub")
    x = g.node("Div", [x, g.const("std", np.array(STD, np.float32).reshape(1, 3, 1, 1))], "norm.div")
    sides = level_sizes(SIZE)
    pyramid = _fpn(g, _body(g, x), sides)
    level_boxes, level_scores, level_labels = [], [], []
    for level, (feat, side, anc) in enumerate(zip(pyramid, sides, anchors(SIZE), strict=True)):
        logits = _head(g, feat, "classification_head", "cls_logits", classes, level, side)
        deltas = _head(g, feat, "regression_head", "bbox_reg", 4, level, side)
        b, s, lab = _level_candidates(g, logits, deltas, anc, level, classes)
        level_boxes.append(b)
        level_scores.append(s)
        level_labels.append(lab)
    boxes = g.node("Concat", level_boxes, "cand.boxes", axis=0)
    scores = g.node("Concat", level_scores, "cand.scores", axis=0)
    labels = g.node("Concat", level_labels, "cand.labels", axis=0)
    final = _nms(g, boxes, scores, labels, classes)
    g.node("Gather", [boxes, final], "boxes", axis=0)
    g.node("Gather", [scores, final], "scores", axis=0)
    g.node("Gather", [labels, final], "labels", axis=0)
    graph = helper.make_graph(
        g.nodes,
        "retinanet_resnext50_32x4d_fpn",
        [helper.make_tensor_value_info(ONNX_INPUT, TensorProto.FLOAT, [1, 3, SIZE, SIZE])],
        [
            helper.make_tensor_value_info("boxes", TensorProto.FLOAT, ["D", 4]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["D"]),
            helper.make_tensor_value_info("labels", TensorProto.INT64, ["D"]),
        ],
        g.inits,
    )
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="mlperf_harness demo-data"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model
