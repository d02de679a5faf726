"""Make a freshly built image reproducible: rewrite the layers the build added and the image
config so that two builds of the same inputs give the same image ID.

The engine stamps build times into layer file mtimes and the config's `created` dates, and the
classic builder records a random container ID. Docker 20.10's BuildKit cannot rewrite these
(no SOURCE_DATE_EPOCH support), so after each build: `docker save` → rewrite each new layer tar
(same entry order, mtimes clamped to SOURCE_DATE_EPOCH, owner names and PAX times dropped, uid,
gid, modes and xattrs kept) and the config (dates set to the epoch, builder noise removed) →
`docker load` under the stage's tag. Layers the parent image already has are left as they are
(and not even sent back: the engine has them)."""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

KEEP_PAX_PREFIXES = ("SCHILY.xattr.", "LIBARCHIVE.xattr.")


def epoch_iso(epoch: int) -> str:
    return dt.datetime.fromtimestamp(epoch, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def rewrite_layer(src, dst, epoch: int) -> str:
    """Copy a layer tar from file object src to dst deterministically; return sha256 of dst."""
    h = hashlib.sha256()

    class _Hashing(io.RawIOBase):
        def writable(self):
            return True

        def write(self, b):
            h.update(b)
            dst.write(b)
            return len(b)

    out = _Hashing()
    with tarfile.open(fileobj=src, mode="r|") as tin, \
            tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tout:
        for member in tin:
            info = tarfile.TarInfo(member.name)
            info.type = member.type
            info.mode = member.mode
            info.uid, info.gid = member.uid, member.gid
            info.uname = info.gname = ""
            info.mtime = min(int(member.mtime), epoch)
            info.linkname = member.linkname
            info.devmajor, info.devminor = member.devmajor, member.devminor
            info.size = member.size if member.isreg() else 0
            info.pax_headers = {k: v for k, v in member.pax_headers.items()
                                if k.startswith(KEEP_PAX_PREFIXES)}
            tout.addfile(info, tin.extractfile(member) if member.isreg() else None)
    return h.hexdigest()


_PARENT_ID = re.compile(r"FROM [0-9a-f]{12,64}")  # buildah (podman build): the raw intermediate parent's ID


def normalise_config(config: dict, epoch: int, diff_ids: list[str]) -> dict:
    config = dict(config)
    when = epoch_iso(epoch)
    config["created"] = when
    config["rootfs"] = {"type": "layers", "diff_ids": diff_ids}
    config["history"] = [{**{k: v for k, v in h.items() if not (k == "comment" and _PARENT_ID.fullmatch(str(v)))},
                          "created": when} for h in config.get("history", [])]
    for noisy in ("container", "container_config", "docker_version"):
        config.pop(noisy, None)
    inner = dict(config.get("config") or {})
    for noisy in ("Hostname", "Image"):  # classic builder: random host name, intermediate image ID
        if inner.get(noisy):
            inner[noisy] = ""
    config["config"] = inner
    return config


def config_bytes(config: dict) -> bytes:
    return json.dumps(config, sort_keys=True, separators=(",", ":")).encode()


def normalise_image(engine, image_id: str, tag: str, epoch: int, keep_layers: int) -> str:
    """Rewrite image_id's layers after the first keep_layers and its config; load it as tag.
    Returns the new image ID."""
    with tempfile.TemporaryDirectory(prefix="mlperfctl-norm-") as tmp:
        saved = Path(tmp, "saved.tar")
        with open(saved, "wb") as f:
            engine.save([image_id], f)
        with tarfile.open(saved) as tar:
            manifest = json.load(tar.extractfile("manifest.json"))[0]
            config = json.load(tar.extractfile(manifest["Config"]))
            old_ids = config["rootfs"]["diff_ids"]
            layers_dir = Path(tmp, "out")
            layers_dir.mkdir()
            new_ids, layer_paths = [], []
            for i, (path, diff_id) in enumerate(zip(manifest["Layers"], old_ids, strict=True)):
                if i < keep_layers:
                    new_ids.append(diff_id)
                    layer_paths.append(f"{diff_id.split(':')[1]}/layer.tar")
                    if getattr(engine, "load_needs_all_layers", False):  # podman: no layers taken from the store
                        Path(layers_dir, diff_id.split(":")[1]).mkdir(exist_ok=True)
                        with open(Path(layers_dir, diff_id.split(":")[1], "layer.tar"), "wb") as dst:
                            shutil.copyfileobj(tar.extractfile(path), dst, 1 << 20)
                    continue
                tmp_layer = Path(tmp, f"layer{i}.tar")
                with open(tmp_layer, "wb") as dst:
                    digest = rewrite_layer(tar.extractfile(path), dst, epoch)
                Path(layers_dir, digest).mkdir(exist_ok=True)
                shutil.move(tmp_layer, Path(layers_dir, digest, "layer.tar"))
                new_ids.append(f"sha256:{digest}")
                layer_paths.append(f"{digest}/layer.tar")
        data = config_bytes(normalise_config(config, epoch, new_ids))
        image_hex = hashlib.sha256(data).hexdigest()
        Path(layers_dir, f"{image_hex}.json").write_bytes(data)
        Path(layers_dir, "manifest.json").write_text(json.dumps(
            [{"Config": f"{image_hex}.json", "RepoTags": [tag], "Layers": layer_paths}]))
        bundle = Path(tmp, "load.tar")
        with tarfile.open(bundle, "w") as out:
            for p in sorted(layers_dir.rglob("*")):
                out.add(p, arcname=str(p.relative_to(layers_dir)), recursive=False)
        with open(bundle, "rb") as f:
            engine.load(f)
    return f"sha256:{image_hex}"
