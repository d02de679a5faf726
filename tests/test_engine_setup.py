"""The container engine CI sets up is real: run the locally made Debian base."""

import pytest

pytestmark = pytest.mark.engine


def test_docker_run_local_base(docker_client, local_base):
    output = docker_client.containers.run(
        local_base, ["bash", "-c", "cat /etc/debian_version; id -u"], remove=True,
        network_mode="none", user="65534:65534")
    version, uid = output.decode().split()
    assert version.startswith("12.")
    assert uid == "65534"


def test_local_base_is_bookworm_minbase(docker_client, local_base):
    image = docker_client.images.get(local_base)
    assert image.attrs["Config"]["Cmd"] == ["/bin/bash"]
    out = docker_client.containers.run(local_base, ["bash", "-c", ". /etc/os-release; echo $VERSION_CODENAME"],
                                       remove=True, network_mode="none")
    assert out.decode().strip() == "bookworm"
