"""External implementations' source: fetched at the matrix's pinned ref into external/<name>/
(`git clone --depth 1 --branch REF REPO`), or provided there by hand where git cannot reach it."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from ..matrix import LoadedMatrix

FETCH_TIMEOUT = 300


def source_dir(lm: LoadedMatrix, name: str) -> Path:
    return lm.root / "external" / name


def how_to_provide(lm: LoadedMatrix, name: str) -> str:
    impl = lm.matrix.implementations[name]
    return (f"provide it: git clone --depth 1 --branch {impl.ref} {impl.repo} {source_dir(lm, name)} "
            f"(or copy a checkout of {impl.ref} there)")


def fetch(lm: LoadedMatrix, name: str, timeout: int = FETCH_TIMEOUT) -> str | None:
    """Clone the implementation's repository at its ref into external/<name>/. None when done
    (or already there), else the one-line reason git gave."""
    impl = lm.matrix.implementations[name]
    dest = source_dir(lm, name)
    if dest.is_dir():
        return None
    if shutil.which("git") is None:
        return "git is not installed"
    created = not dest.parent.exists()
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        return _clone(impl, dest, timeout)
    finally:
        if created and not any(dest.parent.iterdir()):
            dest.parent.rmdir()  # a failed fetch leaves nothing behind


def _clone(impl, dest: Path, timeout: int) -> str | None:
    with tempfile.TemporaryDirectory(prefix=f".{dest.name}-", dir=dest.parent) as tmp:
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "true"}
        try:
            r = subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", impl.ref, impl.repo,
                                f"{tmp}/src"], capture_output=True, text=True, timeout=timeout, env=env)
        except subprocess.TimeoutExpired:
            return f"git clone timed out after {timeout}s"
        if r.returncode != 0:
            lines = [ln.strip() for ln in (r.stderr or r.stdout).splitlines() if ln.strip()]
            return (lines[-1] if lines else f"git clone exited {r.returncode}")[:200]
        shutil.rmtree(Path(tmp, "src", ".git"), ignore_errors=True)
        Path(tmp, "src").rename(dest)
    return None
