"""RetinaNet accuracy: COCO mAP of hand-made detection logs on a hand-made annotations file, values worked out by
hand (COCOeval interpolates precision at 101 recall points, averaged over 10 IoU thresholds)."""

import json
import re

import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.retinanet import accuracy
from mlperf_harness.workloads.retinanet.backends import Detections, response

CHECKER_RE = re.compile(r".*(?:mAP=|'Total':)\s*([\d.]+)")  # the official checker's openimages pattern

# Two images of different shapes; one box each, category 5 and 7. bbox is x, y, w, h in pixels.
IMAGES = [
    {"id": 11, "file_name": "a.jpg", "height": 200, "width": 400},
    {"id": 12, "file_name": "b.jpg", "height": 300, "width": 100},
]
GT = [
    {"id": 1, "image_id": 11, "category_id": 5, "bbox": [40.0, 20.0, 200.0, 100.0], "area": 20000.0, "iscrowd": 0},
    {"id": 2, "image_id": 12, "category_id": 5, "bbox": [10.0, 30.0, 50.0, 150.0], "area": 7500.0, "iscrowd": 0},
]


@pytest.fixture
def annotations(tmp_path):
    path = tmp_path / "openimages-mlperf.json"
    cats = [{"id": c, "name": f"c{c}"} for c in range(264)]
    path.write_text(json.dumps({"images": IMAGES, "annotations": GT, "categories": cats}))
    return path


def row(idx: int, box_xywh, score: float, label: int) -> list[float]:
    """A log row (idx, ymin, xmin, ymax, xmax, score, label) normalised by the image of `idx`."""
    img = IMAGES[idx]
    x, y, w, h = box_xywh
    return [idx, y / img["height"], x / img["width"], (y + h) / img["height"], (x + w) / img["width"], score, label]


def write_log(path, samples: dict[int, list[list[float]]], repeat: int | None = None):
    entries = [
        {"seq_id": n, "qsl_idx": i, "data": np.array(rows, np.float32).tobytes().hex()}
        for n, (i, rows) in enumerate(samples.items())
    ]
    if repeat is not None:
        entries.append(dict(entries[repeat], seq_id=len(entries), data=""))  # a later duplicate is ignored
    path.write_text(json.dumps(entries))
    return path


def test_perfect_detections_score_100(annotations, tmp_path):
    log = write_log(tmp_path / "log.json", {0: [row(0, GT[0]["bbox"], 0.9, 5)], 1: [row(1, GT[1]["bbox"], 0.8, 5)]})
    s = accuracy.score(log, annotations)
    assert accuracy.format_line(s).startswith("mAP=100.000%")
    assert (s.images, s.detections, s.no_results) == (2, 2, 0)


def test_one_of_two_missed(annotations, tmp_path):
    # Recall reaches 0.5 with precision 1: 51 of the 101 recall points (0.00..0.50) have precision 1 -> 51/101.
    log = write_log(tmp_path / "log.json", {0: [row(0, GT[0]["bbox"], 0.9, 5)], 1: []})
    s = accuracy.score(log, annotations)
    assert s.map == pytest.approx(51 / 101, abs=1e-9)
    assert accuracy.format_line(s).startswith("mAP=50.495%")
    assert s.no_results == 1


def test_higher_scoring_false_positive_halves_precision(annotations, tmp_path):
    # A class-5 box where image 0 has nothing, scored above both true positives. Ranked: FP 0.95, TP 0.9, TP 0.8 ->
    # precisions 0, 1/2, 2/3 at recalls 0, 1/2, 1; interpolated precision is 2/3 at every recall point.
    fp = row(0, [300.0, 150.0, 50.0, 40.0], 0.95, 5)
    log = write_log(tmp_path / "log.json", {0: [fp, row(0, GT[0]["bbox"], 0.9, 5)], 1: [row(1, GT[1]["bbox"], 0.8, 5)]})
    assert accuracy.score(log, annotations).map == pytest.approx(2 / 3, abs=1e-9)


def test_box_off_by_iou_between_thresholds(annotations, tmp_path):
    # Image 0's box shifted right by 46 px: IoU = 154/246 = 0.626, a match at IoU thresholds 0.50, 0.55, 0.60
    # and a false positive (score 0.9, above image 1's true positive 0.8) at the other 7. Matched: AP = 1.
    # Unmatched: ranked FP, TP -> precision 1/2 up to recall 1/2 -> AP = 0.5 * 51/101.
    shifted = [86.0, 20.0, 200.0, 100.0]
    log = write_log(tmp_path / "log.json", {0: [row(0, shifted, 0.9, 5)], 1: [row(1, GT[1]["bbox"], 0.8, 5)]})
    assert accuracy.score(log, annotations).map == pytest.approx((3 + 7 * 0.5 * 51 / 101) / 10, abs=1e-9)


