"""Hashed lock files, one per stage (not per cell): cells that share a stage share its lock.

`mlperfctl lock` compiles each stage's pins with `uv pip compile --generate-hashes` for the
device's Python and platform, each upper stage constrained by the stage below it, and writes
locks/<device>/{runtime,<backend>,<backend>-<model>}.txt. A runtime stage built with another LoadGen
than the matrix's (a round's own, `--version`) has its own lock, locks/<device>/runtime-loadgen-<version>.txt;
the stages above it keep theirs (the runtime's other pins are the same, so their constraints are too).
Builds install them with `pip install --require-hashes`. A stage whose index cannot be reached is reported and left
unlocked: it builds from the matrix's exact pins and the build output says "unlocked".
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError
from ..matrix import Cell, LoadedMatrix, runtime_packages

LOCK_DIR = "locks"
PYPI = "https://pypi.org/simple"


@dataclass(frozen=True)
class StageLock:
    """What one stage installs and where its lock file lives (relative to the matrix)."""

    stage: str                 # runtime | framework | implementation
    device: str
    name: str                  # runtime, <backend> or <backend>-<model>
    packages: tuple[tuple[str, str], ...]
    index_url: str | None
    below: StageLock | None    # the stage it is constrained by
    overrides: tuple[str, ...] = ()  # packages whose pin here replaces the stage below's (not constrained by it)

    @property
    def src(self) -> str:
        return f"{LOCK_DIR}/{self.device}/{self.name}.txt"

    @property
    def dest(self) -> str:
        return f"/opt/mlperf/locks/{self.device}-{self.name}.txt"


def stage_locks(lm: LoadedMatrix, cell: Cell) -> dict[str, StageLock]:
    """The lockable stages of a cell (the implementation stage only when it installs packages)."""
    m = lm.matrix
    runtime = StageLock("runtime", cell.device, runtime_lock_name(lm),
                        tuple(sorted(runtime_packages(m, cell.device, lm.loadgen).items())),
                        None, None)
    install = m.backends[cell.backend].install[cell.device]
    framework = StageLock("framework", cell.device, cell.backend,
                          tuple(sorted({**install.packages, **install.overrides}.items())),
                          install.index_url, runtime, tuple(sorted(install.overrides)))
    out = {"runtime": runtime, "framework": framework}
    packages = install.model_packages(m.models[cell.model].packages)
    if packages:
        out["implementation"] = StageLock("implementation", cell.device, f"{cell.backend}-{cell.model}",
                                          tuple(sorted(packages.items())), None, framework)
    return out


def runtime_lock_name(lm: LoadedMatrix) -> str:
    """runtime (the matrix's LoadGen) or runtime-loadgen-<version> (another one, e.g. a round's pin)."""
    return "runtime" if lm.default_loadgen else f"runtime-loadgen-{lm.loadgen}"


def lock_path(lm: LoadedMatrix, lock: StageLock) -> Path:
    return lm.root / lock.src


def is_locked(lm: LoadedMatrix, lock: StageLock) -> bool:
    return lock_path(lm, lock).is_file()


def _uv() -> str:
    found = shutil.which("uv") or str(Path(sys.executable).parent / "uv")
    if not Path(found).exists():
        raise UserError("uv is not installed: pip install uv (it compiles the hashed locks)")
    return found


def index_reachable(url: str, timeout: float = 8.0) -> str | None:
    """None when the index answers, else why not (one line)."""
    try:
        with urllib.request.urlopen(url.rstrip("/") + "/", timeout=timeout) as r:
            r.read(1)
        return None
    except urllib.error.HTTPError as e:
        return None if e.code < 500 and e.code != 403 else f"{url} answers HTTP {e.code}"
    except (urllib.error.URLError, OSError) as e:
        reason = getattr(e, "reason", e)
        return f"{url} is unreachable ({reason})"


@dataclass
class LockResult:
    lock: StageLock
    ok: bool
    message: str


def _pins(path: Path, skip: tuple[str, ...] = ()) -> str:
    """A lock file reduced to name==version lines (uv takes constraints without hashes), without the
    packages named in skip (the stage above overrides them)."""
    lines = []
    for line in path.read_text().splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-\[\]]+==[^\s\\;]+)", line)
        name = match.group(1).split("==")[0].split("[")[0] if match else ""
        if match and name.lower() not in {s.lower() for s in skip}:
            pin = re.sub(r"\[[^\]]*\]", "", match.group(1))  # a constraint takes no extras
            if pin not in lines:
                lines.append(pin)
    return "\n".join(lines) + "\n"


def _plain_pins(text: str) -> str:
    """The lock with each `name[extras]==version` entry also pinned as plain `name==version` (same hashes), so that
    pip 23's --require-hashes finds a pin for the requirements that name it with and without its extras."""
    entry = re.compile(r"(?m)^([A-Za-z0-9_.\-]+)\[[^\]]*\](==\S+ \\\n(?:[ \t]+--hash=\S+(?: \\)?\n)+)")
    plain = {m.group(1).lower() for m in re.finditer(r"(?m)^([A-Za-z0-9_.\-]+)==", text)}
    extra = "".join(f"{m.group(1)}{m.group(2)}" for m in entry.finditer(text) if m.group(1).lower() not in plain)
    return text + extra


