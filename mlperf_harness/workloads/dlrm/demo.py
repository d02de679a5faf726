"""`demo-data --model dlrm-v2`: DLRM-DCNv2 with seeded random weights and small tables (at most DEMO_ROWS rows
each), in the checkpoint-directory layout, and a small day-23 multi-hot Criteo set in the official formats
(the reference's multi-hot sizes). The evaluation half of `count` written rows is what runs read."""

import sys
from pathlib import Path

import numpy as np

from . import DENSE_FEATURES, DENSE_FILE, EMBEDDING_DIM, LABELS_FILE, MULTI_HOT_SIZES, SPARSE_FILE, TABLE_SIZES
from .model import DENSE_FILE as CKPT_DENSE
from .model import TABLE_DIR, seeded_dense

MODEL_DIR = "models/dlrm-v2"
DATASET_DIR = "datasets/criteo"
DEMO_ROWS = 1000


def demo_rows() -> list[int]:
    return [min(n, DEMO_ROWS) for n in TABLE_SIZES]


def write_data(out: Path, count: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    dense = rng.uniform(0.0, 9.0, (count, DENSE_FEATURES)).astype(np.float32)
    sparse = {
        str(k): rng.integers(0, rows, (count, h), dtype=np.int32)
        for k, (rows, h) in enumerate(zip(demo_rows(), MULTI_HOT_SIZES, strict=True))
    }
    # labels loosely tied to the features so the AUC is not always 0.5
    score = dense[:, 0] - 4.5 + 2.0 * (sparse["0"][:, 0] % 2) + rng.normal(0, 2.0, count)
    labels = (score > 0).astype(np.int32).reshape(-1, 1)
    np.save(out / DENSE_FILE, dense)
    np.save(out / LABELS_FILE, labels)
    np.savez(out / SPARSE_FILE, **sparse)


def write_model(out: Path, seed: int) -> None:
    import torch

    (out / TABLE_DIR).mkdir(parents=True, exist_ok=True)
    torch.save({f"model.{k}": v for k, v in seeded_dense(seed).state_dict().items()}, out / CKPT_DENSE)
    rng = np.random.default_rng(seed + 1)
    for k, rows in enumerate(demo_rows()):
        bound = 1.0 / np.sqrt(rows)
        np.save(
            out / TABLE_DIR / f"t_cat_{k}.npy", rng.uniform(-bound, bound, (rows, EMBEDDING_DIM)).astype(np.float32)
        )


def write(out_dir: Path, count: int, seed: int) -> None:
    write_model(out_dir / MODEL_DIR, seed)
    print(f"wrote {out_dir / MODEL_DIR} (dense.pt + 26 tables of at most {DEMO_ROWS} rows)")
    write_data(out_dir / DATASET_DIR, count, seed)
    print(f"wrote {count} multi-hot Criteo rows to {out_dir / DATASET_DIR}")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the data synthetic: their AUC is meaningless; "
        "it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
