"""Truncate a tree's accuracy logs (as the official truncate_accuracy_log.py does) and pack the tree
into a reproducible archive."""

from __future__ import annotations

import contextlib
import errno
import gzip
import hashlib
import os
import re
import shutil
import tarfile
import tempfile
from pathlib import Path

from mlperf_rules.common import MAX_ACCURACY_LOG_SIZE, TRUNCATE_KEEP

from ..errors import UserError
from .mllog import TRUNCATION_MARK, accuracy_log_error
from .transaction import LOCK_NAME, STAGING_PREFIX, Transaction, tree_lock
from .writer import write_failed

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


SUPERSEDED = ".superseded"  # in a backup folder: full logs of runs a rerun replaced in the tree


def truncate_accuracy_logs(root: Path, backup: Path | None = None, *, supersede: bool = False) -> list[dict]:
    """Cut accuracy logs over 10 KiB to their first and last 4 KiB and append `hash=<sha256 of the
    full log>` to accuracy.txt, keeping each full log under `backup` (outside the tree).

    A log that already has a hash line and fits is left alone; a small log without one only gets the
    hash. Returns one record per accuracy directory touched. A backup that holds another log than the
    tree's is refused, unless `supersede` (a rerun replaced the run): then it moves to
    <backup>/.superseded/<its sha256>/<same path> and nothing is deleted. A log to process that is not
    valid JSON (the official script would cut it as it is) is refused, naming it, before anything is written.

    All or nothing, under the tree's lock: the full logs are backed up and the new files built in a
    staging directory inside the tree first, then renamed in; any failure (disk full: one-line UserError)
    puts back what was moved and removes what this call created, so the tree is exactly as it was.
    """
    root = Path(root).resolve()
    backup = Path(backup or root.parent / f"{root.name}-accuracy-backup").resolve()
    if backup == root or root in backup.parents:
        raise UserError(f"the backup directory {backup} must be outside the submission tree {root}")
    at = [root / LOCK_NAME]  # what was being written when the file system failed
    try:
        with tree_lock(root):
            return _truncate_locked(root, backup, at, supersede)
    except OSError as e:
        where = e.filename if e.filename and e.errno not in (errno.ENOSPC, errno.EDQUOT) else at[-1]
        raise write_failed(e, f"truncating the accuracy logs of {root} at {where}",
                           "the tree is exactly as it was") from None


def _truncate_locked(root: Path, backup: Path, at: list[Path], supersede: bool) -> list[dict]:
    work = []
    for acc in accuracy_dirs(root):  # everything checked before anything is written
        log, txt = acc / "mlperf_log_accuracy.json", acc / "accuracy.txt"
        if not log.is_file() or not txt.is_file():
            raise UserError(f"{acc}: needs mlperf_log_accuracy.json and accuracy.txt before truncating")
        lines = txt.read_text().splitlines()
        has_hash = any(re.match(r"^hash=\w+$", line) for line in lines)
        size = log.stat().st_size
        if size <= MAX_ACCURACY_LOG_SIZE and has_hash:
            continue
        if error := accuracy_log_error(log):  # the official truncation would copy and cut it as it is
            raise UserError(f"{log}: {error}; the accuracy run's log cannot be scored or hashed as it is: "
                            "rerun the accuracy run (or put its full log back), then truncate")
        digest = _sha256(log)
        kept = backup / acc.relative_to(root) / log.name
        stale = None  # the sha256 of another run's log backed up at `kept`
        if size > MAX_ACCURACY_LOG_SIZE and kept.exists() and (old := _sha256(kept)) != digest:
            if not supersede:
                raise UserError(f"{kept} already exists with other content; choose another --backup")
            stale = old
        work.append((acc, log, txt, lines, size, digest, kept, stale))
    if not work:
        return []
    at.append(root)
    done, entries = [], []
    # one transaction: the backups this call makes (new files and folders, outside the tree), the superseded
    # backups it moves, and the tree's files it replaces are all undone on failure
    with Transaction(root) as tx:
        for n, (acc, log, txt, lines, size, digest, kept, stale) in enumerate(work):
            record = {"accuracy_dir": str(acc), "size": size, "sha256": digest, "truncated": False, "backup": None}
            if size > MAX_ACCURACY_LOG_SIZE:
                if stale:
                    moved = backup / SUPERSEDED / stale / acc.relative_to(root) / log.name
                    at.append(moved)
                    tx.move(kept, moved)
                if not kept.exists():
                    at.append(kept)
                    tx.copy(log, kept)
                with open(log, "rb") as f:
                    head = f.read(VIEWABLE_SIZE)
                    f.seek(size - VIEWABLE_SIZE)
                    tail = f.read(VIEWABLE_SIZE)
                at.append(log)
                entries.append((_staged(tx.staging / str(n), log, head + TRUNCATION_MARK + tail), log))
                record.update(truncated=True, backup=str(kept))
            kept_lines = [line for line in lines if not re.match(r"^hash=\w+$", line)]
            at.append(txt)
            text = ("\n".join([*kept_lines, f"hash={digest}"]) + "\n").encode()
            entries.append((_staged(tx.staging / str(n), txt, text), txt))
            done.append(record)
        for staged, target in entries:
            at.append(target)
            tx.place(staged, target)
    return done


def _staged(folder: Path, like: Path, data: bytes) -> Path:
    """`data` in a new file named like `like` (and with its mode) in `folder`."""
    folder.mkdir(exist_ok=True)
    path = folder / like.name
    path.write_bytes(data)
    shutil.copymode(like, path)
    return path


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
    sha = output.with_name(output.name + ".sha256")
    tmp = sha_tmp = None
    try:  # both written beside their final names first: a failure leaves any earlier archive as it was
        fd, tmp = tempfile.mkstemp(prefix=f".{output.name}.", suffix=".tmp", dir=output.parent)
        with open(fd, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz, \
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
        os.chmod(tmp, 0o644)
        fd, sha_tmp = tempfile.mkstemp(prefix=f".{sha.name}.", suffix=".tmp", dir=output.parent)
        with open(fd, "w") as f:
            f.write(f"{_sha256(Path(tmp))}  {output.name}\n")
        os.chmod(sha_tmp, 0o644)
        os.replace(tmp, output)
        tmp = None
        os.replace(sha_tmp, sha)
    except BaseException as e:
        for leftover in (tmp, sha_tmp):
            if leftover:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(leftover)
        if isinstance(e, OSError):
            raise write_failed(e, f"writing the archive {output}",
                               f"the tree {root} and any earlier {output.name} are unchanged") from None
        raise
    return output, sha
