"""`accuracy --model yolo-99|yolo-95`: COCO mAP (bbox, IoU 0.50:0.95) of the accuracy log, as the reference's
tools/accuracy-coco.py computes it with pycocotools: the log's payload rows (qsl_idx, ymin, xmin, ymax, xmax,
score, category id) scaled by the qsl_idx-th image's height and width, each sample once, a sample without
detections still counted, COCOeval over the images seen; the line it prints is `mAP=NN.NNN%`.

Those are the semantics retinanet's accuracy-openimages.py shares (the same script lineage and payload), so the
scoring is that family's (retinanet.accuracy); this module checks the COCO file first, with this layout's
messages."""

from pathlib import Path

from ...errors import UsageError
from ..retinanet.accuracy import Score, accuracy_txt, format_line
from ..retinanet.accuracy import score as _score
from .annotations import read_json

__all__ = ["Score", "accuracy_txt", "command", "format_line", "score"]


def score(accuracy_log: Path, annotations: Path) -> Score:
    read_json(annotations)  # a missing or unreadable file: this layout's one-line message
    return _score(accuracy_log, annotations)


def command(a) -> int:
    """`accuracy --model yolo-99 --mlperf-accuracy-file LOG --dataset-dir DIR`: COCOeval's table and the mAP line,
    as accuracy-coco.py prints them; --output writes them as a run's accuracy.txt."""
    from . import ANNOTATIONS

    if getattr(a, "dataset_dir", None) is None:
        raise UsageError("no annotations to score against", f"pass --dataset-dir (the directory with {ANNOTATIONS})")
    s = score(Path(a.mlperf_accuracy_file), Path(a.dataset_dir) / ANNOTATIONS)
    print(s.summary.rstrip())
    print(format_line(s))
    if a.output:
        Path(a.output).write_text(accuracy_txt(s))
    return 0
