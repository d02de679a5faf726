"""`prepare` for the ImageNet classifiers: the ILSVRC2012 validation images and their published labels -> the
images with val_map.txt, as the reference's imagenet.py reads them (`<file> <label>` lines, labels 0..999).

Raw, as published (under --raw, at any depth):
  images   ILSVRC2012_img_val.tar (image-net.org; what `mlperfctl get` fetches), or its extracted
           ILSVRC2012_val_XXXXXXXX.JPEG files
  labels   val.txt of caffe's ILSVRC12 auxiliary archive (caffe_ilsvrc12.tar.gz, which may be given as is):
           `ILSVRC2012_val_00000001.JPEG 65` per image, the 0-based index of the class in sorted-WordNet-id order,
           the labels the MLPerf/CK val_map.txt carries (the reference publishes no conversion: "to come")
The images are written flat beside val_map.txt, in image-number order; --count keeps the first N."""

import re
import shutil
from pathlib import Path

from ...errors import UsageError
from ...prepare import find, open_tar, progress
from .layout import VAL_MAP

TAR = "ILSVRC2012_img_val.tar"
AUX = "caffe_ilsvrc12.tar.gz"
LABELS = "val.txt"
IMAGE = re.compile(r"ILSVRC2012_val_\d{8}\.JPEG")
CLASSES = 1000
_LABELS_FIX = f"put caffe's ILSVRC12 {LABELS} (or {AUX}) under --raw"


def parse_labels(text: str, where: str) -> list[tuple[str, int]]:
    pairs = []
    for n, line in enumerate(text.splitlines(), start=1):
        cols = line.split()
        if not cols:
            continue
        if len(cols) != 2 or not IMAGE.fullmatch(cols[0]) or not cols[1].isdigit() or int(cols[1]) >= CLASSES:
            raise UsageError(f"{where}:{n}: expected 'ILSVRC2012_val_XXXXXXXX.JPEG <label 0..999>', got {line!r}",
                             _LABELS_FIX)
        pairs.append((cols[0], int(cols[1])))
    if not pairs:
        raise UsageError(f"{where} lists no images", _LABELS_FIX)
    return sorted(pairs)


def read_labels(raw: Path) -> list[tuple[str, int]]:
    path = find(raw, LABELS, AUX, what="the validation labels", fix=_LABELS_FIX)
    if path.name == LABELS:
        return parse_labels(path.read_text(), str(path))
    with open_tar(path) as tar:
        member = next((m for m in tar.getmembers() if Path(m.name).name == LABELS), None)
        if member is None:
            raise UsageError(f"{path} holds no {LABELS}", f"fetch caffe's {AUX} again")
        return parse_labels(tar.extractfile(member).read().decode(), f"{path}:{LABELS}")


def prepare(raw: Path, dest: Path, model: str, count: int | None) -> dict:
    labels = read_labels(raw)
    if count is not None:
        if count > len(labels):
            raise UsageError(f"--count {count} exceeds the {len(labels)} labelled images",
                             f"pass at most {len(labels)}")
        labels = labels[:count]
    wanted = {name for name, _ in labels}
    tar_path = find(raw, TAR, what="", fix="", required=False)
    if tar_path is not None:
        done = 0
        with open_tar(tar_path) as tar:
            for member in tar:
                name = Path(member.name).name
                if member.isfile() and name in wanted:
                    with tar.extractfile(member) as src, open(dest / name, "wb") as out:
                        shutil.copyfileobj(src, out)
                    done += 1
                    progress(done, len(wanted), "images")
                    if done == len(wanted):
                        break
        source = str(tar_path.relative_to(raw))
    else:
        found = {p.name: p for p in raw.rglob("ILSVRC2012_val_*.JPEG")}
        if not found:
            raise UsageError(f"{raw} holds neither {TAR} nor ILSVRC2012_val_XXXXXXXX.JPEG images",
                             "put the ImageNet validation images (mlperfctl get --model resnet50 --dataset) there")
        for n, (name, _) in enumerate(labels, start=1):
            if name in found:
                shutil.copyfile(found[name], dest / name)
                progress(n, len(labels), "images")
        source = str(next(iter(found.values())).parent.relative_to(raw))
    missing = [name for name, _ in labels if not (dest / name).is_file()]
    if missing:
        raise UsageError(f"{len(missing)} image(s) the labels list are not in {raw / source} (first: {missing[0]})",
                         f"use the complete {TAR}, or --count to prepare fewer")
    (dest / VAL_MAP).write_text("".join(f"{name} {label}\n" for name, label in labels))
    return {"samples": len(labels), "layout": VAL_MAP, "source": source}
