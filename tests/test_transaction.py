"""The tree transaction and lock (mlperfctl.submission.transaction): every kind of change is undone on a
failure or an interrupt, commit keeps them, a second writer is refused by the lock in one line."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

import pytest

from mlperfctl.errors import UserError
from mlperfctl.submission.transaction import LOCK_NAME, STAGING_PREFIX, Transaction, tree_lock


def snapshot(root: Path) -> dict[str, bytes | None]:
    """Every path under root: file bytes, None for a directory."""
    return {str(p.relative_to(root)): (p.read_bytes() if p.is_file() else None) for p in sorted(root.rglob("*"))}


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "tree"
    (root / "results" / "old").mkdir(parents=True)
    (root / "results" / "old" / "accuracy.txt").write_text("old accuracy\n")
    (root / "results" / "kept.json").write_text("{}\n")
    backup = tmp_path / "backup"
    (backup / "a").mkdir(parents=True)
    (backup / "a" / "log.json").write_text("[1]\n")
    return root, backup


def every_change(tx: Transaction, root: Path, backup: Path) -> None:
    """One change of each kind: created dirs, a new file, a replaced file, a placed directory, a moved file."""
    tx.mkdirs(root / "results" / "new" / "deep")
    tx.copy(root / "results" / "kept.json", backup / "b" / "c" / "kept.json")
    staged = tx.staging / "accuracy.txt"
    staged.write_text("new accuracy\n")
    tx.place(staged, root / "results" / "old" / "accuracy.txt")
    folder = tx.staging / "TEST01"
    folder.mkdir()
    (folder / "verify_accuracy.txt").write_text("TEST PASS\n")
    tx.place(folder, root / "results" / "x" / "TEST01")
    tx.move(backup / "a" / "log.json", backup / ".superseded" / "abc" / "a" / "log.json")


@pytest.mark.parametrize("raised", [RuntimeError("boom"), KeyboardInterrupt()])
def test_an_exception_or_interrupt_undoes_every_change(tree, raised):
    root, backup = tree
    before, backup_before = snapshot(root), snapshot(backup)
    with pytest.raises(type(raised)):
        with Transaction(root) as tx:
            every_change(tx, root, backup)
            assert (root / "results" / "old" / "accuracy.txt").read_text() == "new accuracy\n"
            assert (backup / ".superseded" / "abc" / "a" / "log.json").is_file()
            raise raised
    assert snapshot(root) == before  # staging folder gone too
    assert snapshot(backup) == backup_before
    assert tx.changes == [] and tx.staging is None


def test_commit_keeps_every_change_and_removes_the_staging_folder(tree):
    root, backup = tree
    with Transaction(root) as tx:
        every_change(tx, root, backup)
        assert len(tx.changes) > 5
    assert tx.changes == []
    assert not list(root.glob(f"{STAGING_PREFIX}*"))
    assert (root / "results" / "old" / "accuracy.txt").read_text() == "new accuracy\n"
    assert (root / "results" / "new" / "deep").is_dir()
    assert (root / "results" / "x" / "TEST01" / "verify_accuracy.txt").read_text() == "TEST PASS\n"
    assert (backup / "b" / "c" / "kept.json").read_text() == "{}\n"
    assert (backup / ".superseded" / "abc" / "a" / "log.json").read_text() == "[1]\n"
    assert not (backup / "a" / "log.json").exists()
    tx.undo()  # the record was cleared: nothing left to undo
    assert (root / "results" / "old" / "accuracy.txt").read_text() == "new accuracy\n"


def test_a_copy_that_fills_the_disk_half_way_leaves_no_partial_file(tree, monkeypatch):
    root, backup = tree
    backup_before = snapshot(backup)

    def full(src, dst):
        Path(dst).write_text("half")  # the copy got this far
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(shutil, "copy2", full)
    with pytest.raises(OSError, match="No space"):
        with Transaction(root) as tx:
            tx.copy(root / "results" / "kept.json", backup / "new" / "kept.json")
    assert snapshot(backup) == backup_before


def test_copy_refuses_to_overwrite(tree):
    root, backup = tree
    with pytest.raises(FileExistsError), Transaction(root) as tx:
        tx.copy(root / "results" / "kept.json", backup / "a" / "log.json")
    assert (backup / "a" / "log.json").read_text() == "[1]\n"


def test_a_second_writer_is_refused_by_the_lock_in_one_line(tmp_path):
    with tree_lock(tmp_path) as lock:
        assert lock == tmp_path / LOCK_NAME and lock.read_text().strip().endswith(f":{os.getpid()}")
        with pytest.raises(UserError) as e:
            with tree_lock(tmp_path, timeout=0.2, poll=0.05):
                pass
        msg = str(e.value)
        assert msg.startswith(f"{lock} is held by ") and f":{os.getpid()}" in msg and f"rm {lock}" in msg
        assert "\n" not in msg
        assert lock.exists()  # the refused writer leaves the holder's lock alone
    assert not lock.exists()  # released on exit
