"""Demo data for retinanet (seeded random weights in the reference's two file formats, synthetic images with
matching annotations) and the runners on it: ONNX and PyTorch agree, wrong model files are one-line errors."""

import json

import cv2
import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.retinanet import accuracy, backends, dataset, demo
from mlperf_harness.workloads.retinanet.backends import response

IMAGES = 2


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("retinanet-demo")
    demo.write(root, IMAGES, seed=4)
    return root


def test_layout_and_annotations(demo_dir):
    assert (demo_dir / "models/resnext50_32x4d_fpn.onnx").is_file()
    assert (demo_dir / "models/retinanet_model_10.pth").is_file()
    ds = demo_dir / "datasets/openimages"
    entries = dataset.read_annotations(ds)
    assert len(entries) == IMAGES and all(e.path.parent == ds / "validation/data" for e in entries)
    doc = json.loads((ds / "annotations/openimages-mlperf.json").read_text())
    assert [c["id"] for c in doc["categories"]] == list(range(264))
    for img, e in zip(doc["images"], entries, strict=True):
        assert (img["height"], img["width"]) == cv2.imread(str(e.path)).shape[:2]
    for a in doc["annotations"]:
        img = doc["images"][a["image_id"]]
        x, y, w, h = a["bbox"]
        assert 0 <= x and x + w <= img["width"] and 0 <= y and y + h <= img["height"] and 0 <= a["category_id"] < 264


def test_onnx_model_has_the_reference_interface(demo_dir):
    m = onnx.load(demo_dir / "models/resnext50_32x4d_fpn.onnx", load_external_data=False)
    (inp,) = m.graph.input
    assert inp.name == "images"
    assert [d.dim_value for d in inp.type.tensor_type.shape.dim] == [1, 3, 800, 800]
    outs = {o.name: o.type.tensor_type.elem_type for o in m.graph.output}
    assert outs == {"boxes": TensorProto.FLOAT, "scores": TensorProto.FLOAT, "labels": TensorProto.INT64}
    assert "NonMaxSuppression" in {n.op_type for n in m.graph.node}  # NMS in-graph, as the reference's export


@pytest.mark.slow
def test_onnxruntime_and_pytorch_agree_and_score(demo_dir, tmp_path):
    ds_dir = demo_dir / "datasets/openimages"
    entries = dataset.read_annotations(ds_dir, count=1)
    ds = dataset.Dataset(entries, tmp_path / "cache", threads=2)
    ds.load([0])
    batch = ds.batch([0])
    ort_det = backends.create("onnxruntime", "cpu", demo_dir / "models/resnext50_32x4d_fpn.onnx", 2).predict(batch)
    pt_det = backends.create("pytorch", "cpu", demo_dir / "models/retinanet_model_10.pth", 2).predict(batch)
    (o,), (p,) = ort_det, pt_det
    assert len(o.boxes) == 300 and len(p.boxes) == 300  # random weights still fill the 300 detections
    assert o.boxes.dtype == np.float32 and o.labels.dtype == np.int64 and p.labels.dtype == np.int64
    assert np.all(np.diff(o.scores) <= 0) and o.scores.min() > 0.05
    np.testing.assert_allclose(o.scores, p.scores, atol=1e-5)
    # near-equal scores may swap places between the two runtimes; compare by matching boxes
    same = [
        np.any((p.labels == lab) & (np.abs(p.boxes - box).max(axis=1) < 1e-2))
        for box, lab in zip(o.boxes, o.labels, strict=True)
    ]
    assert np.mean(same) > 0.98
    log = tmp_path / "mlperf_log_accuracy.json"
    log.write_text(json.dumps([{"seq_id": 0, "qsl_idx": 0, "data": response(0, o).tobytes().hex()}]))
    s = accuracy.score(log, ds_dir / "annotations/openimages-mlperf.json")
    assert accuracy.format_line(s).startswith("mAP=") and (s.images, s.detections) == (1, 300)


def one_line(exc_info) -> str:
    msg = str(exc_info.value)
    assert "\n" not in msg
    return msg


def test_onnxruntime_given_the_pth(demo_dir):
    path = demo_dir / "models/retinanet_model_10.pth"
    with pytest.raises(UsageError) as e:
        backends.create("onnxruntime", "cpu", path, 1)
    assert f"{path} is a PyTorch checkpoint, not an ONNX model" in one_line(e)


def test_pytorch_given_the_onnx(demo_dir):
    path = demo_dir / "models/resnext50_32x4d_fpn.onnx"
    with pytest.raises(UsageError) as e:
        backends.create("pytorch", "cpu", path, 1)
    assert f"{path} is not a PyTorch checkpoint (it is an ONNX model)" in one_line(e)


def test_onnxruntime_given_a_classifier(tmp_path):
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Flatten", ["p"], ["y"])],
        "classifier",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 224, 224])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "resnet50_v1.onnx"
    onnx.save(model, path)
    with pytest.raises(UsageError) as e:
        backends.create("onnxruntime", "cpu", path, 1)
    msg = one_line(e)
    assert str(path) in msg and "boxes,scores,labels" in msg


@pytest.mark.parametrize("name", ["onnxruntime", "pytorch"])
def test_missing_model_file(tmp_path, name):
    with pytest.raises(UsageError) as e:
        backends.create(name, "cpu", tmp_path / "nope.bin", 1)
    assert "nope.bin does not exist" in one_line(e)


def test_fp16_is_refused(demo_dir):
    with pytest.raises(UsageError) as e:
        backends.create("onnxruntime", "cpu", demo_dir / "models/resnext50_32x4d_fpn.onnx", 1, "fp16")
    assert "--precision fp16" in one_line(e)
