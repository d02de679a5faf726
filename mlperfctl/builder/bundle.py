"""Images on this engine and off it: cell image states, offline bundles, a local Debian base.

A bundle is one uncompressed tar holding `mlperfctl-bundle.json` (format, cells with their
keys, tags, content hashes and image IDs) and `images.tar` (one `docker save` of all of them,
so shared layers are stored once). `load` checks every image ID against the manifest."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from ..engines.base import ContainerEngine
from ..errors import UserError
from ..matrix import Cell, LoadedMatrix
from ..options import BuildOptions
from .executor import existing_by_hash
from .plan import plan
from .stages import LABEL_HASH, LABEL_STAGE

BUNDLE_FORMAT = "mlperfctl-bundle/1"
MANIFEST = "mlperfctl-bundle.json"


def image_states(lm: LoadedMatrix, cells: list[Cell], options: BuildOptions, engine: ContainerEngine) -> list[dict]:
    """Per cell: built | pulled (present, with a registry digest) | outdated (an older image of
    the cell exists) | missing, with tag and size."""
    by_hash = existing_by_hash(engine)
    older = {}
    for img in engine.list_images(f"{LABEL_STAGE}=implementation"):
        cell_id = img.labels.get("io.mlperfctl.cell")
        if cell_id:
            older.setdefault(cell_id, img)
    rows = []
    for cp in plan(lm, cells, options, engine):
        img = by_hash.get(cp.hash)
        if img:
            state = "pulled" if img.digests else "built"
        elif cp.cell.id in older:
            state, img = "outdated", older[cp.cell.id]
        else:
            state = "missing"
        rows.append({"cell": cp.cell.id, "state": state, "tag": cp.tag, "content_hash": cp.hash,
                     "image_id": img.id if img else None, "size": img.size if img else None,
                     "unlocked": cp.unlocked})
    return rows


def save(lm: LoadedMatrix, cells: list[Cell], options: BuildOptions, engine: ContainerEngine, output: Path) -> dict:
    """Write a bundle of the cells' current images (they must be built)."""
    items = []
    for cp in plan(lm, cells, options, engine):
        img = engine.inspect_image(cp.tag)
        if img is None:
            raise UserError(f"{cp.cell.id} is not built (no {cp.tag}): run `mlperfctl build --select "
                            f"{cp.cell.id}` first")
        items.append({"cell": cp.cell.id, "keys": cp.cell.keys(), "tag": cp.tag, "content_hash": cp.hash,
                      "image_id": img.id, "labels": img.labels})
    manifest = {"format": BUNDLE_FORMAT, "images": items}
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="mlperfctl-save-", dir=output.parent) as tmp:
        images = Path(tmp, "images.tar")
        with open(images, "wb") as f:
            engine.save([i["tag"] for i in items], f)
        partial = Path(tmp, "bundle.tar")
        with tarfile.open(partial, "w") as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            info = tarfile.TarInfo(MANIFEST)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
            tar.add(images, arcname="images.tar")
        shutil.move(partial, output)
    return manifest


def load(path: Path, engine: ContainerEngine) -> list[dict]:
    """Load a bundle; check each image ID and tag against the manifest."""
    try:
        tar = tarfile.open(path)
    except (OSError, tarfile.TarError) as e:
        raise UserError(f"cannot read bundle {path}: {e}") from None
    with tar:
        try:
            manifest = json.load(tar.extractfile(MANIFEST))
        except KeyError:
            raise UserError(f"{path} is not an mlperfctl bundle (no {MANIFEST})") from None
        if manifest.get("format") != BUNDLE_FORMAT:
            raise UserError(f"{path}: unknown bundle format {manifest.get('format')!r} (expected {BUNDLE_FORMAT})")
        engine.load(tar.extractfile("images.tar"))
    for item in manifest["images"]:
        img = engine.inspect_image(item["tag"])
        if img is None or img.id != item["image_id"]:
            got = img.id if img else "nothing"
            raise UserError(f"{path}: {item['cell']} loaded as {got}, manifest says {item['image_id']}")
        if img.labels.get(LABEL_HASH) != item["content_hash"]:
            raise UserError(f"{path}: {item['cell']}'s content-hash label does not match the manifest")
    return manifest["images"]


def bootstrap_base(engine: ContainerEngine, tag: str, suite: str, mirror: str, log=print) -> str:
    """debootstrap --variant=minbase a suite, slim it, and import it as an image (needs root)."""
    if shutil.which("debootstrap") is None:
        raise UserError("debootstrap is not installed: apt-get install debootstrap (as root)")
    with tempfile.TemporaryDirectory(prefix="mlperfctl-rootfs-", dir="/var/tmp") as root:
        log(f"debootstrapping {suite} from {mirror} (a few minutes)")
        r = subprocess.run(["debootstrap", "--variant=minbase", suite, root, mirror],
                           capture_output=True, text=True)
        if r.returncode != 0:
            tail = (r.stdout + r.stderr).strip().splitlines()[-3:]
            raise UserError(f"debootstrap failed: {' / '.join(tail)} (it needs root and the mirror)")
        for pattern in ("var/lib/apt/lists/*", "var/cache/apt/*.bin", "usr/share/doc/*", "usr/share/man/*",
                        "var/log/*.log"):
            for p in Path(root).glob(pattern):
                shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
        tar = subprocess.Popen(["tar", "--numeric-owner", "--sort=name", "--mtime=@0", "-C", root, "-c", "."],
                               stdout=subprocess.PIPE)
        image_id = engine.import_rootfs(tar.stdout, tag, ['CMD ["/bin/bash"]', "ENV LANG=C.UTF-8"])
        tar.wait()
    return image_id
