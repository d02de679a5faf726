"""The OpenImages MLPerf annotations file and the images it names: standard library only, so the host checks a
dataset before a container starts with the same code the harness reads it with.

Sample index i (LoadGen's qsl_idx) is the i-th entry of the JSON's "images" list, the order the reference
accuracy script maps indices back with.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from ...errors import UsageError
from . import ANNOTATIONS, IMAGES


@dataclass(frozen=True)
class Entry:
    image_id: int
    path: Path
    height: int
    width: int


def read_json(path: Path, what: str) -> dict:
    """A JSON object from `path`, or a one-line UsageError naming it."""
    if not path.is_file():
        raise UsageError(
            f"{what} {path} does not exist",
            "point --dataset-dir at the OpenImages MLPerf directory (annotations/, validation/data/), or make a "
            "demo one with `demo-data DIR --model retinanet`",
        )
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({str(e).splitlines()[0]})", f"replace the {what}") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{path} is not a COCO-style JSON object", f"replace the {what}")
    return obj


def read_annotations(dataset_dir: Path, count: int | None = None) -> list[Entry]:
    """The first `count` images (all by default) of annotations/openimages-mlperf.json; each must exist in
    validation/data/."""
    path = dataset_dir / ANNOTATIONS
    images = read_json(path, "annotations file").get("images")
    if not isinstance(images, list) or not images:
        raise UsageError(f"{path} lists no images", "pass the OpenImages MLPerf annotations (openimages-mlperf.json)")
    entries = []
    for n, img in enumerate(images):
        try:
            entries.append(
                Entry(int(img["id"]), dataset_dir / IMAGES / img["file_name"], int(img["height"]), int(img["width"]))
            )
        except (KeyError, TypeError, ValueError):
            raise UsageError(
                f"{path}: images[{n}] lacks id, file_name, height or width", "fix or replace the annotations file"
            ) from None
    if count is not None:
        if not 0 < count <= len(entries):
            raise UsageError(f"--count {count} is outside 1..{len(entries)}", f"the dataset has {len(entries)} images")
        entries = entries[:count]
    missing = [e.path for e in entries if not e.path.is_file()]
    if missing:
        raise UsageError(
            f"{missing[0]} is missing ({len(missing)} of {len(entries)} images named in {path} are not in "
            f"{dataset_dir / IMAGES})",
            "complete validation/data/ or use the annotations file that goes with it",
        )
    return entries


def check_dataset(dataset_dir: Path, count: int | None = None) -> None:
    """The host's preflight: the annotations file parses and every image it names (the first `count`) exists."""
    read_annotations(dataset_dir, count)
