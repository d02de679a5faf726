"""--wheel-dir: which local wheels a stage takes, how it renders, and that they enter the content hash."""

from pathlib import Path

import pytest

from mlperfctl import matrix as matrix_mod
from mlperfctl.builder import plan as build_plan
from mlperfctl.builder import render, wheels
from mlperfctl.errors import UserError
from mlperfctl.options import BuildOptions
from tests.test_build import make_project
from tests.wheelmaker import make_wheel

CPU = ("3.11", "x86_64-manylinux_2_36")


def names(found):
    return [w.path.name for w in found]


@pytest.mark.parametrize("filename, pin, wanted", [
    ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "2.13.0", True),       # local label admitted
    ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "2.13.0+cpu", True),
    ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "2.13.0+cu128", False),
    ("torch-2.12.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl", "2.13.0", False),      # other version
    ("torch-2.13.0+cpu-cp312-cp312-manylinux_2_28_x86_64.whl", "2.13.0", False),      # other Python
    ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_39_x86_64.whl", "2.13.0", False),      # newer glibc than the base
    ("torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_aarch64.whl", "2.13.0", False),     # other architecture
    ("torch-2.13.0-cp311-cp311-manylinux2014_x86_64.whl", "2.13.0", True),            # legacy manylinux tag
    ("six-1.17.0-py2.py3-none-any.whl", "1.17.0", True),
])
def test_matching_follows_pins_python_and_platform(tmp_path, filename, pin, wanted):
    (tmp_path / filename).write_bytes(b"")
    name = filename.split("-")[0]
    assert bool(wheels.matching([tmp_path], {name: pin}, *CPU)) is wanted


def test_matching_normalises_names_and_rejects_a_missing_dir(tmp_path):
    (tmp_path / "typing_extensions-4.12.2-py3-none-any.whl").write_bytes(b"")
    assert names(wheels.matching([tmp_path], {"Typing-Extensions": "4.12.2"}, *CPU)) == \
        ["typing_extensions-4.12.2-py3-none-any.whl"]
    with pytest.raises(UserError, match="--wheel-dir .*/nowhere: no such directory"):
        wheels.matching([tmp_path / "nowhere"], {"six": "1.17.0"}, *CPU)


def test_rendering_with_a_wheel_dir(loaded, tmp_path):
    (tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    cpu = loaded.parse_cell("python-pytorch-cpu-resnet50")
    plain = render.render(loaded, cpu)
    local = render.render(loaded, cpu, wheel_dirs=[tmp_path])
    framework = local.split("AS framework")[1].split("FROM framework")[0]
    assert "--mount=type=bind,source=wheels,target=/tmp/wheels" in framework
    assert "--find-links /tmp/wheels" in framework and "--index-url" not in framework  # every pin covered
    assert "download.pytorch.org" in plain.split("AS framework")[1].split("FROM framework")[0]
    assert local.split("AS framework")[0] == plain.split("AS framework")[0]  # lower stages unchanged
    cuda = loaded.parse_cell("python-pytorch-cuda-resnet50")
    assert render.render(loaded, cuda, wheel_dirs=[tmp_path]) == render.render(loaded, cuda)


def test_wheel_content_enters_the_stage_hash(tmp_path):
    root = make_project(tmp_path / "p")
    lm = matrix_mod.load(root / "matrix.yaml")
    cell = lm.parse_cell("python-alpha-cpu-toy")

    def framework_hash(**kw):
        p = build_plan.plan(lm, [cell], BuildOptions(**kw))[0]
        return next(s for s in p.stages if s.name == "framework")

    plain = framework_hash()
    make_wheel(tmp_path / "w", "six", "1.17.0", "first")
    first = framework_hash(wheel_dirs=[tmp_path / "w"])
    make_wheel(tmp_path / "w", "six", "1.17.0", "second")
    second = framework_hash(wheel_dirs=[tmp_path / "w"])
    assert len({plain.hash, first.hash, second.hash}) == 3
    assert first.wheels == [Path(tmp_path / "w" / "six-1.17.0-py3-none-any.whl").resolve()]
    assert plain.wheels == [] and "wheels" in first.sources


def test_a_cpu_build_is_never_a_gpu_cells_framework(loaded, tmp_path, monkeypatch):
    """torch-2.13.0+cpu meets the pin torch==2.13.0, but an unlocked cuda stage must not take it."""
    (tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl").write_bytes(b"")
    monkeypatch.setattr(render, "is_locked", lambda lm, lock: False)
    cuda = render.render(loaded, loaded.parse_cell("python-pytorch-cuda-resnet50"), wheel_dirs=[tmp_path])
    assert "/tmp/wheels" not in cuda and "torch==2.13.0" in cuda
    cpu = render.render(loaded, loaded.parse_cell("python-pytorch-cpu-resnet50"), wheel_dirs=[tmp_path])
    assert "--find-links /tmp/wheels" in cpu
