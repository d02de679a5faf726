"""Every option of `build` and `run`, resolved once, here, in one precedence order:

    defaults  <  matrix.yaml (`build:`)  <  environment (MLPERFCTL_*)  <  command-line flags

into frozen dataclasses that the rest of the code only reads. Nothing else reads the
environment for these settings.

| setting            | matrix.yaml           | environment                         | flag              |
| ------------------ | --------------------- | ----------------------------------- | ----------------- |
| base images        |                       | MLPERFCTL_BASE_IMAGE (cpu=IMG,...)  | --base-image      |
| extra CA certs     | build.ca_certs (+)    | MLPERFCTL_CA_CERT (':'-separated)   | --ca-cert         |
| registry           | build.registry        | MLPERFCTL_REGISTRY                  | --registry        |
| engine             |                       | MLPERFCTL_ENGINE                    | --engine          |
| engine socket      |                       | MLPERFCTL_ENGINE_URL                | --engine-url      |
| builder            |                       | MLPERFCTL_BUILDER                   | --builder         |
| wheel folders      |                       | MLPERFCTL_WHEEL_DIR (':'-separated) | --wheel-dir       |
| run cache folder   |                       | XDG_CACHE_HOME (+ mlperfctl/...)    | --cache-dir       |

Base images merge per device (a flag for cpu keeps the environment's rocm). The matrix's CA
certificates are a site setting and always apply (+); the environment's list or the flags'
list adds to them, the flags' list replacing the environment's.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import mlperf_rules

from .errors import UserError, choices
from .matrix import LoadedMatrix

BUILDERS = ("auto", "buildkit", "classic")


@dataclass(frozen=True)
class BuildOptions:
    """How images are built, pushed and pulled."""

    bases: Mapping[str, str] = field(default_factory=dict)   # device -> base image override
    ca_certs: tuple[Path, ...] = ()                          # extra PEM CAs, build time only
    ca_in_image: bool = False                                # also install them in the image
    wheel_dirs: tuple[Path, ...] = ()                        # local wheels for unlocked stages
    registry: str | None = None                              # prefix for push/pull
    no_cache: bool = False
    push: bool = False
    continue_on_error: bool = False
    engine: str = "auto"                                     # auto or a name in mlperfctl.engines.ENGINES
    engine_url: str | None = None                            # None: the engine's own default
    builder: str = "auto"                                    # auto | buildkit | classic
    log_dir: Path = Path("out/build-logs")
    pull_bases: bool = True                                  # pull a missing base image
    quiet: bool = False                                      # no live progress


@dataclass(frozen=True)
class RunOptions:
    """Everything `mlperfctl run` was asked for."""

    model: str
    scenario: str = "Offline"
    mode: str = "all"
    execution_mode: str = "test"
    implementation: str | None = None
    backend: str | None = None
    device: str | None = None
    precision: str | None = None
    dataset_dir: Path | None = None
    model_path: Path | None = None
    submission_dir: Path = Path("mlperf-submission")
    division: str = "open"
    category: str = "edge"
    submitter: str = "mlperfctl"
    system_name: str | None = None
    version: str | None = None                   # --version as asked (None: the model's default round); see .round
    target_qps: float | None = None              # Offline, Server, Interactive, unless a per-scenario one is given
    target_latency: float | None = None          # SingleStream and MultiStream (ms), likewise
    offline_target_qps: float | None = None
    server_target_qps: float | None = None
    interactive_target_qps: float | None = None
    singlestream_target_latency: float | None = None
    multistream_target_latency: float | None = None
    performance_sample_count: int | None = None
    test_query_count: int | None = None
    threads: int | None = None
    batch_size: int | None = None
    tensor_parallel: int | None = None           # vllm: GPUs the model is split over (None: every GPU given)
    count: int | None = None
    gpus: int | None = None                      # GPUs per run for cuda/rocm cells (None: all the host has)
    force: bool = False
    find_performance: bool = False
    system_json: Path | None = None
    cache_dir: Path = Path.home() / ".cache" / "mlperfctl" / "preprocessed"
    command_line: tuple[str, ...] = field(default_factory=lambda: tuple(sys.argv))
    # the round, resolved once from --version (None: the model's default) and passed everywhere as this value
    round: mlperf_rules.RoundChoice = field(init=False, repr=False, compare=False)

    def __post_init__(self):
        object.__setattr__(self, "round", resolve_round(self.version, self.model))


def _paths(value: str | None) -> tuple[Path, ...]:
    return tuple(Path(p) for p in (value or "").split(os.pathsep) if p)


def parse_bases(lm: LoadedMatrix | None, values, what: str = "--base-image") -> dict[str, str]:
    """`DEVICE=IMAGE` items into {device: image}, checking the device names (against lm's)."""
    bases = {}
    devices = lm.matrix.names("device") if lm else None
    for item in values or []:
        device, sep, image = item.partition("=")
        if not sep or not image.strip():
            raise UserError(f"{what} '{item}' must be DEVICE=IMAGE, e.g. cpu=debian:bookworm-slim")
        if devices is not None and device not in devices:
            raise UserError(f"{what}: unknown device '{device}' {choices(devices)}")
        bases[device] = image.strip()
    return bases


def build_options(lm: LoadedMatrix | None, environ: Mapping[str, str] | None = None, **flags) -> BuildOptions:
    """BuildOptions from the defaults, the matrix, the environment and the flags (None: not given).
    Flags: base_image (DEVICE=IMAGE list), ca_cert, wheel_dir (path lists), registry, engine_url,
    builder, and any BuildOptions field by name. Without a matrix (`load`, `base bootstrap`) its
    layer is skipped."""
    env = os.environ if environ is None else environ
    known = {f.name for f in fields(BuildOptions)} | {"base_image", "ca_cert", "wheel_dir"}
    unknown = set(flags) - known
    if unknown:
        raise TypeError(f"unknown build option(s): {', '.join(sorted(unknown))}")
    # matrix
    values: dict = {"registry": lm.matrix.build.registry} if lm else {}
    matrix_certs = tuple(lm.root / p for p in lm.matrix.build.ca_certs) if lm else ()
    # environment
    env_bases = parse_bases(lm, [p for p in re.split(r"[,\s]+", env.get("MLPERFCTL_BASE_IMAGE", "")) if p],
                            "MLPERFCTL_BASE_IMAGE")
    certs = _paths(env.get("MLPERFCTL_CA_CERT"))
    wheel_dirs = _paths(env.get("MLPERFCTL_WHEEL_DIR"))
    for key, var in (("registry", "MLPERFCTL_REGISTRY"), ("engine", "MLPERFCTL_ENGINE"),
                     ("engine_url", "MLPERFCTL_ENGINE_URL"), ("builder", "MLPERFCTL_BUILDER")):
        if env.get(var):
            values[key] = env[var]
    # flags
    bases = {**env_bases, **parse_bases(lm, flags.pop("base_image", None))}
    certs = tuple(Path(p) for p in flags.pop("ca_cert", None) or ()) or certs
    wheel_dirs = tuple(Path(p) for p in flags.pop("wheel_dir", None) or ()) or wheel_dirs
    values.update({k: v for k, v in flags.items() if v is not None})
    for f in ("wheel_dirs", "ca_certs"):
        if f in values:
            values[f] = tuple(Path(p) for p in values[f])
    opts = BuildOptions(**{"bases": bases, "ca_certs": certs + matrix_certs, "wheel_dirs": wheel_dirs, **values})
    from .engines import ENGINES
    if opts.engine not in ("auto", *ENGINES):
        raise UserError(f"unknown engine '{opts.engine}' {choices(['auto', *ENGINES])}")
    if opts.builder not in BUILDERS:
        raise UserError(f"unknown builder '{opts.builder}' {choices(BUILDERS)}")
    for f in opts.ca_certs:
        if not Path(f).is_file():
            raise UserError(f"--ca-cert {f}: no such file (give a PEM certificate)")
    return opts


def run_options(environ: Mapping[str, str] | None = None, **flags) -> RunOptions:
    """RunOptions from the defaults, the environment (the cache folder) and the flags (None: not given)."""
    env = os.environ if environ is None else environ
    values = {k: v for k, v in flags.items() if v is not None}
    if "cache_dir" not in values:
        cache_home = Path(env["XDG_CACHE_HOME"]) if env.get("XDG_CACHE_HOME") else Path.home() / ".cache"
        values["cache_dir"] = cache_home / "mlperfctl" / "preprocessed"
    if "command_line" in values:
        values["command_line"] = tuple(values["command_line"])
    return RunOptions(**values)


def resolve_round(version: str | None, model: str | None = None) -> mlperf_rules.RoundChoice:
    """The one place mlperfctl turns a round's name into the round (mlperf_rules.resolve): the submission round
    (tree layout, seeds, checker), the rules round (gptj-99 under v6.1: v5.0) and the LoadGen pin. `version`
    None: the newest round in which the model is a closed benchmark (rnnt: v4.0), else the latest, built with
    matrix.yaml's LoadGen. An unknown round is one line naming the choices."""
    try:
        return mlperf_rules.resolve(version, model)
    except KeyError as e:
        raise UserError(f"--version: {e.args[0]}") from None
