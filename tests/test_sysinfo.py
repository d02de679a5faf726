"""The host probe: parsers on sample tool output, a fake host, overrides and validation."""

import dataclasses
import json

import pytest

from mlperfctl.errors import UserError
from mlperfctl.submission import sysinfo

NVIDIA = """NVIDIA H100 80GB HBM3, 81559, 1980, 5, 16
NVIDIA H100 80GB HBM3, 81559, 1980, 5, 16
"""
ROCM = json.dumps({
    "card0": {"Card Series": "AMD Instinct MI300X", "Card Model": "0x74a1",
              "VRAM Total Memory (B)": "206141652992"},
    "card1": {"Card Series": "AMD Instinct MI300X", "VRAM Total Memory (B)": "206141652992"},
    "system": {"Driver version": "6.8.5"},
})
CPUINFO = "".join(
    f"processor\t: {i}\nmodel name\t: AMD EPYC  9575F 64-Core Processor\nphysical id\t: {i // 4}\n"
    f"cpu cores\t: 4\n\n" for i in range(8))
MEMINFO = "MemTotal:       16314524 kB\nMemFree:         1000000 kB\n"
OS_RELEASE = 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\n'


def test_nvidia_smi_parser():
    gpus = sysinfo.parse_nvidia_smi(NVIDIA)
    assert len(gpus) == 2
    assert gpus[0] == {"name": "NVIDIA H100 80GB HBM3", "memory_bytes": 81559 * 1024 ** 2,
                       "max_clock_mhz": 1980, "pcie_gen": 5, "pcie_width": 16}
    assert sysinfo.parse_nvidia_smi("\n") == []


def test_rocm_smi_parser():
    gpus = sysinfo.parse_rocm_smi(ROCM)
    assert [g["name"] for g in gpus] == ["AMD Instinct MI300X"] * 2  # "system" is not a card
    assert gpus[0]["memory_bytes"] == 206141652992
    assert sysinfo.parse_rocm_smi("not json") == []


def test_cpu_memory_os_parsers():
    assert sysinfo.parse_cpuinfo(CPUINFO) == {"model": "AMD EPYC 9575F 64-Core Processor", "sockets": 2,
                                              "cores_per_socket": 4}
    assert sysinfo.parse_meminfo(MEMINFO) == 16314524 * 1024
    assert sysinfo.parse_os_release(OS_RELEASE) == "Debian GNU/Linux 12 (bookworm)"
    assert sysinfo.human_bytes(16314524 * 1024) == "16 GB"


@pytest.fixture
def fake_root(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "etc").mkdir()
    (tmp_path / "proc" / "cpuinfo").write_text(CPUINFO)
    (tmp_path / "proc" / "meminfo").write_text(MEMINFO)
    (tmp_path / "etc" / "os-release").write_text(OS_RELEASE)
    return tmp_path


def test_probe_with_nvidia_gpus(fake_root):
    run = lambda argv: NVIDIA if argv[0] == "nvidia-smi" else None  # noqa: E731
    facts = sysinfo.probe_host(fake_root, root=fake_root, run=run)
    assert facts["accelerators_per_node"] == "2"
    assert facts["accelerator_model_name"] == "NVIDIA H100 80GB HBM3"
    assert facts["accelerator_memory_capacity"] == "80 GB"
    assert facts["accelerator_host_interconnect"] == "PCIe Gen5 x16"
    assert facts["host_processors_per_node"] == "2" and facts["host_processor_core_count"] == "4"
    assert facts["operating_system"] == "Debian GNU/Linux 12 (bookworm)"


def test_probe_with_rocm_then_cpu_only(fake_root):
    rocm = sysinfo.probe_host(fake_root, root=fake_root,
                              run=lambda argv: ROCM if argv[0] == "rocm-smi" else None)
    assert rocm["accelerators_per_node"] == "2" and rocm["accelerator_model_name"] == "AMD Instinct MI300X"
    cpu = sysinfo.probe_host(fake_root, root=fake_root, run=lambda argv: None)
    assert cpu["accelerators_per_node"] == "0" and cpu["accelerator_model_name"] == "N/A"


def describe(fake_root, **kw):
    probed = sysinfo.probe_host(fake_root, root=fake_root, run=lambda argv: None)
    return sysinfo.system_description(division="open", submitter="acme", system_name="box_cpu",
                                      probed=probed, **kw)


