"""`prepare` for SDXL: the COCO 2014 captions and validation images -> the captions subset as the reference's
text_to_image/tools/coco.py writes it, with the files runs and scoring read beside it (dataset.py).

Raw (under --raw, at any depth):
  annotations_trainval2014.zip (what `mlperfctl get` fetches) or its annotations/captions_val2014.json
  latents.pt                         the benchmark's fixed latents (the reference's text_to_image/tools/latents.pt)
  val2014.npz                        the FID statistics (text_to_image/tools/val2014.npz)
  clip/ (a Hugging Face CLIP ViT-bigG-14 with config.json) and pt_inception-2015-12-05-6726825d.pth, for scoring
  val2014/COCO_val2014_*.jpg         optional: the chosen images are copied to validation/data/
Selection, as the reference: one caption per image (the first), sorted by caption id, shuffled with pandas'
sample(frac=1, random_state=2023) (numpy RandomState(2023).permutation), the first 5000 (--count N: N), then
sorted by caption id; captions without newlines, stripped. captions.tsv: id, image_id, caption, height, width,
file_name, coco_url (tab separated, a header)."""

import csv
import json
import shutil
import zipfile
from pathlib import Path

from ...errors import UsageError
from ...prepare import copy, find, progress
from .dataset import CAPTIONS, CLIP, IMAGES, INCEPTION, LATENTS, STATISTICS

ZIP = "annotations_trainval2014.zip"
CAPTIONS_JSON = "captions_val2014.json"
SEED = 2023
IMAGES_DEFAULT = 5000
TSV_COLUMNS = ("id", "image_id", "caption", "height", "width", "file_name", "coco_url")
_FIX = "fetch it again: mlperfctl get --model sdxl --dataset"
# file in the dataset layout -> (its published name under --raw, where it is published)
COMPANIONS = {
    LATENTS: ("latents.pt", "mlcommons/inference text_to_image/tools/latents.pt"),
    STATISTICS: ("val2014.npz", "mlcommons/inference text_to_image/tools/val2014.npz"),
    INCEPTION: (INCEPTION.name, "the pytorch-fid release of the FID Inception weights"),
}


def read_captions_json(raw: Path) -> tuple[dict, str]:
    path = find(raw, CAPTIONS_JSON, ZIP, what="the COCO 2014 captions", fix=f"put {ZIP} under --raw ({_FIX})")
    try:
        if path.name == ZIP:
            with zipfile.ZipFile(path) as z:
                name = next((n for n in z.namelist() if Path(n).name == CAPTIONS_JSON), None)
                if name is None:
                    raise UsageError(f"{path} holds no {CAPTIONS_JSON}", _FIX)
                text, where = z.read(name), f"{path}:{name}"
        else:
            text, where = path.read_bytes(), str(path)
        doc = json.loads(text)
    except zipfile.BadZipFile as e:
        raise UsageError(f"{path} is not a readable zip archive ({e})", _FIX) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{path} is not valid JSON ({str(e).splitlines()[0]})", _FIX) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("annotations"), list) or not isinstance(
            doc.get("images"), list):
        raise UsageError(f"{where} has no 'annotations' and 'images' lists", _FIX)
    return doc, str(path.relative_to(raw))


def select(doc: dict, count: int) -> list[dict]:
    """The reference's rows, in caption-id order."""
    import numpy as np

    seen, first = set(), []
    try:
        for a in doc["annotations"]:
            if a["image_id"] not in seen:
                seen.add(a["image_id"])
                first.append(a)
        first.sort(key=lambda a: a["id"])
        images = {im["id"]: im for im in doc["images"]}
    except (KeyError, TypeError):
        raise UsageError(f"{CAPTIONS_JSON}: an annotation or image lacks id/image_id", _FIX) from None
    chosen = [first[i] for i in np.random.RandomState(SEED).permutation(len(first))[:count]]
    rows = []
    for a in sorted(chosen, key=lambda a: a["id"]):
        im = images.get(a["image_id"])
        if im is None:
            raise UsageError(f"{CAPTIONS_JSON}: caption {a['id']} names image {a['image_id']}, which is not listed",
                             _FIX)
        rows.append({"id": a["id"], "image_id": a["image_id"], "caption": str(a["caption"]).replace("\n", "").strip(),
                     "height": im.get("height"), "width": im.get("width"), "file_name": im.get("file_name"),
                     "coco_url": im.get("coco_url")})
    return rows


def prepare(raw: Path, dest: Path, model: str, count: int | None) -> dict:
    doc, source = read_captions_json(raw)
    companions = {}
    for target, (name, where) in COMPANIONS.items():
        companions[target] = find(raw, name, what=f"needed for {target}", fix=f"put {where} under --raw")
    clip = find(raw, "clip", what="the CLIP model scoring reads", fix="put a Hugging Face CLIP ViT-bigG-14 folder "
                "named clip/ (with config.json) under --raw")
    if not (clip / "config.json").is_file():
        raise UsageError(f"{clip / 'config.json'} does not exist", "put the whole Hugging Face CLIP folder there")
    rows = select(doc, count or IMAGES_DEFAULT)
    if count is not None and len(rows) < count:
        raise UsageError(f"--count {count} exceeds the {len(rows)} captioned images of {source}",
                         f"pass at most {len(rows)}")
    (dest / CAPTIONS).parent.mkdir(parents=True, exist_ok=True)
    with (dest / CAPTIONS).open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, TSV_COLUMNS, delimiter="\t", lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    for target, path in companions.items():
        copy(path, dest / target)
    shutil.copytree(clip, dest / CLIP)
    found = {p.name: p for p in raw.rglob("COCO_val2014_*.jpg")}
    copied = 0
    for n, row in enumerate(rows, start=1):
        if row["file_name"] in found:
            copy(found[row["file_name"]], dest / IMAGES / row["file_name"])
            copied += 1
        progress(n, len(rows), "captions")
    return {"samples": len(rows), "images_copied": copied, "layout": str(CAPTIONS), "source": source}
