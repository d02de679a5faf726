"""`demo-data --model rgat`: a small synthetic IGBH graph in the reference's layout (datasets/igbh/tiny/processed/:
the six node types' node_feat.npy, the six edge_index.npy files, paper/node_label_2K.npy, val_idx.pt and
train_idx.pt) and DGL's RGAT with seeded random weights as the reference's checkpoint (models/rgat/RGAT.pt).

Every node has at most 5 in-edges per relation, so the sampler (fan-outs 5/10/15) takes all of them and the
model's answer does not depend on the draw: the labels of the `count` validation papers are the seeded model's
own predictions (as the ImageNet demo's labels are), so the accuracy target can be met end to end; the other
papers' labels are random classes."""

import sys
from pathlib import Path

import numpy as np

from . import CLASSES, IN_FEATS, LABEL_FILE, MODEL_FILE, PROCESSED, VAL_FILE, edge_file, feature_file

DATASET_DIR = "datasets/igbh/tiny"
MODEL_DIR = "models/rgat"


def sizes(papers: int) -> dict[str, int]:
    return {"paper": papers, "author": papers, "institute": -(-papers // 4), "fos": -(-papers // 2),
            "journal": -(-papers // 4), "conference": -(-papers // 5)}  # fmt: skip


def edges(papers: int) -> dict[str, np.ndarray]:
    """(E, 2) int64 (source, destination) per edge file; every in-degree per relation <= 5."""
    p = np.arange(papers, dtype=np.int64)
    n = sizes(papers)

    def pairs(src, dst):
        return np.stack((src, dst), axis=1).astype(np.int64)

    return {
        "paper__cites__paper": pairs(np.concatenate((p, p)), np.concatenate(((p + 1) % papers, (p + 7) % papers))),
        "paper__written_by__author": pairs(np.concatenate((p, p)), np.concatenate((p, (p + 1) % n["author"]))),
        "author__affiliated_to__institute": pairs(p, p // 4),
        "paper__topic__fos": pairs(np.concatenate((p, p)), np.concatenate((p // 2, (p // 2 + 1) % n["fos"]))),
        "paper__published__journal": pairs(p, p // 4),
        "paper__venue__conference": pairs(p, p // 5),
    }


def write_data(out: Path, count: int, seed: int) -> np.ndarray:
    """The graph; returns val_idx (labels are written by write())."""
    import torch

    rng = np.random.default_rng(seed)
    papers = max(2 * count, 16)
    for t, n in sizes(papers).items():
        (out / PROCESSED / t).mkdir(parents=True, exist_ok=True)
        np.save(out / feature_file(t), rng.standard_normal((n, IN_FEATS), dtype=np.float32))
    for name, e in edges(papers).items():
        (out / edge_file(name)).parent.mkdir(parents=True, exist_ok=True)
        np.save(out / edge_file(name), e)
    order = rng.permutation(papers)
    val, train = np.sort(order[:count]), np.sort(order[count:])
    torch.save(torch.from_numpy(val), out / PROCESSED / VAL_FILE)
    torch.save(torch.from_numpy(train), out / PROCESSED / "train_idx.pt")
    return val


def write_model(out: Path, seed: int):
    import torch

    from .model import seeded, to_reference

    out.mkdir(parents=True, exist_ok=True)
    net = seeded(seed)
    torch.save({"model_state_dict": to_reference(net.state_dict())}, out / MODEL_FILE)
    return net


def write(out_dir: Path, count: int, seed: int) -> None:
    from .graph import Graph
    from .model import predict

    data, models = out_dir / DATASET_DIR, out_dir / MODEL_DIR
    net = write_model(models, seed)
    print(f"wrote {models / MODEL_FILE} (RGAT, 3 layers x 11 relations, reference parameter names)")
    val = write_data(data, count, seed)
    graph = Graph(data)
    labels = np.random.default_rng(seed + 1).integers(0, CLASSES, graph.num_nodes["paper"]).astype(np.float32)
    for i in range(0, len(val), 256):
        labels[val[i : i + 256]] = predict(net, graph, val[i : i + 256], np.random.default_rng(seed), "cpu")
    np.save(data / PROCESSED / LABEL_FILE, labels)
    print(f"wrote an IGBH-layout graph of {graph.num_nodes['paper']} papers ({count} validation) to {data}")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}), the graph synthetic and the validation labels the "
        "model's own answers: the accuracy is meaningless; it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
