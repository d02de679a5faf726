"""The reference's pre- and post-processing (ultralytics' predict path for a YOLO detection model), in numpy and
OpenCV: letterbox, non-maximum suppression, boxes back to the original image, and the accuracy-log payload."""

from typing import NamedTuple

import cv2
import numpy as np

from . import COCO_80_TO_91, CONF_THRESH, IOU_THRESH, MAX_DET, MAX_NMS, MAX_WH, PAD_VALUE, SIZE, STRIDE

COCO_IDS = np.asarray(COCO_80_TO_91, np.float32)


class Letterbox(NamedTuple):
    """Where an image of (height, width) lands in the network input of (in_h, in_w)."""

    height: int
    width: int
    in_h: int
    in_w: int


def letterbox_shape(height: int, width: int, rect: bool, size: int = SIZE) -> Letterbox:
    """ultralytics LetterBox(new_shape=size, auto=rect, stride=32): the input's shape for an image. `rect` (the
    reference's .pt, or an ONNX export with dynamic height/width): each padded side only up to a multiple of 32;
    otherwise (a fixed 640x640 export) the square."""
    r = min(size / height, size / width)
    new_w, new_h = int(round(width * r)), int(round(height * r))
    if not rect:
        return Letterbox(height, width, size, size)
    return Letterbox(height, width, new_h + (size - new_h) % STRIDE, new_w + (size - new_w) % STRIDE)


def letterbox(img: np.ndarray, rect: bool, size: int = SIZE) -> np.ndarray:
    """The BGR image resized (bilinear) by the ratio that fits its longer side into `size`, then centred with grey
    114 borders (top/left round(d - 0.1), bottom/right round(d + 0.1) of half the padding, as ultralytics)."""
    h, w = img.shape[:2]
    box = letterbox_shape(h, w, rect, size)
    r = min(size / h, size / w)
    new_w, new_h = int(round(w * r)), int(round(h * r))
    if (w, h) != (new_w, new_h):
        img = cv2.resize(img, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
    dw, dh = (box.in_w - new_w) / 2, (box.in_h - new_h) / 2
    top, bottom = int(round(dh - 0.1)), int(round(dh + 0.1))
    left, right = int(round(dw - 0.1)), int(round(dw + 0.1))
    return cv2.copyMakeBorder(img, top, bottom, left, right, cv2.BORDER_CONSTANT, value=(PAD_VALUE,) * 3)


def to_input(letterboxed_bgr: np.ndarray) -> np.ndarray:
    """BGR HWC uint8 -> RGB CHW float32 in 0..1 with a batch axis: [1, 3, H, W]."""
    chw = letterboxed_bgr[:, :, ::-1].transpose(2, 0, 1)
    return (np.ascontiguousarray(chw, dtype=np.float32) / np.float32(255.0))[None]


def _iou(x1, y1, x2, y2, areas, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """IoU of each box in `rows` with each in `cols`, [rows, cols], in float32 with the arithmetic of the one-box
    step of torchvision's NMS (so the same boxes go)."""
    w = np.maximum(np.minimum(x2[rows, None], x2[cols]) - np.maximum(x1[rows, None], x1[cols]), 0)
    h = np.maximum(np.minimum(y2[rows, None], y2[cols]) - np.maximum(y1[rows, None], y1[cols]), 0)
    inter = w * h
    return inter / (areas[rows, None] + areas[cols] - inter)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float, limit: int, block: int = 256) -> np.ndarray:
    """Greedy NMS as torchvision.ops.nms (best first; a box goes when its IoU with a kept one exceeds `iou`),
    stopping after `limit` kept boxes (the first `limit` of the full result).

    Done a block of `block` candidates at a time, best first: the boxes kept so far drop the block's candidates
    they overlap in one matrix, then the block's own IoU matrix settles the rest greedily. The same boxes as
    box-by-box greedy NMS, with a few array operations per block in place of a dozen per kept box."""
    order = np.argsort(-scores, kind="stable")
    x1, y1, x2, y2 = (np.ascontiguousarray(c) for c in boxes[order].T)
    areas = (x2 - x1) * (y2 - y1)
    keep = np.empty(0, np.int64)
    for start in range(0, order.size, block):
        if keep.size >= limit:
            break
        cand = np.arange(start, min(start + block, order.size))
        if keep.size:
            cand = cand[~(_iou(x1, y1, x2, y2, areas, keep, cand) > iou).any(0)]
        if not cand.size:
            continue
        over = _iou(x1, y1, x2, y2, areas, cand, cand) > iou
        gone = np.zeros(cand.size, bool)
        kept = []
        for r in range(cand.size):
            if gone[r]:
                continue
            kept.append(r)
            if keep.size + len(kept) >= limit:
                break
            gone |= over[r]
        keep = np.concatenate([keep, cand[kept]])
    return order[keep[:limit]]


class Detections(NamedTuple):
    boxes: np.ndarray  # [D, 4] float32 x1, y1, x2, y2 in the original image's pixels
    scores: np.ndarray  # [D] float32
    classes: np.ndarray  # [D] int64, YOLO class index 0..79


def postprocess(output: np.ndarray, box: Letterbox) -> Detections:
    """One image's output0 [84, anchors] -> its detections: ultralytics non_max_suppression(conf 0.001, iou 0.7,
    max_det 300, class-aware, one label per box), then scale_boxes back to the original image and clip."""
    cls = output[4:]
    j = cls.argmax(0)
    conf = cls[j, np.arange(cls.shape[1])]
    keep = conf > CONF_THRESH
    xywh, conf, j = output[:4, keep].T, conf[keep], j[keep]
    if conf.size > MAX_NMS:
        top = np.argsort(-conf, kind="stable")[:MAX_NMS]
        xywh, conf, j = xywh[top], conf[top], j[top]
    xyxy = np.empty_like(xywh)
    xyxy[:, :2] = xywh[:, :2] - xywh[:, 2:] / 2
    xyxy[:, 2:] = xywh[:, :2] + xywh[:, 2:] / 2
    kept = nms(xyxy + (j * MAX_WH)[:, None].astype(np.float32), conf, IOU_THRESH, MAX_DET)
    xyxy, conf, j = xyxy[kept], conf[kept], j[kept]
    # scale_boxes: remove the padding, undo the gain, clip to the image
    gain = min(box.in_h / box.height, box.in_w / box.width)
    pad_x = round((box.in_w - box.width * gain) / 2 - 0.1)
    pad_y = round((box.in_h - box.height * gain) / 2 - 0.1)
    xyxy = (xyxy - np.asarray([pad_x, pad_y, pad_x, pad_y], np.float32)) / np.float32(gain)
    xyxy[:, [0, 2]] = xyxy[:, [0, 2]].clip(0, box.width)
    xyxy[:, [1, 3]] = xyxy[:, [1, 3]].clip(0, box.height)
    return Detections(xyxy.astype(np.float32), conf.astype(np.float32), j.astype(np.int64))


def response(index: int, det: Detections, height: int, width: int) -> np.ndarray:
    """The reference's accuracy-log payload: per detection (index, ymin, xmin, ymax, xmax, score, COCO category id)
    as float32, coordinates divided by the original height and width."""
    out = np.empty((det.scores.size, 7), np.float32)
    out[:, 0] = index
    out[:, 1] = det.boxes[:, 1] / height
    out[:, 2] = det.boxes[:, 0] / width
    out[:, 3] = det.boxes[:, 3] / height
    out[:, 4] = det.boxes[:, 2] / width
    out[:, 5] = det.scores
    out[:, 6] = COCO_IDS[det.classes]
    return out.reshape(-1)
