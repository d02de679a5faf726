"""bert-99 / bert-99.9: BERT-Large question answering on SQuAD v1.1 (squad: features, model: inference,
evaluate: answers and EM/F1 from the accuracy log, runner: the run hooks, demo: random-weight assets).
The declaration; standard library only (the host imports it)."""

from ..base import Workload
from .layout import CONFIG_FILE, DATASET, VOCAB

_HERE = __name__
CONF_MODEL = "bert"  # the model's name in LoadGen's mlperf.conf (both bert-99 and bert-99.9; the reference's run.py)
# model.PRECISIONS: onnxruntime converts the model to fp16 in memory (needs `onnx`), pytorch casts the weights;
# both run on the CPU and on GPUs
_PRECISIONS = ("fp32", "fp16")
_SUPPORT = {device: {"onnxruntime": _PRECISIONS, "pytorch": _PRECISIONS} for device in ("cpu", "cuda", "rocm")}

BERT = Workload(
    names=("bert-99", "bert-99.9"),
    family="bert",
    loadgen_model=CONF_MODEL,
    dataset_name="SQuAD v1.1",
    dataset_files=(DATASET, VOCAB),
    model_files={"onnxruntime": "model.onnx", "pytorch": "model.pytorch"},
    support=_SUPPORT,
    scenarios=("Offline", "Server", "SingleStream"),
    demo_writer=f"{_HERE}.demo:write",
    demo_dataset_dir="datasets/squad",
    demo_model_dir="models/bert",
    runner_class=f"{_HERE}.runner:BertRunner",
    scorer=f"{_HERE}.runner:command",
    dataset_check=f"{_HERE}.layout:check_dataset",
    # model.read_config: the checkpoint's bert_config.json beside model.pytorch, else the reference's BERT-Large
    model_companions={"pytorch": {CONFIG_FILE: False}},
)
