"""Build contexts as tar archives with normalised metadata, so the content hash and the
engine's cache depend on file contents only: sorted entries, one fixed mtime, uid/gid 0, no
owner names, modes 0755/0644, no __pycache__ or .pyc."""

from __future__ import annotations

import hashlib
import io
import re
import tarfile
from pathlib import Path

from ..errors import UserError

EXCLUDE_DIRS = {"__pycache__", ".git", ".pytest_cache", ".mypy_cache", ".ruff_cache"}
EXCLUDE_SUFFIXES = (".pyc", ".pyo")
COPY_RE = re.compile(r"^COPY\s+(?:--\S+\s+)*(\S+)\s+\S+\s*$", re.M)
BIND_RE = re.compile(r"--mount=type=bind,source=([^,\s]+)")


def copy_sources(stage_text: str) -> list[str]:
    """The context paths a Dockerfile stage COPYs or bind-mounts (relative to the context root)."""
    return [src.rstrip("/") for src in COPY_RE.findall(stage_text) + BIND_RE.findall(stage_text)]


def _walk(root: Path, rel: str) -> list[tuple[str, Path]]:
    path = root / rel
    if not path.exists():
        raise UserError(f"the build needs {path}, which does not exist")
    if path.is_file():
        return [(rel, path)]
    out = [(rel, path)]
    for child in sorted(path.iterdir(), key=lambda p: p.name):
        if child.name in EXCLUDE_DIRS or child.name.endswith(EXCLUDE_SUFFIXES) or child.is_symlink():
            continue
        out.extend(_walk(root, f"{rel}/{child.name}"))
    return out


def _info(name: str, *, is_dir: bool, executable: bool, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE if is_dir else tarfile.REGTYPE
    info.mode = 0o755 if is_dir or executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    info.mtime = mtime
    info.size = 0 if is_dir else size
    return info


Item = tuple[str, bytes | None, bool]


def entries(root: Path, sources: list[str], extra: dict[str, bytes] | None = None) -> list[Item]:
    """(name, bytes or None for a directory, executable) for every path, sorted by name."""
    found: dict[str, tuple[bytes | None, bool]] = {}
    for src in sources:
        parts = src.split("/")
        for i in range(1, len(parts)):  # parent directories of a nested source
            found.setdefault("/".join(parts[:i]), (None, False))
        for rel, path in _walk(root, src):
            if path.is_dir():
                found[rel] = (None, False)
            else:
                found[rel] = (path.read_bytes(), bool(path.stat().st_mode & 0o111))
    for name, data in (extra or {}).items():
        parts = name.split("/")
        for i in range(1, len(parts)):
            found.setdefault("/".join(parts[:i]), (None, False))
        found[name] = (data, False)
    return [(name, *found[name]) for name in sorted(found)]


def digest(items: list[tuple[str, bytes | None, bool]]) -> str:
    """sha256 over names, kinds, modes and contents."""
    h = hashlib.sha256()
    for name, data, executable in items:
        h.update(f"{name}\0{'d' if data is None else 'f'}\0{int(executable)}\0".encode())
        if data is not None:
            h.update(hashlib.sha256(data).digest())
    return h.hexdigest()


def tar_bytes(items: list[tuple[str, bytes | None, bool]], mtime: int) -> bytes:
    """A deterministic tar of the items."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name, data, executable in items:
            info = _info(name, is_dir=data is None, executable=executable,
                         size=len(data or b""), mtime=mtime)
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()
