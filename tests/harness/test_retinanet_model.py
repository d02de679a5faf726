"""RetinaNet pieces against brute force and the reference's figures: NMS, anchors, box decoding, checkpoint
loading and its errors."""

import argparse
import itertools

import numpy as np
import pytest
import torch

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.retinanet import model, spec, weights


def brute_nms(boxes: np.ndarray, scores: np.ndarray, iou: float) -> list[int]:
    """Textbook greedy NMS in plain Python loops."""

    def iou_of(a, b):
        iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = iw * ih
        union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
        return inter / union

    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep: list[int] = []
    for i in order:
        if all(iou_of(boxes[i], boxes[k]) <= iou for k in keep):
            keep.append(i)
    return keep


def random_boxes(rng, n: int) -> np.ndarray:
    xy = rng.uniform(0, 100, (n, 2))
    wh = rng.uniform(5, 40, (n, 2))
    return np.concatenate([xy, xy + wh], axis=1).astype(np.float64)


@pytest.mark.parametrize("seed, n, iou", [(0, 50, 0.5), (1, 200, 0.5), (2, 120, 0.3), (3, 80, 0.7)])
def test_nms_matches_brute_force(seed, n, iou):
    rng = np.random.default_rng(seed)
    boxes, scores = random_boxes(rng, n), rng.permutation(n) / n + 0.001  # distinct scores
    got = model.nms(torch.from_numpy(boxes), torch.from_numpy(scores), iou).tolist()
    assert got == brute_nms(boxes, scores, iou)
    assert 0 < len(got) < n  # the case actually suppresses something


def test_batched_nms_is_nms_per_label():
    rng = np.random.default_rng(5)
    n = 150
    boxes, scores, labels = random_boxes(rng, n), rng.permutation(n) / n + 0.001, rng.integers(0, 4, n)
    got = model.batched_nms(torch.from_numpy(boxes), torch.from_numpy(scores), torch.from_numpy(labels), 0.5)
    want = []
    for c in range(4):
        idx = np.where(labels == c)[0]
        want += [int(idx[k]) for k in brute_nms(boxes[idx], scores[idx], 0.5)]
    want.sort(key=lambda i: -scores[i])
    assert got.tolist() == want


def test_nms_keeps_a_box_at_exactly_the_threshold():
    # IoU of these two is exactly 0.5: only IoU above the threshold suppresses.
    boxes = torch.tensor([[0.0, 0.0, 30.0, 10.0], [10.0, 0.0, 40.0, 10.0]], dtype=torch.float64)
    assert model.nms(boxes, torch.tensor([0.9, 0.8], dtype=torch.float64), 0.5).tolist() == [0, 1]


def test_anchor_grid_as_the_reference():
    assert spec.level_sizes(800) == [100, 50, 25, 13, 7]
    levels = spec.anchors(800)
    assert [len(a) for a in levels] == [s * s * 9 for s in (100, 50, 25, 13, 7)]
    assert sum(len(a) for a in levels) == 120087
    # base 32, ratios 0.5/1/2 (height/width), scales 32, 40, 50: rounded half-sizes
    np.testing.assert_array_equal(
        spec.cell_anchors(32)[:3], [[-23, -11, 23, 11], [-28, -14, 28, 14], [-35, -18, 35, 18]]
    )
    np.testing.assert_array_equal(spec.cell_anchors(32)[3], [-16, -16, 16, 16])
    # P6 is 13x13 with the reference's integer stride 800 // 13 = 61; location (1, 2) shifts by (122, 61)
    p6 = levels[3].reshape(13, 13, 9, 4)
    np.testing.assert_array_equal(p6[1, 2, 4], spec.cell_anchors(256)[4] + [122, 61, 122, 61])


def test_decode_zero_deltas_gives_the_anchor_and_clamps_growth():
    anc = torch.tensor([[10.0, 20.0, 50.0, 100.0]])
    torch.testing.assert_close(model.decode(torch.zeros(1, 4), anc), anc)
    big = model.decode(torch.tensor([[0.0, 0.0, 100.0, 0.0]]), anc)  # dw clamped to log(1000/16)
    assert big[0, 2] - big[0, 0] == pytest.approx(40 * 1000 / 16, rel=1e-5)
    moved = model.decode(torch.tensor([[0.5, -0.25, 0.0, np.log(2.0)]]), anc)
    torch.testing.assert_close(moved, torch.tensor([[30.0, -40.0, 70.0, 120.0]]), check_dtype=False)


@pytest.fixture(scope="module")
def small_state():
    """The demo parameters, as torch tensors, in the training checkpoint's naming."""
    return {k: torch.from_numpy(v) for k, v in weights.retinanet_params(3).items()}


def test_checkpoint_names_and_shapes_are_the_reference_ones(small_state):
    names = list(model.RetinaNet().state_dict())
    assert set(names) == set(small_state)
    for k in (
        "backbone.body.layer1.0.conv2.weight",  # grouped 3x3: 128 out, 128/32 in
        "backbone.body.layer4.2.bn3.running_var",
        "backbone.fpn.inner_blocks.0.weight",
        "backbone.fpn.extra_blocks.p7.bias",
        "head.classification_head.conv.6.weight",
        "head.classification_head.cls_logits.weight",
        "head.regression_head.bbox_reg.weight",
    ):
        assert k in names, k
    assert tuple(small_state["backbone.body.layer1.0.conv2.weight"].shape) == (128, 4, 3, 3)
    assert tuple(small_state["backbone.fpn.inner_blocks.0.weight"].shape) == (256, 512, 1, 1)
    assert tuple(small_state["head.classification_head.cls_logits.weight"].shape) == (9 * 264, 256, 3, 3)
    assert tuple(small_state["head.regression_head.bbox_reg.weight"].shape) == (36, 256, 3, 3)


