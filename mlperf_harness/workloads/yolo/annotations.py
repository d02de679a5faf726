"""The COCO safe subset's annotations file and the images it names: standard library only, so the host checks a
dataset before a container starts with the same code the harness reads it with.

Sample index i (LoadGen's qsl_idx) is the i-th entry of the JSON's "images" list: the order the reference's
yolo_loadgen.py issues them in and tools/accuracy-coco.py maps indices back with. The reference skips images
missing on disk, which shifts every later index away from the scorer's; here a missing image is an error.
"""

import json
from dataclasses import dataclass
from pathlib import Path

from ...errors import UsageError
from . import ANNOTATIONS, IMAGES

FIX_LAYOUT = (
    f"point --dataset-dir at the COCO safe directory ({ANNOTATIONS} and {IMAGES}/), or make a demo one with "
    "`demo-data DIR --model yolo-99`"
)


@dataclass(frozen=True)
class Entry:
    image_id: int
    path: Path
    height: int
    width: int


def read_json(path: Path, what: str = "annotations file") -> dict:
    """A JSON object from `path`, or a one-line UsageError naming it."""
    if not path.is_file():
        raise UsageError(f"{what} {path} does not exist", FIX_LAYOUT)
    try:
        obj = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({str(e).splitlines()[0]})", f"replace the {what}") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{path} is not a COCO-style JSON object", f"replace the {what}")
    return obj


def read_annotations(dataset_dir: Path, count: int | None = None) -> list[Entry]:
    """The first `count` images (all by default) of annotations/instances_val2017.json; each must exist in
    val2017_safe/."""
    path = dataset_dir / ANNOTATIONS
    if not (dataset_dir / IMAGES).is_dir():
        raise UsageError(f"{dataset_dir / IMAGES} is not a directory", FIX_LAYOUT)
    data = read_json(path)
    images = data.get("images")
    if not isinstance(images, list) or not images:
        raise UsageError(f"{path} lists no images", "pass the COCO safe subset's instances_val2017.json")
    if not isinstance(data.get("annotations"), list) or not isinstance(data.get("categories"), list):
        raise UsageError(f"{path} has no 'annotations' or 'categories' list",
                         "pass the COCO safe subset's instances_val2017.json (COCO detection format)")
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
            f"complete {IMAGES}/ or use the annotations file that goes with it",
        )
    return entries


def check_dataset(dataset_dir: Path, count: int | None = None) -> None:
    """The host's preflight: the annotations file parses and every image it names (the first `count`) exists."""
    read_annotations(dataset_dir, count)
