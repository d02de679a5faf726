"""DLRM-DCNv2 on the Criteo 1TB multi-hot set (dlrm-v2-99 / dlrm-v2-99.9), as the MLPerf reference runs it.

The reference's facts: 13 dense features, 26 categorical features whose embedding tables have TABLE_SIZES
rows of 128 floats and whose samples carry MULTI_HOT_SIZES indices each (sum-pooled); bottom MLP 512-256-128,
a 3-layer low-rank (512) cross network over the 27 concatenated 128-vectors, top MLP 1024-1024-512-256-1 and
a sigmoid. The evaluation set is the first half (rounded up) of day 23; a LoadGen sample is a user's query of
100-700 consecutive rows, its size drawn from QUANTILES with numpy's legacy RNG seeded 123.

The declaration (DLRM_V2) and these constants use the standard library only (the host imports them).
"""

from ..base import Workload

_HERE = __name__

DENSE_FEATURES = 13
TABLE_SIZES = (
    40000000,
    39060,
    17295,
    7424,
    20265,
    3,
    7122,
    1543,
    63,
    40000000,
    3067956,
    405282,
    10,
    2209,
    11938,
    155,
    4,
    976,
    14,
    40000000,
    40000000,
    40000000,
    590152,
    12973,
    108,
    36,
)
MULTI_HOT_SIZES = (3, 2, 1, 2, 6, 1, 1, 1, 1, 7, 3, 8, 1, 6, 9, 5, 1, 1, 1, 12, 100, 27, 10, 3, 1, 1)
EMBEDDING_DIM = 128
DENSE_LAYERS = (512, 256, 128)
OVER_LAYERS = (1024, 1024, 512, 256, 1)
DCN_LAYERS = 3
DCN_RANK = 512
QUANTILES = (100, 100, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 200, 300, 300, 400, 500, 600, 700)
SEED = 123
CONF_MODEL = "dlrm-v2"  # the model's name in LoadGen's mlperf.conf
DAY = 23
DENSE_FILE = f"day_{DAY}_dense.npy"
LABELS_FILE = f"day_{DAY}_labels.npy"
SPARSE_FILE = f"day_{DAY}_sparse_multi_hot.npz"
TRACE_FILE = "dlrm_trace_of_aggregated_samples.txt"

DLRM_V2 = Workload(
    names=("dlrm-v2-99", "dlrm-v2-99.9"),
    family="dlrm",
    loadgen_model=CONF_MODEL,
    dataset_name="Criteo 1TB multi-hot, day 23",
    dataset_files=(DENSE_FILE, LABELS_FILE, SPARSE_FILE),
    # a folder: dense.pt (reference names) and embedding_bags/t_cat_<k>.npy, read memory-mapped (model.load)
    model_files={"pytorch": "dlrm-v2"},
    model_folders=("pytorch",),
    support={device: {"pytorch": ("fp32",)} for device in ("cpu", "cuda", "rocm")},
    scenarios=("Offline", "Server"),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/criteo",
    demo_model_dir="models",
    runner_class=f"{_HERE}.runner:DlrmRunner",
    scorer=f"{_HERE}.accuracy:command",
    dataset_preparer=f"{_HERE}.prepare:prepare",
    checkpoint_preparer=f"{_HERE}.prepare:prepare_checkpoint",
)
