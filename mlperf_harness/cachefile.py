"""Cache files written atomically, safe between threads, processes and containers sharing one cache folder."""

import os
import tempfile
from pathlib import Path


def write_atomic(path: Path, write) -> None:
    """`write(f)` into a temporary file of its own beside `path`, then rename it over `path`: a reader sees no
    file or a whole one, and two writers never share a temporary name (a name from the pid would: containers
    that run at once can have the same pid)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
