"""The framework layer (mlperf_harness.frameworks): torch devices and dtypes, onnxruntime sessions; a device asked
for and not there is a one-line UsageError, never a silent CPU run."""

import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.frameworks import require_fp32

torch = pytest.importorskip("torch", reason="torch is not installed in this environment")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed in this environment")
onnx = pytest.importorskip("onnx", reason="onnx is not installed in this environment")

from mlperf_harness.frameworks import onnxruntime as fw_ort  # noqa: E402 - after the importorskip above
from mlperf_harness.frameworks import torch as fw_torch  # noqa: E402

CPU_ONLY_TORCH = not torch.cuda.is_available()
CPU_ONLY_ORT = "CUDAExecutionProvider" not in ort.get_available_providers()


def one_line(e: UsageError) -> str:
    text = str(e)
    assert "\n" not in text and e.fix
    return text


def identity_model(path):
    """A one-node ONNX model, y = x, float32 [N, 4]."""
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "identity", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, path)
    return path


def test_torch_cpu_device():
    assert fw_torch.device("cpu") == torch.device("cpu")


@pytest.mark.skipif(not CPU_ONLY_TORCH, reason="this machine's torch sees a GPU")
def test_torch_cuda_on_a_cpu_only_machine_is_one_line():
    with pytest.raises(UsageError) as e:
        fw_torch.device("cuda")
    assert "--device cuda" in one_line(e.value) and "sees no GPU" in str(e.value)


@pytest.mark.skipif(bool(getattr(torch.version, "hip", None)), reason="this torch is a ROCm build")
def test_torch_rocm_needs_a_rocm_build():
    with pytest.raises(UsageError) as e:
        fw_torch.device("rocm")
    assert "not a ROCm build" in one_line(e.value)


def test_torch_dtypes_and_unsupported_precision():
    assert fw_torch.dtype("fp16", "m") is torch.float16 and fw_torch.dtype("bf16", "m") is torch.bfloat16
    assert fw_torch.dtype("fp32", "m") is torch.float32
    with pytest.raises(UsageError) as e:
        fw_torch.dtype("bf16", "sdxl", ("fp32", "fp16"))
    assert "--precision bf16 is not supported for sdxl" in one_line(e.value) and "fp32, fp16" in e.value.fix
    with pytest.raises(UsageError):
        fw_torch.dtype("int8", "rnnt")


def test_require_fp32():
    require_fp32("pytorch", "fp32")
    with pytest.raises(UsageError) as e:
        require_fp32("pytorch", "fp16")
    assert "--precision fp16" in one_line(e.value)


def test_ort_cpu_session_has_the_cpu_provider_and_the_threads(tmp_path):
    import numpy as np

    path = identity_model(tmp_path / "id.onnx")
    sess = fw_ort.session(path, "cpu", 3)
    assert sess.get_providers() == ["CPUExecutionProvider"]
    opts = sess.get_session_options()
    assert (opts.intra_op_num_threads, opts.inter_op_num_threads) == (3, 1)
    assert opts.graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    x = np.arange(8, dtype=np.float32).reshape(2, 4)
    assert (sess.run(["y"], {"x": x})[0] == x).all()
    # the serialized model works the same, named in messages by `name`
    assert fw_ort.session(path.read_bytes(), "cpu", 1, name=path).get_providers() == ["CPUExecutionProvider"]


@pytest.mark.skipif(not CPU_ONLY_ORT, reason="this onnxruntime has the CUDA provider")
@pytest.mark.parametrize("device", ["cuda", "rocm"])
def test_ort_gpu_asked_without_its_provider_is_one_line(tmp_path, device):
    with pytest.raises(UsageError) as e:
        fw_ort.session(identity_model(tmp_path / "id.onnx"), device, 1)
    text = one_line(e.value)
    assert f"--device {device}" in text and fw_ort.PROVIDERS[device] in text and "CPUExecutionProvider" in text


def test_ort_unloadable_model_names_the_file_and_the_fix(tmp_path):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(UsageError) as e:
        fw_ort.session(bad, "cpu", 1, "pass the 3D-UNet ONNX")
    assert str(bad) in one_line(e.value) and e.value.fix == "pass the 3D-UNet ONNX"
