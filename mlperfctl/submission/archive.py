"""Truncate a tree's accuracy logs (as the official truncate_accuracy_log.py does) and pack the tree
into a reproducible archive."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import shutil
import tarfile
from pathlib import Path

from mlperf_rules.common import MAX_ACCURACY_LOG_SIZE, TRUNCATE_KEEP

from ..errors import UserError
from .writer import STAGING_PREFIX

VIEWABLE_SIZE = TRUNCATE_KEEP  # bytes kept from the head and from the tail of a truncated accuracy log


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def accuracy_dirs(root: Path) -> list[Path]:
    """Every results/<system>/<model>/<Scenario>/accuracy directory under a submission root, and the
    TEST01/accuracy directories of compliance (v6.x: in the scenario directory, v4.x/v5.x: under
    compliance/), which the official truncation step processes too."""
    patterns = ("*/*/results/*/*/*/accuracy", "*/*/results/*/*/*/TEST01/accuracy",
                "*/*/compliance/*/*/*/TEST01/accuracy")
    return sorted(p for pattern in patterns for p in Path(root).glob(pattern) if p.is_dir())


def truncate_accuracy_logs(root: Path, backup: Path | None = None) -> list[dict]:
    """Cut accuracy logs over 10 KiB to their first and last 4 KiB and append `hash=<sha256 of the
    full log>` to accuracy.txt, keeping each full log under `backup` (outside the tree).

    A log that already has a hash line and fits is left alone; a small log without one only gets the
    hash. Returns one record per accuracy directory touched.
    """
    root = Path(root).resolve()
    backup = Path(backup or root.parent / f"{root.name}-accuracy-backup").resolve()
    if backup == root or root in backup.parents:
        raise UserError(f"the backup directory {backup} must be outside the submission tree {root}")
    done = []
    for acc in accuracy_dirs(root):
        log, txt = acc / "mlperf_log_accuracy.json", acc / "accuracy.txt"
        if not log.is_file() or not txt.is_file():
            raise UserError(f"{acc}: needs mlperf_log_accuracy.json and accuracy.txt before truncating")
        lines = txt.read_text().splitlines()
        has_hash = any(re.match(r"^hash=\w+$", line) for line in lines)
        size = log.stat().st_size
        if size <= MAX_ACCURACY_LOG_SIZE and has_hash:
            continue
        digest = _sha256(log)
        record = {"accuracy_dir": str(acc), "size": size, "sha256": digest, "truncated": False, "backup": None}
        if size > MAX_ACCURACY_LOG_SIZE:
            kept = backup / acc.relative_to(root) / log.name
            if kept.exists() and _sha256(kept) != digest:
                raise UserError(f"{kept} already exists with other content; choose another --backup")
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(log, kept)
            with open(log, "rb") as f:
                head = f.read(VIEWABLE_SIZE)
                f.seek(size - VIEWABLE_SIZE)
                tail = f.read(VIEWABLE_SIZE)
            _replace_bytes(log, head + b"\n\n...\n\n" + tail)
            record.update(truncated=True, backup=str(kept))
        kept_lines = [line for line in lines if not re.match(r"^hash=\w+$", line)]
        _replace_bytes(txt, ("\n".join([*kept_lines, f"hash={digest}"]) + "\n").encode())
        done.append(record)
    return done


def _replace_bytes(path: Path, data: bytes) -> None:
    """Write through a temporary file and a rename, so a crash never leaves half a file."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(data)
    shutil.copymode(path, tmp)
    os.replace(tmp, path)


def package(root: Path, output: Path | None = None) -> tuple[Path, Path]:
    """A reproducible tar.gz of the tree (sorted entries, zero mtimes, root-owned, normalised modes)
    and its `.sha256` file (sha256sum format). Returns both paths."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise UserError(f"{root} is not a directory")
    output = Path(output or root.parent / f"{root.name}.tar.gz").resolve()
    if root in output.parents:
        raise UserError(f"the archive {output} must be outside the tree it packs")
    paths = sorted((p for p in root.rglob("*") if not p.relative_to(root).parts[0].startswith(STAGING_PREFIX)),
                   key=lambda p: p.relative_to(root).parts)
    tmp = output.with_name(f".{output.name}.tmp")
    with open(tmp, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
            tarfile.open(fileobj=gz, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for path in [root, *paths]:
            info = tar.gettarinfo(str(path), arcname=str(Path(root.name) / path.relative_to(root)))
            info.mtime, info.uid, info.gid, info.uname, info.gname = 0, 0, 0, "", ""
            executable = path.is_dir() or os.access(path, os.X_OK)
            info.mode = 0o755 if executable else 0o644
            if info.isfile():
                with open(path, "rb") as f:
                    tar.addfile(info, f)
            else:
                tar.addfile(info)
    os.replace(tmp, output)
    sha = output.with_name(output.name + ".sha256")
    sha.write_text(f"{_sha256(output)}  {output.name}\n")
    return output, sha