def test_description_has_every_field_and_overrides_win(fake_root):
    desc = describe(fake_root, framework="onnxruntime 1.32.0",
                    overrides={"cooling": "air", "host_memory_configuration": "2x 8GB DDR5", "number_of_nodes": 1})
    assert list(desc) == list(sysinfo.SYSTEM_FIELDS) and len(desc) == 35
    assert desc["cooling"] == "air" and desc["number_of_nodes"] == "1"
    assert desc["framework"] == "onnxruntime 1.32.0"
    assert all(desc[k] for k in sysinfo.SYSTEM_FIELDS if k not in sysinfo.MAY_BE_EMPTY)
    assert sysinfo.validate_system(desc, division="open", submitter="ACME") == []


def test_unknown_override_names_valid_keys(fake_root):
    with pytest.raises(UserError, match=r"unknown field\(s\) colling .*choose: .*cooling"):
        describe(fake_root, overrides={"colling": "air"})


@pytest.mark.parametrize("override, message", [
    ({"status": "soon"}, "status 'soon' is invalid"),
    ({"system_type": "laptop"}, "system_type 'laptop' is invalid"),
    ({"accelerators_per_node": "two"}, "accelerators_per_node must be an integer"),
    ({"cooling": " "}, "field cooling is empty"),
])
def test_invalid_values_are_refused(fake_root, override, message):
    with pytest.raises(UserError, match=message):
        describe(fake_root, overrides=override)


def test_load_overrides(tmp_path):
    assert sysinfo.load_overrides(None) == {}
    good = tmp_path / "s.json"
    good.write_text('{"cooling": "liquid"}')
    assert sysinfo.load_overrides(good) == {"cooling": "liquid"}
    bad = tmp_path / "list.json"
    bad.write_text("[1]")
    with pytest.raises(UserError, match="expected a JSON object"):
        sysinfo.load_overrides(bad)


def test_default_system_name_is_directory_safe():
    name = sysinfo.default_system_name("cuda")
    assert name.endswith("_cuda") and " " not in name and "." not in name and "/" not in name


def test_default_system_names_of_two_backends_differ():
    """Two backends on one host are two systems (the framework is in the description): distinct default names."""
    onnx, torch = sysinfo.default_system_name("cpu", "onnxruntime"), sysinfo.default_system_name("cpu", "pytorch")
    assert onnx != torch and onnx.endswith("_cpu_onnxruntime") and torch.endswith("_cpu_pytorch")


def _tree_with_system(tmp_path, name, **fields):
    from mlperfctl.options import RunOptions

    opts = RunOptions(model="resnet50", device="cpu", submission_dir=tmp_path / "sub", system_name=name)
    desc = sysinfo.system_description(division=opts.division, submitter=opts.submitter, system_name=name,
                                      category="edge", device="cpu", framework="onnxruntime 1.22.0",
                                      path=tmp_path, overrides=fields)
    path = tmp_path / "sub" / opts.division / opts.submitter / "systems" / f"{name}.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(desc))
    return opts, path


@pytest.mark.parametrize("change,differs", [
    ({"cell": "python-pytorch-cpu-resnet50"}, "framework 'onnxruntime 1.22.0' (this run: pytorch)"),
    ({"cell": "python-onnxruntime-cuda-resnet50"},
     "other_software_stack 'mlperfctl container (cpu)' (this run: 'mlperfctl container (cuda)')"),
    ({"category": "datacenter,edge"}, "system_type 'edge' (this run: 'datacenter,edge')"),
])
def test_another_system_under_the_same_name_is_refused(loaded, tmp_path, change, differs):
    opts, path = _tree_with_system(tmp_path, "box")
    cell = loaded.parse_cell(change.pop("cell", "python-onnxruntime-cpu-resnet50"))
    opts = dataclasses.replace(opts, **change)
    with pytest.raises(UserError) as e:
        sysinfo.refuse_system_clash(opts, cell, "box")
    assert str(e.value) == (f"{path} already describes system box differently: {differs}; its results are that "
                            f"system's, so pass another --system-name for this run (or remove that system)")
    assert "\n" not in str(e.value)
    with pytest.raises(UserError):  # --force replaces results, not the system they were measured on
        sysinfo.refuse_system_clash(dataclasses.replace(opts, force=True), cell, "box")


def test_the_same_system_again_is_no_clash(loaded, tmp_path):
    """A rerun of the same cell (or a resumed --submission) writes the same description: no refusal; nor without
    a tree, nor under another name."""
    opts, _ = _tree_with_system(tmp_path, "box")
    same = loaded.parse_cell("python-onnxruntime-cpu-resnet50")
    sysinfo.refuse_system_clash(opts, same, "box")
    sysinfo.refuse_system_clash(opts, loaded.parse_cell("python-pytorch-cpu-resnet50"), "other")
    sysinfo.refuse_system_clash(dataclasses.replace(opts, submission_dir=tmp_path / "none"), same, "box")