def test_duplicate_samples_count_once(annotations, tmp_path):
    log = write_log(
        tmp_path / "log.json", {0: [row(0, GT[0]["bbox"], 0.9, 5)], 1: [row(1, GT[1]["bbox"], 0.8, 5)]}, repeat=1
    )
    s = accuracy.score(log, annotations)
    assert (s.map, s.images) == (1.0, 2)


def test_model_output_through_response_scores_100(annotations, tmp_path):
    """Boxes as the model gives them (x1, y1, x2, y2 in 800x800 input pixels) -> response() -> scorer: the
    coordinate order and normalisation round-trip to the annotations' pixels."""
    samples = {}
    for i, (img, gt) in enumerate(zip(IMAGES, GT, strict=True)):
        x, y, w, h = gt["bbox"]
        sx, sy = 800 / img["width"], 800 / img["height"]
        det = Detections(
            np.array([[x * sx, y * sy, (x + w) * sx, (y + h) * sy]], np.float32),
            np.array([0.7], np.float32),
            np.array([5], np.int64),
        )
        payload = response(i, det)
        assert payload.dtype == np.float32 and payload.shape == (7,)
        samples[i] = [payload.tolist()]
    s = accuracy.score(write_log(tmp_path / "log.json", samples), annotations)
    assert s.map == pytest.approx(1.0)


def test_response_drops_low_scores_and_orders_y_first():
    det = Detections(
        np.array([[80, 160, 240, 400], [0, 0, 8, 8]], np.float32),
        np.array([0.5, 0.01], np.float32),
        np.array([3, 4], np.int64),
    )
    np.testing.assert_allclose(response(9, det), [9, 0.2, 0.1, 0.5, 0.3, 0.5, 3], rtol=1e-6)
    assert (
        response(2, Detections(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))).size == 0
    )


def test_no_detections_at_all_is_zero(annotations, tmp_path):
    s = accuracy.score(write_log(tmp_path / "log.json", {0: [], 1: []}), annotations)
    assert accuracy.format_line(s).startswith("mAP=0.000%") and s.no_results == 2


def test_line_matches_the_checker(annotations, tmp_path):
    log = write_log(tmp_path / "log.json", {0: [row(0, GT[0]["bbox"], 0.9, 5)], 1: []})
    m = CHECKER_RE.match(accuracy.format_line(accuracy.score(log, annotations)))
    assert m and float(m.group(1)) == 50.495


def test_annotations_without_area_or_iscrowd(tmp_path):
    path = tmp_path / "a.json"
    gt = [{k: v for k, v in g.items() if k not in ("area", "iscrowd")} for g in GT]
    path.write_text(json.dumps({"images": IMAGES, "annotations": gt, "categories": [{"id": 5, "name": "x"}]}))
    log = write_log(tmp_path / "log.json", {0: [row(0, GT[0]["bbox"], 0.9, 5)], 1: [row(1, GT[1]["bbox"], 0.8, 5)]})
    assert accuracy.score(log, path).map == pytest.approx(1.0)


@pytest.mark.parametrize(
    "case, needle",
    [
        ("no-log", "does not exist"),
        ("bad-json", "is not valid JSON"),
        ("no-annotations", "openimages-mlperf.json"),
        ("index", "qsl_idx 5 is beyond"),
    ],
)
def test_bad_inputs_are_one_line(annotations, tmp_path, case, needle):
    log = tmp_path / "log.json"
    ann = annotations
    if case == "bad-json":
        log.write_text("[{")
    elif case == "no-annotations":
        write_log(log, {0: []})
        ann = tmp_path / "nope" / "openimages-mlperf.json"
    elif case == "index":
        write_log(log, {5: []})
    with pytest.raises(UsageError) as e:
        accuracy.score(log, ann)
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_evaluate_prints_the_table_and_the_line(annotations, tmp_path, capsys):
    root = tmp_path / "openimages"
    (root / "annotations").mkdir(parents=True)
    annotations.rename(root / "annotations/openimages-mlperf.json")
    log = write_log(tmp_path / "log.json", {0: [row(0, GT[0]["bbox"], 0.9, 5)], 1: []})
    line = accuracy.evaluate(log, root)
    out = capsys.readouterr().out
    assert line.startswith("mAP=50.495%") and out.endswith(line + "\n")
    assert "Average Precision  (AP) @[ IoU=0.50:0.95 | area=   all | maxDets=100 ] = 0.505" in out
