"""`accuracy-openimages`: COCO mAP (bbox, IoU 0.50:0.95) of a RetinaNet accuracy log, as the reference's
accuracy-openimages.py computes it with pycocotools.

The log's payload per sample is float32 rows (qsl_idx, ymin, xmin, ymax, xmax, score, label) with coordinates
in 0..1; qsl_idx indexes the annotations' "images" list; coordinates are scaled by that image's height and
width. Each sample counts once (LoadGen may log one twice); a sample without detections still counts.
"""

import contextlib
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...errors import UsageError
from ...loadgen.logs import read_accuracy_log
from .annotations import read_json


@dataclass
class Score:
    map: float  # 0..1, COCOeval stats[0]
    images: int  # distinct samples scored
    detections: int
    no_results: int  # samples with no detection
    summary: str  # COCOeval.summarize()'s table


def read_log(accuracy_log: Path) -> list[dict]:
    return read_accuracy_log(accuracy_log)


def _coco(annotations: Path, data: dict):
    """A pycocotools COCO index of the annotations; `area` and `iscrowd`, which COCOeval reads, default to the
    box area and 0 when a file leaves them out."""
    from pycocotools.coco import COCO

    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise UsageError(f"{annotations} has no {key!r} list", "pass the COCO-style openimages-mlperf.json")
    for a in data["annotations"]:
        a.setdefault("iscrowd", 0)
        if "area" not in a:
            a["area"] = float(a["bbox"][2]) * float(a["bbox"][3])
    coco = COCO()
    coco.dataset = data
    with contextlib.redirect_stdout(io.StringIO()):
        coco.createIndex()
    return coco


def score(accuracy_log: Path, annotations: Path) -> Score:
    from pycocotools.cocoeval import COCOeval

    data = read_json(annotations, "annotations file")
    coco = _coco(annotations, data)
    images = data["images"]
    results = read_log(accuracy_log)
    detections, image_ids, seen, no_results = [], set(), set(), 0
    for r in results:
        idx = int(r["qsl_idx"])
        if idx in seen:
            continue
        if not 0 <= idx < len(images):
            raise UsageError(
                f"qsl_idx {idx} is beyond the {len(images)} images of {annotations}", "pass the run's annotations file"
            )
        seen.add(idx)
        image = images[idx]
        image_ids.add(image["id"])
        rows = np.frombuffer(bytes.fromhex(r["data"]), np.float32)
        if rows.size < 7:
            no_results += 1
            continue
        h, w = float(image["height"]), float(image["width"])
        for sample, ymin, xmin, ymax, xmax, s, label in rows[: rows.size // 7 * 7].reshape(-1, 7).tolist():
            if int(sample) != idx:
                raise UsageError(
                    f"{accuracy_log}: a detection of qsl_idx {idx} names sample {int(sample)}", "rerun the accuracy run"
                )
            x0, y0, x1, y1 = xmin * w, ymin * h, xmax * w, ymax * h
            detections.append(
                {"image_id": image["id"], "category_id": int(label), "bbox": [x0, y0, x1 - x0, y1 - y0], "score": s}
            )
    if not detections:
        return Score(0.0, len(seen), 0, no_results, "no detections")
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        ev = COCOeval(coco, coco.loadRes(detections), iouType="bbox")
        ev.params.imgIds = sorted(image_ids)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return Score(max(0.0, float(ev.stats[0])), len(seen), len(detections), no_results, out.getvalue())


def format_line(s: Score) -> str:
    """The reference's result line (the checker reads `mAP=NN.NNN%`), with counts after it."""
    return f"mAP={100.0 * s.map:.3f}%, images={s.images}, detections={s.detections}, no_results={s.no_results}"


def accuracy_txt(s: Score) -> str:
    """accuracy.txt: the `mAP=` line first (the line mlperfctl's results table shows), then COCOeval's table."""
    return format_line(s) + "\n" + s.summary.rstrip() + "\n"


def evaluate(accuracy_log: Path, openimages_dir: Path) -> str:
    """The reference script's job for `--mlperf-accuracy-file LOG --openimages-dir DIR`: print COCOeval's table
    and the mAP line (what accuracy.txt holds); returns the line."""
    from . import ANNOTATIONS

    s = score(accuracy_log, openimages_dir / ANNOTATIONS)
    line = format_line(s)
    print(s.summary.rstrip())
    print(line)
    return line


def command(a) -> int:
    """`accuracy --model retinanet --mlperf-accuracy-file LOG --dataset-dir DIR`: COCOeval's table and the mAP
    line, as the reference's accuracy-openimages.py prints them; --output writes them as a run's accuracy.txt."""
    from . import ANNOTATIONS

    if getattr(a, "dataset_dir", None) is None:
        raise UsageError("no annotations to score against", "pass --dataset-dir (with annotations/)")
    s = score(Path(a.mlperf_accuracy_file), Path(a.dataset_dir) / ANNOTATIONS)
    print(s.summary.rstrip())
    print(format_line(s))
    if a.output:
        Path(a.output).write_text(accuracy_txt(s))
    return 0
