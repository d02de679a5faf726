"""Local wheel folders (`--wheel-dir`): wheels a site cannot download, e.g. behind an air gap or
when a framework's own index (download.pytorch.org) is unreachable. A wheel is used for a stage
when its name and version satisfy one of the stage's exact pins and it installs on the device's
Python; the stage then installs with `--find-links` instead of the framework index."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

WHEEL_RE = re.compile(r"^(?P<name>[^-]+)-(?P<version>[^-]+)(?:-\d[^-]*)?-(?P<py>[^-]+)-(?P<abi>[^-]+)-"
                      r"(?P<platform>[^-]+)\.whl$")
_digests: dict[tuple[str, int, int], str] = {}


@dataclass(frozen=True)
class Wheel:
    path: Path
    name: str       # normalised project name
    version: str    # as in the file name, e.g. 2.13.0+cpu

    @property
    def sha256(self) -> str:
        st = self.path.stat()
        key = (str(self.path), st.st_size, st.st_mtime_ns)
        if key not in _digests:
            h = hashlib.sha256()
            with open(self.path, "rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    h.update(chunk)
            _digests[key] = h.hexdigest()
        return _digests[key]


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _fits(m: re.Match, python: str, platform: str) -> bool:
    """Installable on CPython `python` (e.g. "3.11") on `platform` (e.g. x86_64-manylinux_2_36)."""
    cp = "cp" + python.replace(".", "")
    if not any(t in (cp, "py3", f"py{python.replace('.', '')}") for t in m["py"].split(".")):
        return False
    arch, _, glibc = platform.partition("-manylinux_")
    for tag in m["platform"].split("."):
        if tag == "any":
            return True
        t = re.fullmatch(r"manylinux_(\d+)_(\d+)_(\w+)", tag)
        if t and t[3] == arch and glibc and (int(t[1]), int(t[2])) <= tuple(map(int, glibc.split("_"))):
            return True
        legacy = {"manylinux1": (2, 5), "manylinux2010": (2, 12), "manylinux2014": (2, 17)}
        t = re.fullmatch(r"(manylinux\w+?)_(\w+)", tag)
        if t and t[1] in legacy and t[2] == arch and glibc and legacy[t[1]] <= tuple(map(int, glibc.split("_"))):
            return True
    return False


def _satisfies(version: str, pin: str) -> bool:
    """PEP 440 `==pin`: a pin without a local label admits any local label (2.13.0 admits 2.13.0+cpu)."""
    return version == pin or ("+" not in pin and version.split("+", 1)[0] == pin)


def matching(dirs: list[Path], packages: dict[str, str], python: str, platform: str) -> list[Wheel]:
    """The wheels in `dirs` that satisfy a pin of `packages` and install on the device's Python."""
    found: dict[str, Wheel] = {}
    pins = {normalise(k): v for k, v in packages.items()}
    for d in dirs:
        if not Path(d).is_dir():
            raise UserError(f"--wheel-dir {d}: no such directory")
        for path in sorted(Path(d).glob("*.whl")):
            m = WHEEL_RE.match(path.name)
            if not m:
                continue
            name = normalise(m["name"])
            if name in pins and name not in found and _satisfies(m["version"], pins[name]) \
                    and _fits(m, python, platform):
                found[name] = Wheel(path.resolve(), name, m["version"])
    return sorted(found.values(), key=lambda w: w.name)
