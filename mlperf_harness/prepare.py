"""`prepare`: a raw download (`mlperfctl get`) -> exactly the layout `run` reads, by the workload's declared
preparer (Workload.dataset_preparer / checkpoint_preparer). Helpers the family preparers share: finding a raw
file by its published name, progress lines the host turns into a bar, and the summary line it reads back.

Lines on stdout the host (mlperfctl/prepare.py) understands:
  progress: <done>/<total> <what>     one a step, at most every PROGRESS_EVERY items (and the last)
  summary: <JSON object>              the preparer's summary, the last line of a successful prepare
"""

import json
import shutil
import tarfile
from pathlib import Path

from .errors import UsageError

PROGRESS_PREFIX = "progress: "
SUMMARY_PREFIX = "summary: "
PROGRESS_EVERY = 50


def progress(done: int, total: int, what: str) -> None:
    if done == total or done % PROGRESS_EVERY == 0:
        print(f"{PROGRESS_PREFIX}{done}/{total} {what}", flush=True)


def find(raw: Path, *names: str, what: str, fix: str, required: bool = True) -> Path | None:
    """The first of `names` (files or folders, in that order of preference) at raw/ or anywhere below it; a
    one-line UsageError naming them when none is there (or None when not required)."""
    for name in names:
        if (raw / name).exists():
            return raw / name
    for name in names:
        hits = sorted(raw.rglob(name))
        if hits:
            return hits[0]
    if required:
        raise UsageError(f"{raw} holds no {' or '.join(names)} ({what})", fix)
    return None


def open_tar(path: Path) -> tarfile.TarFile:
    try:
        return tarfile.open(path)
    except (tarfile.TarError, OSError) as e:
        raise UsageError(f"{path} is not a readable tar archive ({e})", "fetch it again (mlperfctl get)") from None


def copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)


def command(a) -> int:
    """`prepare --model M --raw DIR --dest DIR [--checkpoint] [--count N]`: the declared preparer, its summary
    as the last line."""
    from . import workloads
    from .workloads.base import load

    w = workloads.get(a.model)
    hook = w.checkpoint_preparer if a.checkpoint else w.dataset_preparer
    what = "checkpoint" if a.checkpoint else "dataset"
    if not hook:
        raise UsageError(f"{a.model} declares no {what} preparer",
                         "its download is used as it is" if a.checkpoint else "prepare its dataset by hand")
    if a.count is not None and a.count < 1:
        raise UsageError(f"--count {a.count} must be positive", "pass --count 1 or more, or leave it out")
    raw, dest = Path(a.raw), Path(a.dest)
    if not raw.is_dir():
        raise UsageError(f"--raw {raw} is not a folder", "pass the folder `mlperfctl get --dest` filled")
    dest.mkdir(parents=True, exist_ok=True)
    summary = load(hook)(raw, dest, a.model, a.count)
    print(SUMMARY_PREFIX + json.dumps(summary, sort_keys=True), flush=True)
    return 0
