"""BERT-Large: the official sources `mlperfctl get` fetches (see workloads/sources.py).

URLs: mlcommons/inference language/bert/README.md and its Makefile (zenodo 3733910 and 3733896). No checksum is
published for these files (get refuses them unless --no-verify, then records the sha256 it computed)."""

from ..sources import Source

_ZENODO = "Apache-2.0 (MLCommons, zenodo)"

SOURCES = {
    model: (
        Source(name="SQuAD v1.1 dev set", url="https://github.com/rajpurkar/SQuAD-explorer/blob/master/dataset/dev-v1.1.json?raw=true",
               path="datasets/squad/dev-v1.1.json", kind="dataset", licence="CC-BY-SA-4.0"),
        Source(name="BERT vocabulary", url="https://zenodo.org/record/3733896/files/vocab.txt?download=1",
               path="models/vocab.txt", backends=("onnxruntime", "pytorch"), licence=_ZENODO),
        Source(name="BERT-Large SQuAD ONNX fp32", url="https://zenodo.org/record/3733910/files/model.onnx?download=1",
               path="models/model.onnx", backends=("onnxruntime",), licence=_ZENODO),
        Source(name="BERT-Large SQuAD PyTorch fp32", url="https://zenodo.org/record/3733896/files/model.pytorch?download=1",
               path="models/model.pytorch", backends=("pytorch",), licence=_ZENODO),
    )
    for model in ("bert-99", "bert-99.9")
}
