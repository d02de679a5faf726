"""The container engine CI sets up is real: run the locally made Debian base (under the selected engine)."""

import json
import subprocess

import pytest

from mlperfctl.engines.base import ContainerSpec

pytestmark = pytest.mark.engine


def test_engine_runs_local_base(engine, local_base):
    spec = ContainerSpec(image=local_base, argv=("bash", "-c", "cat /etc/debian_version; id -u"), user="65534:65534")
    version, uid = engine.output(spec).split()
    assert version.startswith("12.")
    assert uid == "65534"


def test_local_base_is_bookworm_minbase(engine, engine_name, local_base):
    # the image's command, as the engine's own CLI reports it (docker and podman take the same format)
    cmd = subprocess.run([engine_name, "image", "inspect", "--format", "{{json .Config.Cmd}}", local_base],
                         capture_output=True, text=True, check=True).stdout
    assert json.loads(cmd) == ["/bin/bash"]
    spec = ContainerSpec(image=local_base, argv=("bash", "-c", ". /etc/os-release; echo $VERSION_CODENAME"))
    out = engine.output(spec)
    assert out.strip() == "bookworm"
