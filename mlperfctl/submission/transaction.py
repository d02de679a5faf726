"""All-or-nothing changes to a submission tree: its exclusive lock and a transaction that undoes itself.

`tree_lock(root)` holds `<root>/.mlperfctl.lock`, created with O_EXCL so it also works on a shared file
system between Slurm nodes: two writers (two shells, two jobs) take turns and never interleave.

`Transaction(root)` makes a staging directory inside the tree (same file system: renames are atomic) and
records every change it makes, in order: a created directory, a new file, a staged file or directory
placed in the tree (what it replaces is moved aside into the staging directory first), a file moved.
`undo()` reverts them all, newest first; `commit()` keeps them, clears the record and removes the
staging directory. As a context manager it commits on a normal exit and undoes on an exception or an
interrupt (KeyboardInterrupt, SystemExit), so a failed write leaves the tree exactly as it was.

    with tree_lock(root), Transaction(root) as tx:
        staged = tx.staging / "new" / "accuracy.txt"   # build the new content here
        ...
        tx.place(staged, root / "accuracy.txt")
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path

from ..errors import UserError

STAGING_PREFIX = ".mlperfctl-staging-"
LOCK_NAME = ".mlperfctl.lock"
LOCK_TIMEOUT = float(os.environ.get("MLPERFCTL_LOCK_TIMEOUT", "3600"))


def _rename(src: Path, dst: Path) -> None:
    """The one primitive that moves things in the tree (tests inject failures here)."""
    os.rename(src, dst)


class Transaction:
    """Changes to a tree, recorded so that undo() puts everything back as it was (see the module doc)."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.staging: Path | None = None  # made on entry (or by begin())
        self.changes: list[tuple[str, Path, Path | None]] = []  # (kind, path, other path), in the order done

    def begin(self) -> Transaction:
        """Make the staging directory (inside root) where new content is built before it is placed."""
        self.staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=self.root))
        try:
            (self.staging / "aside").mkdir()
        except BaseException:
            shutil.rmtree(self.staging, ignore_errors=True)
            raise
        return self

    def __enter__(self) -> Transaction:
        return self.begin()

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.undo()

    def mkdirs(self, path: Path) -> None:
        """Create `path` and its missing parents (each recorded: undo removes them)."""
        missing = []
        path = Path(path)
        while not path.exists():
            missing.append(path)
            path = path.parent
        for d in reversed(missing):
            d.mkdir()
            self.changes.append(("mkdir", d, None))

    def place(self, staged: Path, target: Path) -> None:
        """Move `staged` (a file or a directory) to `target`, creating its parents; an existing target
        is moved aside first (undo moves it back)."""
        self.mkdirs(Path(target).parent)
        if target.exists():
            aside = self.staging / "aside" / str(len(self.changes))
            _rename(target, aside)
            self.changes.append(("aside", target, aside))
        _rename(staged, target)
        self.changes.append(("placed", target, staged))

    def move(self, src: Path, dst: Path) -> None:
        """Move `src` to `dst` (same file system; dst's missing parents are created); undo moves it back."""
        self.mkdirs(Path(dst).parent)
        _rename(src, dst)
        self.changes.append(("moved", dst, src))

    def copy(self, src: Path, dst: Path) -> None:
        """Copy the file `src` to a new file `dst` (with its metadata; missing parents are created); undo
        removes it, also when the copy itself fails half-way."""
        if Path(dst).exists():
            raise FileExistsError(f"{dst} already exists")
        self.mkdirs(Path(dst).parent)
        self.changes.append(("new", dst, None))
        shutil.copy2(src, dst)

    def undo(self) -> None:
        """Revert every recorded change, newest first, and remove the staging directory. Best effort: a
        step that fails does not stop the ones after it."""
        for kind, path, other in reversed(self.changes):
            with contextlib.suppress(OSError):
                if kind in ("placed", "moved"):
                    os.rename(path, other)
                elif kind == "aside":
                    os.rename(other, path)
                elif kind == "mkdir":
                    path.rmdir()
                elif kind == "new":
                    path.unlink()
        self.changes.clear()
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None

    def commit(self) -> None:
        """Keep every change: clear the record and remove the staging directory (and what was moved aside)."""
        self.changes.clear()
        if self.staging is not None:
            shutil.rmtree(self.staging)
            self.staging = None


def pid_alive(pid: int) -> bool:
    """Whether process `pid` of this host still runs (the owner of a lock, of a run's containers)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextlib.contextmanager
def tree_lock(submission_dir: Path, timeout: float | None = None, poll: float = 0.1):
    """Hold the tree's exclusive lock: wait while another live writer holds it; a lock left by a
    dead process on this host is reported (UserError) with the fix, never taken over silently."""
    lock = Path(submission_dir) / LOCK_NAME
    host = socket.gethostname()
    deadline = time.monotonic() + (LOCK_TIMEOUT if timeout is None else timeout)
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            try:
                owner = lock.read_text().strip()
            except FileNotFoundError:
                continue
            owner_host, _, pid = owner.rpartition(":")
            if owner_host == host and pid.isdigit() and not pid_alive(int(pid)):
                raise UserError(f"stale lock {lock}: its writer (pid {pid} on {host}) is gone, killed mid-write;"
                                f" the tree is intact (writes are atomic): remove it with `rm {lock}` and rerun"
                                ) from None
            if time.monotonic() > deadline:
                raise UserError(f"{lock} is held by {owner or 'a writer being created'}; waited "
                                f"{timeout or LOCK_TIMEOUT:.0f} s. If no mlperfctl run writes to this tree, "
                                f"remove it with `rm {lock}`") from None
            time.sleep(poll)
            continue
        try:
            with os.fdopen(fd, "w") as f:
                f.write(f"{host}:{os.getpid()}\n")
        except BaseException:  # a full disk fails the write: leave no empty lock behind for others to wait on
            with contextlib.suppress(FileNotFoundError):
                lock.unlink()
            raise
        break
    try:
        yield lock
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
