"""3d-unet bad inputs: each a one-line UsageError naming the file."""

import pickle

import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.unet3d import dataset, inference


def preprocessed(tmp_path, image, label=None, listed=(1, 128, 128, 128)):
    label = np.zeros(image.shape, np.uint8) if label is None else label
    with open(tmp_path / "case_00000.pkl", "wb") as f:
        pickle.dump([image, label], f)
    with open(tmp_path / "preprocessed_files.pkl", "wb") as f:
        pickle.dump({"file_list": ["case_00000"], "cases": {"case_00000": {"image_shape": listed}}}, f)
    return dataset.Cases(tmp_path)


@pytest.mark.parametrize(
    "image",
    [np.zeros((1, 100, 128, 128), np.float32), np.zeros((128, 128, 128), np.float32)],
    ids=["smaller-than-window", "no-channel-axis"],
)
def test_case_pickle_of_the_wrong_shape(tmp_path, image):
    cases = preprocessed(tmp_path, image, listed=image.shape)
    with pytest.raises(UsageError) as e:
        cases.load([0])
    msg = str(e.value)
    assert str(tmp_path / "case_00000.pkl") in msg and "\n" not in msg and "D, H, W >= 128" in msg


def test_case_pickle_unlike_its_listed_shape(tmp_path):
    cases = preprocessed(tmp_path, np.zeros((1, 128, 128, 192), np.float32))
    with pytest.raises(UsageError, match=r"case_00000\.pkl holds .*\(1, 128, 128, 128\)"):
        cases.load([0])


def test_case_pickle_that_is_not_a_pair(tmp_path):
    preprocessed(tmp_path, np.zeros((1, 128, 128, 128), np.float32))
    with open(tmp_path / "case_00000.pkl", "wb") as f:
        pickle.dump({"image": 1}, f)
    with pytest.raises(UsageError, match=r"case_00000\.pkl holds dict"):
        dataset.Cases(tmp_path).load([0])


def test_listed_case_missing(tmp_path):
    preprocessed(tmp_path, np.zeros((1, 128, 128, 128), np.float32))
    (tmp_path / "case_00000.pkl").unlink()
    with pytest.raises(UsageError, match=r"first: case_00000\.pkl"):
        dataset.Cases(tmp_path)


def test_load_and_unload_keep_only_the_asked_cases(tmp_path):
    cases = preprocessed(tmp_path, np.ones((1, 128, 128, 128), np.float32))
    cases.load([0])
    assert cases.volume(0).shape == (1, 128, 128, 128) and list(cases.loaded) == [0]
    cases.unload([0])
    assert cases.loaded == {}


def test_model_file_missing(tmp_path):
    with pytest.raises(UsageError, match=r"model file .*nope\.onnx does not exist"):
        inference.create("onnxruntime", "cpu", tmp_path / "nope.onnx", 1)


def test_onnx_of_the_wrong_input_shape(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])],
        "g",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 224, 224])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 224, 224])],
    )
    path = tmp_path / "resnet.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), path)
    with pytest.raises(UsageError, match=r"resnet\.onnx takes input \[1, 3, 224, 224\]"):
        inference.create("onnxruntime", "cpu", path, 1)
