"""R-GAT: no plain-file source yet (see workloads/sources.py)."""

_WHY = (
    "the reference fetches the checkpoint with the MLCommons R2 downloader "
    "(https://inference.mlcommons-storage.org/metadata/rgat-model.uri) and the 2.2 TB IGBH-full graph with "
    "graph/R-GAT/tools/download_igbh_full.sh, then splits val_idx.pt with split_seeds.py"
)
SOURCES: dict = {}
UNDECLARED = {"rgat": _WHY}
