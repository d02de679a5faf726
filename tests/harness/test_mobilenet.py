"""mobilenet and efficientnet (ImageNet classification, open division): their accuracy command, the TFLite-style
preprocessing per variant, the tflite/onnxruntime/tf backends on the demo models and bad model files."""

import json
import os

import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads import get
from mlperf_harness.workloads.imagenet import backends, dataset
from mlperf_harness.workloads.imagenet.demo import images, tflite_models

from .conftest import harness

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def entry(qsl_idx: int, label: int) -> dict:
    return {"seq_id": qsl_idx, "qsl_idx": qsl_idx, "data": np.array([label], np.float32).tobytes().hex().upper()}


@pytest.mark.parametrize("model", ["mobilenet", "efficientnet"])
def test_top1_known_answer(tmp_path, model):
    (tmp_path / "val_map.txt").write_text("".join(f"img{i}.JPEG {label}\n" for i, label in enumerate([3, 1, 4, 1, 5])))
    log = tmp_path / "mlperf_log_accuracy.json"
    # right: 0, 2, 4; wrong: 1 (2 != 1), 3 (0 != 1); index 0 repeated counts once
    log.write_text(json.dumps([entry(0, 3), entry(1, 2), entry(2, 4), entry(3, 0), entry(4, 5), entry(0, 3)]))
    argv = get(model).accuracy_argv(model, str(log), str(tmp_path))
    proc = harness(*argv)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "accuracy=60.000%, good=3, total=5"


@pytest.mark.parametrize(
    ("name", "size", "dtype"),
    [
        ("inception-224-float32", 224, np.float32),
        ("inception-128-uint8", 128, np.uint8),
        ("inception-192-float32", 192, np.float32),
    ]
    + [(f"lite-{s}-float32", s, np.float32) for s in (224, 240, 260, 280, 300)]
    + [("lite-300-uint8", 300, np.uint8)],
)
def test_preprocessing_per_variant(tmp_path, name, size, dtype):
    images.write(tmp_path, 2, seed=3)
    fn, shape, want_dtype = dataset.spec(name)
    assert shape == (size, size, 3) and want_dtype is dtype
    for i in (1, 2):
        x = fn(tmp_path / images.file_name(i))
        assert x.shape == (size, size, 3) and x.dtype == dtype and x.flags.c_contiguous
        if dtype is np.float32:
            assert -1.0 <= x.min() and x.max() <= 1.0 and x.min() < -0.5 < 0.5 < x.max()
        else:
            assert x.max() > 128  # raw pixels


def test_preprocessing_crops_the_centre_87_5_percent(tmp_path):
    # 256x256 image: the 224 crop keeps rows/cols 16..240 (its border band of 16 pixels is cut off)
    import cv2

    img = np.zeros((256, 256, 3), np.uint8)
    img[16:240, 16:240] = 200
    cv2.imwrite(str(tmp_path / "a.png"), img)
    x = dataset.preprocess_nhwc(tmp_path / "a.png", 224, "inception", "uint8")
    assert (x == 200).all()
    y = dataset.preprocess_nhwc(tmp_path / "a.png", 224, "lite", "float32")
    assert np.allclose(y, (200 - 127) / 128)


@pytest.fixture(scope="module")
def mobilenet_demo(tmp_path_factory, need):
    need("tensorflow", "tflite")
    need("ai_edge_litert", "tflite")
    root = tmp_path_factory.mktemp("mobilenet-demo")
    tflite_models.write_model("mobilenet", root, 6, seed=5, backends=("onnxruntime", "tflite", "tf"), quantised=True)
    return root


@pytest.fixture(scope="module")
def efficientnet_demo(tmp_path_factory, need):
    need("tensorflow", "tflite")
    need("ai_edge_litert", "tflite")
    root = tmp_path_factory.mktemp("efficientnet-demo")
    tflite_models.write_model("efficientnet", root, 6, seed=5)
    return root


def scores(backend, x):
    """Class probabilities straight from the framework (no argmax)."""
    if backend.name == "tflite":
        backend.interpreter.set_tensor(backend.in_index, x)
        backend.interpreter.invoke()
        return backend.interpreter.get_tensor(backend.out_index).astype(np.float32)
    if backend.name == "onnxruntime":
        return backend.session.run(None, {backend.input_name: x})[0]
    return backend.session.run(backend.output, {backend.input: x})


def batch_for(root, b):
    entries = dataset.read_val_map(root / "datasets/imagenet", None)
    return np.stack([dataset.spec(b.preprocessing)[0](e.path) for e in entries])


def make(root, model, backend, key, precision="fp32"):
    path = root / "models" / tflite_models.file_names(model)[key]
    return backends.create(backend, "cpu", path, 2, precision, root / "cache", 6, model)


