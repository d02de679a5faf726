"""`demo-data`: a ResNet50 v1.5 with seeded random weights and synthetic JPEGs. By default the ONNX file and, where
torch is importable, the torchvision .pth; with `--backend B` only B's file: onnxruntime/tensorrt the ONNX, pytorch
the .pth, tf the frozen TensorFlow graph (.pb, ~100 MB, written only when asked for: it needs tensorflow).

The labels in val_map.txt are the written model's own top-1 answers (through that backend's preprocessing, the ONNX
file's by default): a random network's predictions against random labels would score 0.1 %, and a closed-division
tree on demo data could never meet resnet50's accuracy target. So the demo exercises the accuracy path end to end,
never the model's quality."""

import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError

from . import images, onnx_model, weights

ONNX_FILE = "models/resnet50_v1.onnx"
PTH_FILE = "models/resnet50-19c8e357.pth"
PB_FILE = "models/resnet50_v1.pb"
DATASET_DIR = "datasets/imagenet"


def _write_pth(params: dict, path: Path, required: bool = False) -> bool:
    try:
        import torch
    except ImportError:
        if required:
            raise UsageError(f"torch is not importable here: cannot write {path}", "pip install torch") from None
        print(f"notice: torch is not importable here; {path.name} was not written (pytorch runs need it)")
        return False
    state = {}
    for name, value in params.items():
        state[name] = torch.from_numpy(value.copy())
        if name.endswith(".running_var"):
            state[name.replace(".running_var", ".num_batches_tracked")] = torch.tensor(0, dtype=torch.long)
    torch.save(state, path)
    return True


def _write_pb(seed: int, path: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        import tensorflow  # noqa: F401
    except ImportError:
        raise UsageError(
            f"tensorflow is not importable here: cannot write {path}", "pip install '.[tflite]' (tensorflow-cpu)"
        ) from None
    from .frozen_graph import resnet50_graph_def

    path.write_bytes(resnet50_graph_def(seed).SerializeToString())


def label_with_model(dataset_dir: Path, backend: str, model_path: Path) -> None:
    """Rewrite val_map.txt with the model's top-1 label per image, as the harness's `backend` computes it on cpu."""
    from .. import dataset, layout
    from ..backends import create

    with tempfile.TemporaryDirectory() as cache:
        runner = create(backend, "cpu", model_path, os.cpu_count() or 1, "fp32", Path(cache), 1)
        preprocess = dataset.spec(runner.preprocessing)[0]
        pairs = layout.parse_val_map(dataset_dir / "val_map.txt")
        batch = np.stack([preprocess(dataset_dir / name) for name, _ in pairs])
        top1 = np.asarray(runner.predict(batch)).reshape(-1) + runner.label_offset
    lines = [f"{name} {int(t)}\n" for (name, _), t in zip(pairs, top1, strict=True)]
    (dataset_dir / "val_map.txt").write_text("".join(lines))


def write(out_dir: Path, count: int, seed: int, backend: str | None = None) -> None:
    """Write everything below out_dir; the same seed gives a byte-identical ONNX file. backend None: the ONNX file and
    the .pth (when torch is importable); else only that backend's model file."""
    models = out_dir / "models"
    models.mkdir(parents=True, exist_ok=True)
    params = weights.resnet50_params(seed) if backend != "tf" else {}  # the .pb draws its own (same seed)
    if backend in (None, "onnxruntime", "tensorrt"):
        (out_dir / ONNX_FILE).write_bytes(onnx_model.build(params).SerializeToString())
        print(f"wrote {out_dir / ONNX_FILE}")
    if backend in (None, "pytorch") and _write_pth(params, out_dir / PTH_FILE, required=backend == "pytorch"):
        print(f"wrote {out_dir / PTH_FILE}")
    if backend == "tf":
        _write_pb(seed, out_dir / PB_FILE)
        print(f"wrote {out_dir / PB_FILE} (1001 classes, as the reference's)")
    images.write(out_dir / DATASET_DIR, count, seed)
    labeller = backend or "onnxruntime"
    model = out_dir / {"onnxruntime": ONNX_FILE, "tensorrt": ONNX_FILE, "pytorch": PTH_FILE, "tf": PB_FILE}[labeller]
    if labeller == "tensorrt":
        labeller = "onnxruntime"  # the same ONNX file; TensorRT needs a GPU
    label_with_model(out_dir / DATASET_DIR, labeller, model)
    print(f"wrote {count} JPEGs and val_map.txt to {out_dir / DATASET_DIR} (labels: the {labeller} model's top-1)")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}), the images synthetic and the labels the model's own "
        "answers: accuracy on this data says nothing about the model; it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
