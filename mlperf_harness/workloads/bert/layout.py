"""SQuAD's files and the checks on them that need nothing but the standard library, so the host can make them
before a container starts (Workload.dataset_check) and the harness makes the same ones when it reads the data."""

import json
from pathlib import Path

from ...errors import UsageError

DATASET = "dev-v1.1.json"
VOCAB = "vocab.txt"
VERSION = "1.1"
CONFIG_FILE = "bert_config.json"  # read beside model.pytorch (model.read_config)


def read_squad(path: Path) -> dict:
    """The SQuAD file's JSON, refused unless it is valid JSON stating version 1.1."""
    if not path.is_file():
        raise UsageError(f"{path} does not exist", f"pass --dataset-dir with the SQuAD v1.1 {DATASET}")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({e})", f"use the SQuAD v1.1 {DATASET}") from None
    version = data.get("version") if isinstance(data, dict) else None
    if version != VERSION:
        raise UsageError(f"{path} is SQuAD version {version!r}, not {VERSION!r}", f"use the SQuAD v1.1 {DATASET}")
    return data


def check_dataset(dataset_dir: Path, count: int | None = None) -> None:
    """What the host checks in --dataset-dir: dev-v1.1.json is SQuAD v1.1 (count: not needed for that)."""
    read_squad(Path(dataset_dir) / DATASET)
