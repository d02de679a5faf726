"""`demo-data --model yolo-99`: yolo11l (the reference's architecture) with seeded random weights as the ONNX file
the onnxruntime backend reads (models/yolo11l.onnx, dynamic height/width as `yolo export ... dynamic=True`
writes it), and a few synthetic JPEGs in the COCO safe layout (val2017_safe/, annotations/instances_val2017.json
with the 80 COCO categories).

The annotations are the demo model's own detections, found by the harness's own path (letterbox, onnxruntime,
NMS, scaling): every detection scoring above a threshold picked in a wide gap of the scores (a few per image on
average). So COCO mAP on this data is 100 % (a closed demo tree can meet yolo-99's target): that checks the
accuracy path end to end, never a model's quality. The images are wide (about 3:1), so the rectangular letterbox
gives a 640x224-ish input: a third of a square 640 image's work, with the same network."""

import json
import sys
from pathlib import Path

import cv2
import numpy as np

from . import ANNOTATIONS, COCO_80_TO_91, IMAGES, ONNX_FILE

MODELS_DIR = "models"
DATASET_DIR = "datasets/coco_safe"
GT_PER_IMAGE = 4  # at most this many reference boxes per image on average
CLS_LOGIT_STD, CLS_LOGIT_MEAN = 2.5, -3.0  # the random head's class logits, spread so scores separate


def _spread_class_logits(net, seed: int) -> None:
    """Random weights give near-equal class scores (sigmoid ~0.51 everywhere); rescale each level's last class
    convolution so its logits on a random image have CLS_LOGIT_STD spread around CLS_LOGIT_MEAN."""
    import torch

    head = net.model[23]
    seen = {}
    hooks = [head.cv3[i][2].register_forward_hook(lambda m, inp, out, i=i: seen.__setitem__(i, out))
             for i in range(3)]
    x = torch.rand(1, 3, 224, 640, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        net(x)
        for i in range(3):
            conv, out = head.cv3[i][2], seen[i]
            k = CLS_LOGIT_STD / float(out.std())
            conv.weight.mul_(k)
            conv.bias.copy_((conv.bias - out.mean(dim=(0, 2, 3))) * k + CLS_LOGIT_MEAN)
    for h in hooks:
        h.remove()


def write_model(path: Path, seed: int) -> None:
    from . import model

    net = model.build(seed)
    _spread_class_logits(net, seed)
    model.export_onnx(net, path, dynamic=True)


def _categories() -> list[dict]:
    return [{"id": c, "name": f"demo-class-{c}", "supercategory": "demo"} for c in COCO_80_TO_91]


def write_images(out_dir: Path, count: int, seed: int) -> list[dict]:
    """`count` wide JPEGs (smooth colour fields with a few filled boxes); their "images" entries."""
    rng = np.random.default_rng(seed)
    data_dir = out_dir / IMAGES
    data_dir.mkdir(parents=True, exist_ok=True)
    images = []
    for _ in range(count):
        w = int(rng.integers(480, 640))
        h = int(w / rng.uniform(2.7, 3.1))
        img = cv2.resize(rng.integers(0, 256, (4, 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
        for _ in range(int(rng.integers(2, 5))):
            bw, bh = int(rng.integers(w // 10, w // 3)), int(rng.integers(h // 6, h // 2))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
        name = f"{int(rng.integers(0, 10**12)):012d}.jpg"  # COCO's zero-padded file names
        cv2.imwrite(str(data_dir / name), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        images.append({"id": int(name[:-4]), "file_name": name, "height": h, "width": w, "license": 4,
                       "coco_url": f"http://images.cocodataset.org/val2017/{name}"})
    return images


def _write_annotations(out_dir: Path, images: list[dict], annotations: list[dict]) -> None:
    path = out_dir / ANNOTATIONS
    path.parent.mkdir(parents=True, exist_ok=True)
    doc = {"info": {"description": "mlperf_harness demo-data (synthetic)"}, "licenses": [], "images": images,
           "annotations": annotations, "categories": _categories()}
    path.write_text(json.dumps(doc, indent=1) + "\n")


def reference_detections(out_dir: Path, model_path: Path, threads: int = 2) -> list:
    """The harness's detections (process.Detections per image, in the annotations' order) of the model."""
    import tempfile

    from . import backends, dataset, process

    entries = dataset.read_annotations(out_dir)
    runner = backends.create("onnxruntime", "cpu", model_path, threads)
    with tempfile.TemporaryDirectory() as cache:
        ds = dataset.Dataset(entries, Path(cache), threads, runner.rect)
        ds.load(list(range(len(entries))))
        outs = runner.predict(ds.batch(list(range(len(entries)))))
        return [process.postprocess(o, b) for o, b in zip(outs, ds.boxes, strict=True)]


def pick_threshold(dets: list) -> float:
    """A score threshold in the widest gap (in logit space) between consecutive detection scores that leaves one
    to GT_PER_IMAGE boxes per image on average above it, so that a tiny numeric difference (another onnxruntime
    build) flips no reference box."""
    scores = np.sort(np.concatenate([d.scores for d in dets]))[::-1]
    if scores.size < 2:
        return float(scores[-1]) / 2 if scores.size else 1.0
    logits = np.log(scores) - np.log1p(-np.minimum(scores, 1 - 1e-7))
    gaps = logits[:-1] - logits[1:]  # gaps[k]: between the (k+1)-th and (k+2)-th best
    lo = min(len(dets), gaps.size) - 1
    hi = min(GT_PER_IMAGE * len(dets), gaps.size)
    k = lo + int(np.argmax(gaps[lo:hi]))
    return float((scores[k] + scores[k + 1]) / 2)


def write(out_dir: Path, count: int, seed: int) -> None:
    """Write everything below out_dir; the same seed gives the same files."""
    models = out_dir / MODELS_DIR
    models.mkdir(parents=True, exist_ok=True)
    try:
        write_model(models / ONNX_FILE, seed)
    except ImportError as e:
        from ...errors import UsageError

        raise UsageError(f"demo-data --model yolo-99 needs torch to build the network ({e})",
                         "run it where torch is installed (the project's .venv)") from None
    print(f"wrote {models / ONNX_FILE}")
    ds_dir = out_dir / DATASET_DIR
    images = write_images(ds_dir, count, seed)
    _write_annotations(ds_dir, images, [])
    dets = reference_detections(ds_dir, models / ONNX_FILE)
    t = pick_threshold(dets)
    annotations = []
    for img, d in zip(images, dets, strict=True):
        keep = np.flatnonzero(d.scores > t)
        for j in keep:
            x1, y1, x2, y2 = (float(v) for v in d.boxes[j])
            annotations.append({"id": len(annotations) + 1, "image_id": img["id"],
                                "category_id": COCO_80_TO_91[int(d.classes[j])], "bbox": [x1, y1, x2 - x1, y2 - y1],
                                "area": (x2 - x1) * (y2 - y1), "iscrowd": 0})
    _write_annotations(ds_dir, images, annotations)
    print(f"wrote {count} JPEGs and {ANNOTATIONS} ({len(annotations)} boxes: the model's own detections scoring "
          f"above {t:.4f}) to {ds_dir}")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the images synthetic: accuracy figures on this data are "
        "meaningless; it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