def compile_lock(lm: LoadedMatrix, lock: StageLock, reachable: dict[str, str | None]) -> LockResult:
    """Compile one stage's lock (its lower stage must be locked first)."""
    device = lm.matrix.devices[lock.device]
    if lock.below is not None and not is_locked(lm, lock.below):
        return LockResult(lock, False, f"not locked: the stage below ({lock.below.src}) is not locked")
    index = lock.index_url or PYPI
    if index not in reachable:
        reachable[index] = index_reachable(index)
    if reachable[index]:
        return LockResult(lock, False, f"not locked: {reachable[index]}; it builds from the matrix's exact pins")
    out = lock_path(lm, lock)
    with tempfile.TemporaryDirectory(prefix="mlperfctl-lock-") as tmp:
        req = Path(tmp, "requirements.in")
        req.write_text("".join(f"{n}=={v}\n" for n, v in lock.packages))
        # --no-strip-extras: a dependency asked for with extras (vllm's nvidia-cutlass-dsl[cu13]) is written with
        # them, and _plain_pins adds it without: pip's --require-hashes takes either form, when missing, for an
        # unpinned requirement and refuses the lock
        cmd = [_uv(), "pip", "compile", "--quiet", "--generate-hashes", "--no-header", "--native-tls",
               "--no-strip-extras", "--python-version", device.python, "--python-platform", device.platform,
               "--index-strategy", "first-index", "--index-url", index, str(req), "-o", str(Path(tmp, "out.txt"))]
        if lock.index_url:
            cmd[cmd.index("--index-url") + 2:cmd.index("--index-url") + 2] = ["--extra-index-url", PYPI]
        if lock.below is not None:
            constraints = Path(tmp, "constraints.txt")
            constraints.write_text(_pins(lock_path(lm, lock.below), lock.overrides))
            cmd += ["--constraint", str(constraints)]
        env = {**os.environ, "UV_NO_PROGRESS": "1"}
        r = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if r.returncode != 0:
            lines = [ln.strip() for ln in r.stderr.splitlines() if ln.strip()]
            picked = [ln.removeprefix("╰─▶").strip() for ln in lines
                      if ln.startswith(("error:", "╰─▶", "×")) or ln.startswith("cause:")][:3]
            why = "; ".join(picked) if picked else (lines or ["uv failed"])[-1]
            return LockResult(lock, False, f"not locked: {why}")
        text = Path(tmp, "out.txt").read_text()
    header = (f"# {lock.src}: the {lock.stage} stage of {lock.device} cells, written by `mlperfctl lock`.\n"
              f"# Python {device.python} on {device.platform}"
              + (f", constrained by {lock.below.src}" if lock.below else "") + ". Do not edit.\n")
    text = header + _plain_pins(re.sub(r"(?m)^\s*# via .*\n|^    # .*\n", "", text))
    out.parent.mkdir(parents=True, exist_ok=True)
    changed = not out.exists() or out.read_text() != text
    if changed:
        out.write_text(text)
    return LockResult(lock, True, "written" if changed else "unchanged")


def lock_cells(lm: LoadedMatrix, cells: list[Cell], progress=None) -> list[LockResult]:
    """Compile every distinct stage lock of the cells, lower stages first. With another LoadGen than the
    matrix's (lm.with_loadgen) only the runtime stage has a lock of its own: the others are the matrix's."""
    unique: dict[str, StageLock] = {}
    for cell in cells:
        for lock in stage_locks(lm, cell).values():
            if lm.default_loadgen or lock.stage == "runtime":
                unique.setdefault(lock.src, lock)
    order = {"runtime": 0, "framework": 1, "implementation": 2}
    results, reachable = [], {}
    for lock in sorted(unique.values(), key=lambda s: (order[s.stage], s.src)):
        result = compile_lock(lm, lock, reachable)
        if progress:
            progress(result)
        results.append(result)
    return results
