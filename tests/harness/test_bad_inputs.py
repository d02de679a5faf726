"""Each bad input: exit 2 and exactly one line `error: <what> (<fix>)` on stderr, no traceback."""

import shutil

import onnx
import pytest
from onnx import TensorProto, helper

from .conftest import harness


def assert_bad_input(proc, *needles: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stderr.count("\n") == 1 and proc.stderr.startswith("error: "), proc.stderr
    line = proc.stderr.strip()
    assert line.endswith(")") and " (" in line and "Traceback" not in line
    for n in needles:
        assert n in line, line


def test_missing_val_map(run_args, tmp_path):
    (tmp_path / "empty").mkdir()
    assert_bad_input(harness(*run_args(dataset_dir=tmp_path / "empty")), "no val_map.txt")


def test_fewer_images_than_listed(run_args, demo, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(demo / "datasets/imagenet", ds)
    (ds / "ILSVRC2012_val_00000003.JPEG").unlink()
    assert_bad_input(harness(*run_args(dataset_dir=ds)), "1 of 16 images", "ILSVRC2012_val_00000003.JPEG")


def test_model_input_shape_mismatch(run_args, tmp_path):
    graph = helper.make_graph(
        [helper.make_node("GlobalAveragePool", ["x"], ["p"]), helper.make_node("Flatten", ["p"], ["y"])],
        "wrong",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 299, 299])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = tmp_path / "wrong.onnx"
    onnx.save(model, path)
    assert_bad_input(harness(*run_args(model_path=path)), "299", "[N,3,224,224]")


def test_unknown_scenario(run_args):
    assert_bad_input(harness(*run_args(scenario="Batch")), "Batch")


def test_missing_model_file(run_args, tmp_path):
    assert_bad_input(harness(*run_args(model_path=tmp_path / "nope.onnx")), "nope.onnx", "does not exist")


def test_unavailable_provider_is_an_error_not_a_cpu_fallback(run_args):
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    assert_bad_input(harness(*run_args(device="cuda")), "CUDAExecutionProvider")


def test_pytorch_without_gpu(run_args, demo):
    torch = pytest.importorskip("torch", reason="torch is not installed in this environment")
    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    args = run_args(backend="pytorch", device="cuda", model_path=demo / "models/resnet50-19c8e357.pth")
    assert_bad_input(harness(*args), "cuda")


def test_server_needs_target_qps(run_args):
    assert_bad_input(harness(*run_args(scenario="Server")), "--target-qps")


def test_stray_audit_config_in_output_dir(run_args, tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out/audit.config").write_text("*.*.mode = 2\n")
    assert_bad_input(harness(*run_args()), "audit.config")
