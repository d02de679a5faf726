"""A full disk, for real: a small tmpfs mounted for the test (root only; skipped with the reason elsewhere).

`submission truncate`, `submission check`, `submission package` and the truncation step of `run --submission`
on a file system that runs out of space: exit code 2, one line naming the path, "disk full" and the fix,
no traceback, and the tree byte-for-byte as it was (every file hashed before and after, no leftover
temporary files, lock or backup). `run --submission` refuses a full, read-only or too small destination
before anything starts."""

import errno
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules
from mlperfctl import submission
from mlperfctl.errors import UserError
from mlperfctl.run import submission_flow as flow
from mlperfctl.submission import transaction as submission_transaction
from tests.test_submission import SCEN, SYSTEM, result_set, runs, snapshot, system_json, write  # noqa: F401 (runs)

ROOT = Path(__file__).resolve().parents[1]
PAGE = os.sysconf("SC_PAGE_SIZE")


@pytest.fixture
def mount(tmp_path):
    """mount(name, size, ro=False): a fresh tmpfs of `size` at tmp_path/name, unmounted afterwards."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = []

    def make(name: str, size: str, ro: bool = False) -> Path:
        where = tmp_path / name
        where.mkdir()
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}" + (",ro" if ro else ""), "tmpfs",
                            str(where)], capture_output=True, text=True)
        if r.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(where)
        return where

    yield make
    for where in mounted:
        if subprocess.run(["umount", str(where)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(where)], check=True)


def fill(fs: Path, leave_pages: int = 0) -> Path:
    """Fill the file system with one file until it refuses, then free `leave_pages` pages of it."""
    filler = fs / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        while True:
            try:
                os.write(fd, b"\0" * 65536)
            except OSError as e:
                assert e.errno == errno.ENOSPC
                break
        os.ftruncate(fd, (os.fstat(fd).st_size // PAGE - leave_pages) * PAGE)
    finally:
        os.close(fd)
    assert shutil.disk_usage(fs).free == leave_pages * PAGE
    return filler


def cli(*args):
    return subprocess.run([sys.executable, "-m", "mlperfctl", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT)


def one_line_error(r, *words) -> str:
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert "Traceback" not in r.stderr + r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


@pytest.mark.parametrize("leave_pages, backup, fails_at", [
    (0, "elsewhere", ".mlperfctl.lock"),  # nothing free: the tree's lock cannot be written
    (1, "beside", "sub-accuracy-backup"),  # the lock fits, the full log's backup (beside the tree) does not
    (1, "elsewhere", "mlperf_log_accuracy.json"),  # backup elsewhere; the truncated log does not fit
    (4, "elsewhere", "accuracy.txt"),  # the truncated log (3 pages) fits, the new accuracy.txt does not
])
def test_truncate_on_a_full_disk_leaves_the_tree_as_it_was(tmp_path, runs, mount, leave_pages, backup,  # noqa: F811
                                                          fails_at):
    fs = mount("fs", "16m")
    root = fs / "sub"
    write(root, runs)
    before = snapshot(root)
    backup_dir = tmp_path / "bk" if backup == "elsewhere" else fs / "sub-accuracy-backup"
    filler = fill(fs, leave_pages)
    r = cli("submission", "truncate", root, *(["--backup", backup_dir] if backup == "elsewhere" else []))
    line = one_line_error(r, f"truncating the accuracy logs of {root} at ", "(disk full)",
                          "the tree is exactly as it was; free space on its file system and rerun")
    assert fails_at in line.split(" at ", 1)[1].split(" (disk full)")[0]
    assert snapshot(root) == before  # every byte, and no lock, staging folder or temporary file left
    assert sorted(p.name for p in fs.iterdir()) == ["filler", "sub"] and not backup_dir.exists()

    filler.unlink()  # with space again, the same command works on the same tree
    r = cli("submission", "truncate", root, *(["--backup", backup_dir] if backup == "elsewhere" else []))
    assert r.returncode == 0 and "1 accuracy log(s) processed" in r.stdout, r.stderr
    assert cli("submission", "check", root).returncode == 0


def test_check_writes_nothing_and_works_on_a_full_disk(runs, mount):  # noqa: F811
    fs = mount("fs", "16m")
    root = fs / "sub"
    write(root, runs)
    submission.truncate_accuracy_logs(root, fs / "bk")
    before = snapshot(fs)
    fill(fs)
    r = cli("submission", "check", root)
    assert r.returncode == 0 and "1 results, 0 problems" in r.stdout and "Traceback" not in r.stderr, r.stderr
    assert {k: v for k, v in snapshot(fs).items() if k != "filler"} == before


@pytest.mark.parametrize("what", ["archive", "sha256 file"])
def test_package_on_a_full_disk_keeps_the_tree_and_the_earlier_archive(tmp_path, runs, mount, what):  # noqa: F811
    fs = mount("fs", "16m")
    root = fs / "sub"
    write(root, runs)
    submission.truncate_accuracy_logs(root, tmp_path / "bk")
    archive, _ = submission.package(root, tmp_path / "sub.tar.gz")  # its size: what the archive needs
    pages = -(-archive.stat().st_size // PAGE)
    (fs / "sub.tar.gz").write_bytes(b"an earlier archive")
    (fs / "sub.tar.gz.sha256").write_text("an earlier digest\n")
    before = snapshot(fs)
    # "archive": one page free, the archive does not fit; "sha256 file": the archive fits, its .sha256 does not
    filler = fill(fs, 1 if what == "archive" else pages)
    r = cli("submission", "package", root)
    one_line_error(r, f"writing the archive {fs / 'sub.tar.gz'} failed (disk full)",
                   f"the tree {root} and any earlier sub.tar.gz are unchanged; free space on its file system")
    assert {k: v for k, v in snapshot(fs).items() if k != "filler"} == before  # no temporary file left either
    filler.unlink()
    r = cli("submission", "package", root)
    assert r.returncode == 0 and (fs / "sub.tar.gz").read_bytes() == archive.read_bytes(), r.stderr


def test_the_truncation_step_of_run_submission_on_a_full_disk(tmp_path, runs, mount):  # noqa: F811
    fs = mount("fs", "16m")
    root = fs / "sub"
    write(root, runs)
    before = snapshot(root)
    raw = fs / "sub-raw"  # the results directory on the same (full) file system: the backup of the full log
    raw.mkdir()
    filler = fill(fs, 1)
    with pytest.raises(UserError) as e:
        flow.truncate_tree(root, raw)
    message = str(e.value)
    assert "\n" not in message and f"at {raw / 'accuracy-backup'}" in message and "(disk full)" in message
    assert "the tree is exactly as it was" in message and "the same command resumes" in message
    assert snapshot(root) == before and sorted(p.name for p in raw.iterdir()) == []
    filler.unlink()
    assert flow.truncate_tree(root, raw)[0]["truncated"] is True


@pytest.mark.parametrize("leave_pages", [0, 2, 40])
def test_writing_the_tree_on_a_full_disk(tmp_path, runs, mount, leave_pages):  # noqa: F811
    """run / run --submission: results replacing the old ones (--force) on a disk without room for them."""
    fs = mount("fs", "16m")
    root = fs / "sub"
    write(root, runs, acc=None)
    before = snapshot(root)
    filler = fill(fs, leave_pages)
    kw = dict(division="open", submitter="acme", system_name=SYSTEM, system_json=system_json(), src_dir=runs["src"],
              results=[result_set(runs["valid"], runs["acc"])], rnd=mlperf_rules.get_round("v6.1"), force=True)
    with pytest.raises(UserError) as e:
        flow.write_tree(root, **kw)
    assert str(e.value) == (f"writing the submission tree {root} failed (disk full): the tree is exactly as it was "
                            f"(the raw results and the ledger are kept); free space on its file system and rerun")
    assert snapshot(root) == before  # no lock (leave_pages 0: its write failed), no staging folder
    filler.unlink()
    assert flow.write_tree(root, **kw) and (root / SCEN / "accuracy" / "accuracy.txt").is_file()


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_failed_rename_while_truncating_puts_everything_back(tmp_path, runs, monkeypatch, fail_at):  # noqa: F811
    root = tmp_path / "sub"
    write(root, runs)
    before = snapshot(root)
    calls = []
    real = submission_transaction._rename

    def rename(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError(errno.EIO, "Input/output error")
        real(src, dst)

    monkeypatch.setattr(submission_transaction, "_rename", rename)
    with pytest.raises(UserError, match=r"failed \(Input/output error\): the tree is exactly as it was"):
        submission.truncate_accuracy_logs(root, tmp_path / "bk")
    assert snapshot(root) == before and not (tmp_path / "bk").exists()
    monkeypatch.undo()
    assert submission.truncate_accuracy_logs(root, tmp_path / "bk")[0]["truncated"] is True
    assert snapshot(root)[str(SCEN / "accuracy" / "accuracy.txt")] != before[str(SCEN / "accuracy" / "accuracy.txt")]


def run_submission(*args):
    return cli("run", "--submission", "--model", "resnet50", "--device", "cpu", *args)


def test_run_submission_refuses_a_small_full_or_read_only_destination(tmp_path, mount):
    small = mount("small", "1m")
    r = run_submission("--submission-dir", small / "sub")
    one_line_error(r, f"--submission-dir {small / 'sub'}: only 1 MiB free on its file system", "free some space")
    assert list(small.iterdir()) == []
    r = run_submission("--submission-dir", tmp_path / "sub", "--results-dir", small / "raw")
    one_line_error(r, f"--results-dir {small / 'raw'}: only 1 MiB free", "the raw LoadGen outputs need")
    big = mount("big", "100m")
    fill(big)
    r = run_submission("--submission-dir", big / "sub", "--results-dir", tmp_path / "raw")
    one_line_error(r, "only 0 MiB free on its file system")
    read_only = mount("ro", "100m", ro=True)
    r = run_submission("--submission-dir", read_only / "sub")
    one_line_error(r, f"--submission-dir {read_only / 'sub'}: {read_only} is not writable")
    assert not (tmp_path / "sub").exists() and not (tmp_path / "raw").exists()