def test_loads_a_training_checkpoint_with_module_prefix(small_state, tmp_path):
    state = {f"module.{k}": v for k, v in small_state.items()}
    state["module.backbone.body.bn1.num_batches_tracked"] = torch.tensor(0)
    path = tmp_path / "model_10.pth"
    torch.save({"model": state, "optimizer": {"state": {}}, "epoch": 10, "args": argparse.Namespace(lr=0.1)}, path)
    m = model.load(path)
    torch.testing.assert_close(
        m.head.regression_head.bbox_reg.weight, small_state["head.regression_head.bbox_reg.weight"]
    )


@pytest.mark.parametrize("case", ["missing", "onnx-bytes", "not-a-state-dict", "wrong-shapes"])
def test_bad_checkpoints_are_one_line(small_state, tmp_path, case):
    path = tmp_path / "retinanet_model_10.pth"
    if case == "onnx-bytes":
        path.write_bytes(b"\x08\x08\x12\x0connx-ish bytes")
    elif case == "not-a-state-dict":
        torch.save({"model": [1, 2, 3]}, path)
    elif case == "wrong-shapes":
        state = dict(small_state)
        state["backbone.fpn.inner_blocks.0.weight"] = torch.zeros(256, 3, 1, 1)
        torch.save(state, path)
    with pytest.raises(UsageError) as e:
        model.load(path)
    msg = str(e.value)
    assert str(path) in msg and "\n" not in msg, msg


def test_postprocess_threshold_clip_and_per_class_nms():
    """Hand-made head outputs on the real anchor grid: scores at or below 0.05 go, boxes are clipped to the
    image before NMS, and NMS suppresses only within a class."""
    levels = [torch.from_numpy(a) for a in spec.anchors(800)]
    n = sum(len(a) for a in levels)
    logits, deltas = torch.full((n, 3), -10.0), torch.zeros(n, 4)
    logits[0, 1] = 2.0  # P3 location (0, 0), cell anchor 0: [-23, -11, 23, 11] -> clipped [0, 0, 23, 11]
    logits[9, 1] = 1.0  # location (0, 1): clipped [0, 0, 31, 11], IoU 23/31 with the first -> suppressed
    logits[9, 2] = 1.0  # the same box in class 2 stays
    logits[18, 0] = -2.95  # sigmoid 0.0497: under the threshold
    boxes, scores, labels = model.postprocess(logits, deltas, levels)
    assert labels.tolist() == [1, 2] and labels.dtype == torch.int64
    torch.testing.assert_close(scores, torch.sigmoid(torch.tensor([2.0, 1.0])))
    torch.testing.assert_close(boxes, torch.tensor([[0.0, 0.0, 23.0, 11.0], [0.0, 0.0, 31.0, 11.0]]))


def test_postprocess_keeps_1000_per_level_then_300(monkeypatch):
    levels = [torch.from_numpy(a) for a in spec.anchors(800)]
    n, k = sum(len(a) for a in levels), 400
    logits, deltas = torch.full((n, k), -10.0), torch.zeros(n, 4)
    far_apart = [(r * 100 + c) * 9 + 4 for r, c in ((0, 0), (50, 50), (99, 99))]  # P3 anchors that never overlap
    values = torch.linspace(-2.0, 3.0, 3 * k).reshape(3, k)  # 1200 distinct candidates on P3
    for row, a in zip(values, far_apart, strict=True):
        logits[a] = row
    logits[len(levels[0]) + 4, 7] = 4.0  # one on P4, the best of all
    monkeypatch.setattr(model, "DETECTIONS_PER_IMAGE", 10_000)
    assert len(model.postprocess(logits, deltas, levels)[0]) == 1000 + 1
    monkeypatch.undo()
    _, scores, labels = model.postprocess(logits, deltas, levels)
    assert len(scores) == 300 and labels[0] == 7
    expected = torch.sigmoid(torch.cat([torch.tensor([4.0]), values.flatten().sort(descending=True).values[:299]]))
    torch.testing.assert_close(scores, expected)


def test_iou_brute_force_agrees_with_box_iou():
    rng = np.random.default_rng(9)
    a, b = random_boxes(rng, 7), random_boxes(rng, 5)
    got = model.box_iou(torch.from_numpy(a), torch.from_numpy(b)).numpy()
    for i, j in itertools.product(range(7), range(5)):
        iw = max(0, min(a[i, 2], b[j, 2]) - max(a[i, 0], b[j, 0]))
        ih = max(0, min(a[i, 3], b[j, 3]) - max(a[i, 1], b[j, 1]))
        union = np.prod(a[i, 2:] - a[i, :2]) + np.prod(b[j, 2:] - b[j, :2]) - iw * ih
        assert got[i, j] == pytest.approx(iw * ih / union)
