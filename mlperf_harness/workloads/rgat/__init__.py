"""R-GAT on IGBH (rgat), as the MLPerf reference (graph/R-GAT) runs it.

The reference's facts: the IGBH heterogeneous graph under <size>/processed/ -- six node types (paper, author,
institute, fos, journal, conference), each with node_feat.npy (float32, 1024 per node), six edge files
<src>__<relation>__<dst>/edge_index.npy ((E, 2): source, destination), paper/node_label_2K.npy (2983 classes)
and the validation papers val_idx.pt (split_seeds.py). The graph the model sees adds a rev_<relation> for every
relation between two types and makes `cites` symmetric with one self-loop per paper: 11 relations. The model is
DGL's RGAT: three HeteroGraphConv layers (sum over relations) of GATConv (4 heads of 128, no self-loops),
leaky_relu between layers, and a Linear(512, 2983) on the papers; neighbours are sampled as the reference's
PyGSampler does, fan-outs (5, 10, 15) from the input layer to the output layer. A LoadGen sample is one
validation paper; its answer is the predicted class.

--dataset-dir is the folder holding processed/ (igbh/full for the real graph). The declaration and these
constants use the standard library only (the host imports them).
"""

from pathlib import Path

from ...errors import UsageError
from ..base import Workload

_HERE = __name__

NODE_TYPES = ("paper", "author", "institute", "fos", "journal", "conference")
EDGE_FILES = ("paper__cites__paper", "paper__written_by__author", "author__affiliated_to__institute",
              "paper__topic__fos", "paper__published__journal", "paper__venue__conference")  # fmt: skip
IN_FEATS = 1024
HIDDEN = 512
HEADS = 4
CLASSES = 2983
FANOUTS = (5, 10, 15)  # the reference's fan_out, first layer first
PROCESSED = "processed"
LABEL_FILE = "paper/node_label_2K.npy"
VAL_FILE = "val_idx.pt"
MODEL_FILE = "RGAT.pt"  # the reference's checkpoint: torch.save({"model_state_dict": ...}) of DGL's RGAT


def feature_file(ntype: str) -> str:
    return f"{PROCESSED}/{ntype}/node_feat.npy"


def edge_file(name: str) -> str:
    return f"{PROCESSED}/{name}/edge_index.npy"


DATASET_FILES = (f"{PROCESSED}/{VAL_FILE}", f"{PROCESSED}/{LABEL_FILE}",
                 *(feature_file(t) for t in NODE_TYPES), *(edge_file(e) for e in EDGE_FILES))  # fmt: skip


def check_dataset(dataset_dir: Path, count: int | None = None) -> None:
    """Host-side: every file of the reference's layout exists (a folder where a file belongs, or an IGBH root
    given instead of its <size> folder, is named with the fix)."""
    if not (dataset_dir / PROCESSED).is_dir():
        sizes = [d.parent for d in sorted(dataset_dir.glob(f"*/{PROCESSED}"))] if dataset_dir.is_dir() else []
        hint = (
            f"pass --dataset-dir {sizes[0]}"
            if sizes
            else "pass the IGBH <size> folder holding processed/ (igbh/full), as the reference downloads it"
        )
        raise UsageError(f"{dataset_dir} has no {PROCESSED}/ folder (not the IGBH layout)", hint)
    for name in DATASET_FILES:
        if not (dataset_dir / name).is_file():
            raise UsageError(
                f"{dataset_dir / name} is missing (IGBH layout)",
                "download the full IGBH graph and run the reference's split_seeds.py for val_idx.pt",
            )


RGAT = Workload(
    names=("rgat",),
    family="rgat",
    loadgen_model="rgat",
    dataset_name="IGBH graph (igbh/full)",
    dataset_files=(PROCESSED,),  # every file in it: check_dataset (DATASET_FILES)
    model_files={"pytorch": MODEL_FILE},
    support={device: {"pytorch": ("fp32",)} for device in ("cpu", "cuda", "rocm")},
    scenarios=("Offline",),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/igbh/tiny",
    demo_model_dir="models/rgat",
    runner_class=f"{_HERE}.runner:RgatRunner",
    scorer=f"{_HERE}.accuracy:command",
    dataset_check=f"{_HERE}:check_dataset",
)