@pytest.mark.slow
@pytest.mark.parametrize("model", ["mobilenet", "efficientnet"])
def test_tflite_agrees_with_onnx(request, model):
    root = request.getfixturevalue(f"{model}_demo")
    lite, onnx = make(root, model, "tflite", "fp32"), make(root, model, "onnxruntime", "onnx")
    assert lite.preprocessing == onnx.preprocessing == f"{backends.SCALING[model]}-224-float32"
    assert lite.label_offset == onnx.label_offset == (-1 if model == "mobilenet" else 0)
    x = batch_for(root, lite)
    a, b = scores(lite, x), scores(onnx, x)
    assert a.shape == b.shape == (6, 1001 if model == "mobilenet" else 1000)
    assert np.allclose(a, b, rtol=1e-3, atol=1e-6 * a.max())
    assert (lite.predict(x) == onnx.predict(x)).all()


@pytest.mark.slow
def test_quantised_tflite_takes_uint8(mobilenet_demo):
    q = make(mobilenet_demo, "mobilenet", "tflite", "int8", precision="int8")
    assert q.preprocessing == "inception-224-uint8"
    x = batch_for(mobilenet_demo, q)
    assert x.dtype == np.uint8
    labels = q.predict(x)
    assert labels.shape == (6,) and ((0 <= labels) & (labels < 1001)).all()
    with pytest.raises(UsageError, match="uint8-quantised model but --precision is fp32"):
        make(mobilenet_demo, "mobilenet", "tflite", "int8", precision="fp32")


@pytest.mark.slow
def test_tf_frozen_graph_agrees_with_tflite(mobilenet_demo):
    tf_b, lite = make(mobilenet_demo, "mobilenet", "tf", "pb"), make(mobilenet_demo, "mobilenet", "tflite", "fp32")
    assert tf_b.preprocessing == lite.preprocessing and tf_b.label_offset == -1
    x = batch_for(mobilenet_demo, tf_b)
    assert np.allclose(scores(tf_b, x), scores(lite, x), rtol=1e-3, atol=1e-7)


@pytest.mark.slow
def test_wrong_kind_of_model_file_is_one_line_naming_it(mobilenet_demo):
    models = mobilenet_demo / "models"
    onnx_file, tflite_file = models / "mobilenet_v1_1.0_224.onnx", models / "mobilenet_v1_1.0_224.tflite"
    cases = [
        ("tflite", onnx_file, "is not a TFLite flatbuffer"),
        ("tf", tflite_file, "is not a TensorFlow GraphDef"),
        ("onnxruntime", tflite_file, "onnxruntime cannot load"),
    ]
    for backend, path, what in cases:
        with pytest.raises(UsageError) as e:
            backends.create(backend, "cpu", path, 1, "fp32", mobilenet_demo / "cache", 1, "mobilenet")
        assert str(path) in e.value.args[0] and what in e.value.args[0]
        assert "\n" not in e.value.args[0]


def test_wrong_kind_through_the_cli_before_running(tmp_path, need):
    """`run` on a text file as the .tflite: exit 2, one line naming it."""
    need("ai_edge_litert", "tflite")
    images.write(tmp_path / "data", 2, seed=1)
    bogus = tmp_path / "mobilenet_v1_1.0_224.tflite"
    bogus.write_text("not a model\n")
    proc = harness(
        "run",
        "--model",
        "mobilenet",
        "--backend",
        "tflite",
        "--device",
        "cpu",
        "--scenario",
        "Offline",
        "--dataset-dir",
        tmp_path / "data",
        "--model-path",
        bogus,
        "--output-dir",
        tmp_path / "out",
        "--execution-mode",
        "test",
        "--mode",
        "performance",
        "--count",
        "2",
    )
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.count("\n") == 1 and str(bogus) in proc.stderr and "TFLite" in proc.stderr


def test_declarations():
    for name in ("mobilenet", "efficientnet"):
        w = get(name)
        assert w.loadgen_model == "resnet50" and w.backends("cpu") == ("tflite", "onnxruntime") + (
            ("tf",) if name == "mobilenet" else ()
        )
        assert w.precisions("cpu", "tflite") == ("fp32", "int8") and "tflite" not in w.backends("cuda")
    assert get("resnet50").model_file("tf") == "resnet50_v1.pb"


def test_tflite_file_check_reads_the_identifier(tmp_path):
    from mlperf_harness.workloads.imagenet.backends.tflite_backend import check_tflite_file

    good = tmp_path / "m.tflite"
    good.write_bytes(b"\x1c\x00\x00\x00TFL3" + bytes(32))
    check_tflite_file(good)
    bad = tmp_path / "m.onnx"
    bad.write_bytes(b"\x08\x07\x12\x04" + bytes(32))
    with pytest.raises(UsageError, match=str(bad)):
        check_tflite_file(bad)
