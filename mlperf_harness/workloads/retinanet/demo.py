"""`demo-data --model retinanet`: the RetinaNet with seeded random weights as the reference's two model files
(resnext50_32x4d_fpn.onnx and the training checkpoint retinanet_model_10.pth) and a few synthetic JPEGs with
a matching COCO-style annotations file in the OpenImages MLPerf layout."""

import argparse
import json
import sys
from pathlib import Path

import cv2
import numpy as np

from . import ANNOTATIONS, IMAGES, NUM_CLASSES, ONNX_FILE, PTH_FILE, onnx_model, weights

MODELS_DIR = "models"
DATASET_DIR = "datasets/openimages"


def _write_pth(params: dict[str, np.ndarray], path: Path) -> bool:
    try:
        import torch
    except ImportError:
        print(f"notice: torch is not importable here; {path.name} was not written (pytorch runs need it)")
        return False
    state = {k: torch.from_numpy(v.copy()) for k, v in params.items()}
    args = argparse.Namespace(backbone="resnext50_32x4d", num_classes=NUM_CLASSES, image_size=[800, 800])
    torch.save({"model": state, "epoch": 10, "args": args}, path)  # the training script's checkpoint layout
    return True


def write_dataset(out_dir: Path, count: int, seed: int) -> None:
    """`count` JPEGs of varied size, each with one to three filled boxes, and their annotations (one per box,
    category ids in 0..263) in annotations/openimages-mlperf.json."""
    rng = np.random.default_rng(seed)
    data_dir = out_dir / IMAGES
    data_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / ANNOTATIONS).parent.mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for i in range(count):
        h, w = int(rng.integers(240, 640)), int(rng.integers(240, 640))
        img = cv2.resize(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
        name = f"{int(rng.integers(0, 1 << 62)):016x}.jpg"
        for _ in range(int(rng.integers(1, 4))):
            bw, bh = int(rng.integers(w // 8, w // 2)), int(rng.integers(h // 8, h // 2))
            x, y = int(rng.integers(0, w - bw)), int(rng.integers(0, h - bh))
            cv2.rectangle(img, (x, y), (x + bw - 1, y + bh - 1), tuple(int(c) for c in rng.integers(0, 256, 3)), -1)
            annotations.append(
                {
                    "id": len(annotations) + 1,
                    "image_id": i,
                    "category_id": int(rng.integers(0, NUM_CLASSES)),
                    "bbox": [float(x), float(y), float(bw), float(bh)],
                    "area": float(bw * bh),
                    "iscrowd": 0,
                }
            )
        cv2.imwrite(str(data_dir / name), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        images.append({"id": i, "file_name": name, "height": h, "width": w})
    categories = [{"id": c, "name": f"demo-class-{c}", "supercategory": "demo"} for c in range(NUM_CLASSES)]
    doc = {"info": {"description": "mlperf_harness demo-data (synthetic)"}, "images": images}
    doc.update(annotations=annotations, categories=categories)
    (out_dir / ANNOTATIONS).write_text(json.dumps(doc, indent=1) + "\n")


def write(out_dir: Path, count: int, seed: int) -> None:
    """Write everything below out_dir; the same seed gives a byte-identical ONNX file."""
    models = out_dir / MODELS_DIR
    models.mkdir(parents=True, exist_ok=True)
    params = weights.retinanet_params(seed)
    (models / ONNX_FILE).write_bytes(onnx_model.build(params).SerializeToString())
    print(f"wrote {models / ONNX_FILE}")
    if _write_pth(params, models / PTH_FILE):
        print(f"wrote {models / PTH_FILE}")
    write_dataset(out_dir / DATASET_DIR, count, seed)
    print(f"wrote {count} JPEGs and {ANNOTATIONS} to {out_dir / DATASET_DIR}")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the images synthetic: accuracy figures on this data are "
        "meaningless; it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
