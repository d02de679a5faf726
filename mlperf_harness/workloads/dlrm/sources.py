"""DLRM-v2: no plain-file source yet (see workloads/sources.py)."""

_WHY = ("the reference fetches the weights (97 GB) and the preprocessed Criteo day 23 with the MLCommons R2 "
        "downloader (https://inference.mlcommons-storage.org/metadata/dlrm-v2-model-weights.uri)")
SOURCES: dict = {}
UNDECLARED = {"dlrm-v2-99": _WHY, "dlrm-v2-99.9": _WHY}
