"""demo-data: deterministic, reference-shaped model files and an official-format val_map.txt."""

import hashlib

import onnx
import pytest

from mlperf_harness.workloads.imagenet.demo import onnx_model, weights

from .conftest import DEMO_IMAGES, harness


def test_same_seed_same_onnx_bytes(demo):
    """The session's CLI-made file equals an in-process build from the same seed; another seed differs."""
    on_disk = (demo / "models/resnet50_v1.onnx").read_bytes()
    rebuilt = onnx_model.build(weights.resnet50_params(7)).SerializeToString()
    assert hashlib.sha256(on_disk).digest() == hashlib.sha256(rebuilt).digest()
    other = onnx_model.build(weights.resnet50_params(8)).SerializeToString()
    assert other != on_disk and len(other) == len(on_disk)


def test_onnx_is_shaped_like_the_reference(demo):
    model = onnx.load(demo / "models/resnet50_v1.onnx")
    (inp,) = model.graph.input
    dims = [d.dim_param or d.dim_value for d in inp.type.tensor_type.shape.dim]
    assert inp.name == "input_tensor:0" and dims == ["N", 3, 224, 224]
    outs = {o.name: o.type.tensor_type for o in model.graph.output}
    assert outs["ArgMax:0"].elem_type == onnx.TensorProto.INT64
    assert [d.dim_value for d in outs["softmax_tensor:0"].shape.dim][1] == 1001
    assert sum(n.op_type == "Conv" for n in model.graph.node) == 53  # 1 stem + 16 blocks x 3 + 4 downsample
    params = sum(int(onnx.numpy_helper.to_array(t).size) for t in model.graph.initializer)
    assert 25_000_000 < params < 26_000_000


def test_pth_is_a_torchvision_state_dict(demo):
    torch = pytest.importorskip("torch", reason="torch is not installed in this environment")
    state = torch.load(demo / "models/resnet50-19c8e357.pth", weights_only=True)
    assert state["fc.weight"].shape == (1000, 2048)
    assert state["layer4.0.downsample.1.running_var"].shape == (2048,)
    assert len(state) == 320  # torchvision resnet50().state_dict() has 320 entries


def test_images_and_val_map(demo):
    ds = demo / "datasets/imagenet"
    lines = (ds / "val_map.txt").read_text().splitlines()
    assert len(lines) == DEMO_IMAGES
    assert lines[0].startswith("ILSVRC2012_val_00000001.JPEG ")
    for line in lines:
        name, label = line.split()
        assert (ds / name).is_file() and 0 <= int(label) < 1000
    import cv2

    shapes = {cv2.imread(str(ds / line.split()[0])).shape for line in lines}
    assert len(shapes) > 1, "sizes should vary"


def test_default_writes_no_frozen_graph(demo):
    """The ~100 MB TensorFlow .pb is written only for `--backend tf`, never because tensorflow is importable."""
    assert (demo / "models/resnet50_v1.onnx").is_file()
    assert not (demo / "models/resnet50_v1.pb").exists()


@pytest.mark.parametrize(("model", "backend"), [("efficientnet", "tf"), ("mobilenet", "tensorrt"), ("sdxl", "tf")])
def test_backend_without_a_model_file_is_one_line(tmp_path, model, backend):
    proc = harness("demo-data", tmp_path / "d", "--model", model, "--backend", backend, "--images", 1)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and f"--backend {backend}" in proc.stderr and model in proc.stderr
    assert not (tmp_path / "d").exists()  # refused before anything is written


@pytest.mark.slow
def test_backend_tf_writes_only_the_frozen_graph(tmp_path, need):
    tf = need("tensorflow", "tflite")
    proc = harness("demo-data", tmp_path, "--model", "resnet50", "--backend", "tf", "--images", 2, "--seed", 7)
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["resnet50_v1.pb"]
    graph = tf.compat.v1.GraphDef()
    graph.ParseFromString((tmp_path / "models/resnet50_v1.pb").read_bytes())
    assert {"input_tensor", "softmax_tensor"} <= {n.name for n in graph.node}
