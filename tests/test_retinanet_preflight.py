"""`mlperfctl run --model retinanet` on the host, before any container: the plan (cells, precision, the v6.0
round), and the dataset check the workload declares (annotations file, images it names)."""

import dataclasses
import json

import pytest

import mlperf_rules
from mlperfctl.errors import UserError
from mlperfctl.options import RunOptions
from mlperfctl.run import plan as run_plan
from mlperfctl.run import preflight


def opts(**kw) -> RunOptions:
    kw.setdefault("model", "retinanet")
    kw.setdefault("device", "cpu")
    return RunOptions(**kw)


@pytest.fixture
def data(tmp_path):
    """A two-image OpenImages layout with tiny stand-in files (the host only checks that they exist)."""
    ds = tmp_path / "openimages"
    (ds / "validation" / "data").mkdir(parents=True)
    (ds / "annotations").mkdir()
    images = [{"id": i, "file_name": f"{i:016x}.jpg", "height": 10, "width": 10} for i in range(2)]
    for img in images:
        (ds / "validation" / "data" / img["file_name"]).write_bytes(b"\xff\xd8")
    doc = {"images": images, "annotations": [], "categories": [{"id": 0, "name": "a"}]}
    (ds / "annotations" / "openimages-mlperf.json").write_text(json.dumps(doc))
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnext50_32x4d_fpn.onnx").write_bytes(b"onnx")
    (tmp_path / "models" / "retinanet_model_10.pth").write_bytes(b"PK\x03\x04")
    return tmp_path


def test_plan_picks_onnxruntime_fp32_and_accepts_the_v6_0_round(loaded):
    version = mlperf_rules.rules_round("retinanet").version
    assert version == "v6.0"
    p = run_plan.plan(loaded, opts(version=version))
    assert p.cell.id == "python-onnxruntime-cpu-retinanet" and p.precision == "fp32"
    assert p.model_file == "resnext50_32x4d_fpn.onnx"
    assert run_plan.plan(loaded, opts(backend="pytorch")).model_file == "retinanet_model_10.pth"
    assert not loaded.select({"model": ["retinanet"], "implementation": ["python"], "backend": ["tensorrt"]})
    with pytest.raises(UserError, match=r"precision.*'int8'"):
        run_plan.plan(loaded, opts(precision="int8"))


def test_preflight_passes(loaded, data):
    o = opts(dataset_dir=data / "openimages", model_path=data / "models", count=2)
    assert preflight.preflight(loaded, run_plan.plan(loaded, o), o, set()).name == "resnext50_32x4d_fpn.onnx"


@pytest.mark.parametrize("case", ["no annotations", "image missing", "bad json", "count too large"])
def test_preflight_refuses_a_broken_dataset_in_one_line(loaded, data, case):
    ds = data / "openimages"
    ann = ds / "annotations" / "openimages-mlperf.json"
    o = opts(dataset_dir=ds, model_path=data / "models")
    if case == "no annotations":
        ann.unlink()
        needle = "lacks annotations/openimages-mlperf.json"
    elif case == "image missing":
        (ds / "validation" / "data" / f"{1:016x}.jpg").unlink()
        needle = f"{ds / 'validation' / 'data' / f'{1:016x}.jpg'} is missing (1 of 2 images named in {ann}"
    elif case == "bad json":
        ann.write_text("{")
        needle = f"{ann} is not valid JSON"
    else:
        o = dataclasses.replace(o, count=3)
        needle = "--count 3 is outside 1..2"
    with pytest.raises(UserError) as e:
        preflight.preflight(loaded, run_plan.plan(loaded, o), o, set())
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_only_the_counted_images_must_exist(loaded, data):
    (data / "openimages" / "validation" / "data" / f"{1:016x}.jpg").unlink()
    o = opts(dataset_dir=data / "openimages", model_path=data / "models", count=1)
    preflight.preflight(loaded, run_plan.plan(loaded, o), o, set())
