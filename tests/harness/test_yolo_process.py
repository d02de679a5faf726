"""yolo's pre- and post-processing (workloads/yolo/process.py) against ultralytics' documented behaviour: the
letterbox's shapes and borders, class-aware NMS (checked against a plain greedy NMS), boxes scaled back to the
original image, and the accuracy-log payload the reference's accuracy-coco.py reads."""

import numpy as np
import pytest

from mlperf_harness.workloads.yolo import COCO_80_TO_91, MAX_DET, PAD_VALUE, process


@pytest.mark.parametrize("hw, rect, want", [
    ((480, 640), True, (480, 640)),  # COCO's usual 640x480: no padding needed (480 is a multiple of 32)
    ((427, 640), True, (448, 640)),  # 427 -> padded to 448
    ((217, 609), True, (256, 640)),  # scaled up (ratio 640/609): 228 rows -> 256
    ((640, 427), True, (640, 448)),
    ((217, 609), False, (640, 640)),  # a fixed-shape export: the square
])
def test_letterbox_shape_and_borders(hw, rect, want):
    h, w = hw
    img = np.full((h, w, 3), 200, np.uint8)
    out = process.letterbox(img, rect)
    box = process.letterbox_shape(h, w, rect)
    assert out.shape == (*want, 3) and (box.in_h, box.in_w) == want
    if want[0] > round(h * min(640 / h, 640 / w)):  # vertical padding: grey rows top and bottom, image between
        assert (out[0] == PAD_VALUE).all() and (out[-1] == PAD_VALUE).all()
        assert (out[want[0] // 2] == 200).all()
    x = process.to_input(out)
    assert x.shape == (1, 3, *want) and x.dtype == np.float32 and 0.78 < x.max() <= 200 / 255 + 1e-6


def test_to_input_swaps_bgr_to_rgb():
    img = np.zeros((32, 32, 3), np.uint8)
    img[..., 0] = 255  # blue in OpenCV's BGR
    x = process.to_input(img)
    assert x[0, 2].min() == 1.0 and x[0, 0].max() == 0.0


def _greedy(boxes, scores, iou):
    """Plain greedy NMS, one box at a time (the definition torchvision.ops.nms implements)."""
    def iou_of(a, b):
        w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
        h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
        inter = w * h
        return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)

    keep = []
    for i in sorted(range(len(scores)), key=lambda k: -scores[k]):
        if all(iou_of(boxes[i], boxes[k]) <= iou for k in keep):
            keep.append(i)
    return keep


def test_nms_matches_plain_greedy_nms():
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 200, (400, 2)).astype(np.float32)
    wh = rng.uniform(10, 80, (400, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + wh], 1)
    scores = rng.permutation(400).astype(np.float32) / 400  # distinct: one order
    assert process.nms(boxes, scores, 0.7, 10_000).tolist() == _greedy(boxes.tolist(), scores.tolist(), 0.7)
    assert process.nms(boxes, scores, 0.7, 5).tolist() == _greedy(boxes.tolist(), scores.tolist(), 0.7)[:5]


def _output(rows):
    """output0 [84, N] from (cx, cy, w, h, class, score) rows; other class scores 0."""
    out = np.zeros((84, len(rows)), np.float32)
    for n, (cx, cy, w, h, c, s) in enumerate(rows):
        out[:4, n] = cx, cy, w, h
        out[4 + c, n] = s
    return out


def test_postprocess_is_class_aware_thresholded_and_scaled_back():
    box = process.letterbox_shape(217, 609, rect=True)  # gain 640/609, padding (256 - 228) / 2 = 14 rows
    gain = 640 / 609
    out = _output([
        (100, 100, 40, 40, 0, 0.9),
        (101, 100, 40, 40, 0, 0.8),  # same class, IoU > 0.7 with the first: suppressed
        (101, 100, 40, 40, 5, 0.7),  # another class: kept (class-aware NMS)
        (300, 120, 20, 20, 2, 0.0005),  # below conf 0.001: dropped
    ])
    det = process.postprocess(out, box)
    assert det.classes.tolist() == [0, 5] and np.allclose(det.scores, [0.9, 0.7])
    x1, y1, x2, y2 = det.boxes[0]
    assert np.allclose([x1, x2], [80 / gain, 120 / gain], atol=1e-3)
    assert np.allclose([y1, y2], [(80 - 14) / gain, (120 - 14) / gain], atol=1e-3)


def test_postprocess_clips_and_caps_at_max_det():
    box = process.letterbox_shape(480, 640, rect=True)
    rows = [(5 + 2.0 * k, 5, 4, 4, k % 80, 0.5 + k / 10_000) for k in range(400)]  # no two overlap much
    det = process.postprocess(_output(rows), box)
    assert det.scores.size == MAX_DET and (np.diff(det.scores) <= 0).all()
    assert det.boxes.min() >= 0 and det.boxes[:, 2].max() <= 640 and det.boxes[:, 3].max() <= 480


def test_response_is_the_references_payload():
    det = process.Detections(np.asarray([[10, 20, 110, 70]], np.float32), np.asarray([0.5], np.float32),
                             np.asarray([79], np.int64))
    row = process.response(7, det, height=100, width=200)
    assert row.dtype == np.float32
    assert np.allclose(row, [7, 0.2, 0.05, 0.7, 0.55, 0.5, COCO_80_TO_91[79]])
    assert COCO_80_TO_91[79] == 90 and len(COCO_80_TO_91) == 80


@pytest.mark.parametrize("block,limit,iou", [(7, 10_000, 0.5), (7, 13, 0.7), (64, 40, 0.3), (256, 300, 0.7)])
def test_blockwise_nms_keeps_what_box_by_box_greedy_keeps(block, limit, iou):
    """Across block borders, with tied scores (the stable order decides) and a limit inside a block."""
    rng = np.random.default_rng(block + limit)
    xy = rng.uniform(0, 150, (300, 2)).astype(np.float32)
    wh = rng.uniform(5, 90, (300, 2)).astype(np.float32)
    boxes = np.concatenate([xy, xy + wh], 1)
    scores = np.round(rng.uniform(0, 1, 300), 1).astype(np.float32)  # ten values: many ties
    order = sorted(range(300), key=lambda k: -scores[k])  # Python's sort is stable too
    want = [k for k in _greedy([boxes[i].tolist() for i in order], [float(-n) for n in range(300)], iou)]
    assert process.nms(boxes, scores, iou, limit, block=block).tolist() == [order[k] for k in want][:limit]
