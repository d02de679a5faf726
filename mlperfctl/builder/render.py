"""Render a cell's layered Dockerfile from templates/Dockerfile.j2 and write images/<cell>/."""

from __future__ import annotations

import re
from pathlib import Path

import jinja2

from .. import __version__
from ..matrix import Cell, LoadedMatrix
from ..matrix import runtime_packages as runtime_pins
from . import wheels
from .lock import is_locked, stage_locks

LABEL_PREFIX = "io.mlperfctl"
SOURCE_URL = "https://github.com/mlperfctl/mlperfctl"


def stage_context(lm: LoadedMatrix, cell: Cell, bases: dict[str, str] | None = None, *,
                  buildkit: bool = True, ca_in_image: bool = False, wheel_dirs: list[Path] = ()) -> dict:
    """What each stage renders from. A stage sees only the keys that define it.

    `buildkit` renders cache and secret mounts (the classic builder has neither);
    `ca_in_image` installs the build's CA certificates into the image (off by default);
    `wheel_dirs` offers local wheels to the stages without a hashed lock."""
    m = lm.matrix
    device, impl = m.devices[cell.device], m.implementations[cell.implementation]
    install = m.backends[cell.backend].install[cell.device]
    model = m.models[cell.model]
    base = (bases or {}).get(cell.device) or impl.bases.get(cell.device) or device.base
    runtime_packages = runtime_pins(m, cell.device, lm.loadgen)
    impl_packages = install.model_packages(model.packages)
    framework_packages = {**install.packages, **install.overrides}
    locks = {stage: (lock if is_locked(lm, lock) else None) for stage, lock in stage_locks(lm, cell).items()}

    def local(stage: str, packages: dict[str, str]) -> list[wheels.Wheel]:
        if locks.get(stage) or not wheel_dirs:
            return []
        found = wheels.matching(wheel_dirs, packages, device.python, device.platform)
        # a CPU build (torch-2.13.0+cpu) meets the pin 2.13.0 but is no GPU device's framework
        return [w for w in found if cell.device == "cpu" or not w.version.endswith("+cpu")]

    return {
        "cell": cell,
        "buildkit": buildkit,
        "ca_in_image": ca_in_image,
        "source_date_epoch": m.build.source_date_epoch,
        "device": {"name": cell.device, "base": base, "apt": device.apt, "env": device.env},
        "runtime": {"loadgen": lm.loadgen, "packages": runtime_packages, "lock": locks["runtime"],
                    "wheels": local("runtime", runtime_packages)},
        "framework": {"backend": cell.backend, "packages": framework_packages,
                      "index_url": install.index_url, "lock": locks["framework"],
                      "wheels": local("framework", framework_packages), "remove": install.remove,
                      "apt": install.apt},
        "impl": {"name": cell.implementation, "kind": impl.kind, "packages": impl_packages,
                 "lock": locks.get("implementation"), "wheels": local("implementation", impl_packages),
                 "install": impl.install, "run": impl.run},
        "labels": labels(lm, cell, base),
    }


def labels(lm: LoadedMatrix, cell: Cell, base: str) -> dict[str, str]:
    """OCI labels plus the cell's keys; rendered last so they never break the layer cache."""
    m = lm.matrix
    out = {
        "org.opencontainers.image.title": f"mlperfctl {cell.id}",
        "org.opencontainers.image.description":
            f"MLPerf Inference {m.round}: {cell.model} on {cell.backend}/{cell.device} "
            f"({cell.implementation})",
        "org.opencontainers.image.source": SOURCE_URL,
        "org.opencontainers.image.version": __version__,
        "org.opencontainers.image.licenses": "Apache-2.0",
        "org.opencontainers.image.base.name": base,
        f"{LABEL_PREFIX}.cell": cell.id,
        f"{LABEL_PREFIX}.round": m.round,
        f"{LABEL_PREFIX}.loadgen": lm.loadgen,
    }
    out.update({f"{LABEL_PREFIX}.{k}": v for k, v in cell.keys().items()})
    impl = m.implementations[cell.implementation]
    if impl.kind == "external":
        out[f"{LABEL_PREFIX}.run"] = impl.run
        out[f"{LABEL_PREFIX}.source"] = f"{impl.repo}@{impl.ref}"
    return out


def _shell_word(text: str) -> str:
    """Single-quote a word that the shell would otherwise expand (e.g. an apt glob pin)."""
    return text if re.fullmatch(r"[\w.+=~:@/-]+", text) else "'" + text.replace("'", "'\\''") + "'"


def _dockerfile_string(text: str) -> str:
    """A double-quoted Dockerfile LABEL/ENV value."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("$", "\\$") + '"'


def _environment(root: Path) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(root / "templates"),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters.update(shell_word=_shell_word, dockerfile_string=_dockerfile_string)
    return env


def render(lm: LoadedMatrix, cell: Cell, bases: dict[str, str] | None = None, *,
           buildkit: bool = True, ca_in_image: bool = False, wheel_dirs: list[Path] = ()) -> str:
    """The Dockerfile text for one cell."""
    return render_context(lm, stage_context(lm, cell, bases, buildkit=buildkit, ca_in_image=ca_in_image,
                                            wheel_dirs=wheel_dirs))


def render_context(lm: LoadedMatrix, context: dict) -> str:
    """The Dockerfile text from a stage_context()."""
    template = _environment(lm.root).get_template("Dockerfile.j2")
    return template.render(**context).rstrip("\n") + "\n"


def write(lm: LoadedMatrix, cells: list[Cell], out_dir: Path,
          bases: dict[str, str] | None = None) -> list[Path]:
    """Render each cell to out_dir/<cell>/Dockerfile; files whose text is unchanged are left alone."""
    written = []
    for cell in cells:
        path = out_dir / cell.id / "Dockerfile"
        text = render(lm, cell, bases)
        if not path.exists() or path.read_text() != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
        written.append(path)
    return written
