"""`mlperfctl run --model rgat` on the host, before any container: the plan (the pytorch cell, fp32, the v6.1 round,
Offline only) and the IGBH layout check the workload declares, each refusal one line."""

import pytest

import mlperf_rules
from mlperf_harness.workloads.rgat import DATASET_FILES, PROCESSED
from mlperfctl.errors import UserError
from mlperfctl.options import RunOptions
from mlperfctl.run import plan as run_plan
from mlperfctl.run import preflight


def opts(**kw) -> RunOptions:
    kw.setdefault("model", "rgat")
    kw.setdefault("device", "cpu")
    return RunOptions(**kw)


@pytest.fixture
def data(tmp_path):
    """The IGBH layout with stand-in files (the host only checks that they exist)."""
    ds = tmp_path / "igbh" / "full"
    for name in DATASET_FILES:
        (ds / name).parent.mkdir(parents=True, exist_ok=True)
        (ds / name).write_bytes(b"\x93NUMPY")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "RGAT.pt").write_bytes(b"PK\x03\x04")
    return tmp_path


def test_plan_picks_the_pytorch_cell_and_the_v6_1_round(loaded):
    assert mlperf_rules.rules_round("rgat").version == "v6.1"
    p = run_plan.plan(loaded, opts())
    assert p.cell.id == "python-pytorch-cpu-rgat" and p.precision == "fp32" and p.model_file == "RGAT.pt"
    for backend in ("onnxruntime", "tensorrt", "tflite", "tf"):
        assert not loaded.select({"model": ["rgat"], "backend": [backend]})
    with pytest.raises(UserError, match=r"rgat has no Server scenario \(use one of Offline\)"):
        run_plan.plan(loaded, opts(scenario="Server"))


def test_preflight_passes(loaded, data):
    o = opts(dataset_dir=data / "igbh" / "full", model_path=data / "models")
    assert preflight.preflight(loaded, run_plan.plan(loaded, o), o, set()).name == "RGAT.pt"


@pytest.mark.parametrize("case", ["igbh root", "missing label file", "missing checkpoint"])
def test_preflight_refuses_in_one_line(loaded, data, case):
    ds, models = data / "igbh" / "full", data / "models"
    if case == "igbh root":
        ds, needle = data / "igbh", f"{data / 'igbh'} lacks processed"
    elif case == "missing label file":
        (ds / PROCESSED / "paper" / "node_label_2K.npy").unlink()
        needle = "paper/node_label_2K.npy is missing"
    else:
        (models / "RGAT.pt").unlink()
        needle = "RGAT.pt"
    o = opts(dataset_dir=ds, model_path=models)
    with pytest.raises(UserError, match=needle) as e:
        preflight.preflight(loaded, run_plan.plan(loaded, o), o, set())
    assert "\n" not in str(e.value)
