"""The workload registry and declarations: what the host reads, checked against what the code really runs."""

import json

import numpy as np
import pytest

from mlperf_harness import workloads
from mlperf_harness.cli import _parser
from mlperf_harness.errors import UsageError

from .conftest import harness
from .test_bad_inputs import assert_bad_input


def test_registry_names_and_declarations_agree():
    assert workloads.names() == (
        "resnet50", "retinanet", "sdxl", "gptj-99", "gptj-99.9", "llama2-70b-99", "llama2-70b-99.9", "llama3.1-8b",
        "llama3.1-8b-edge", "bert-99",
        "bert-99.9", "rnnt",
        "3d-unet-99", "3d-unet-99.9", "dlrm-v2-99", "dlrm-v2-99.9", "mobilenet", "efficientnet",
        "rgat",
        "yolo-99", "yolo-95", "whisper",
    )  # fmt: skip
    for name in workloads.names():
        assert name in workloads.get(name).names
    served = [n for d in workloads.declarations() for n in d.names]
    assert sorted(served) == sorted(workloads.names())
    assert {d.family for d in workloads.declarations()} == {
        "imagenet", "retinanet", "sdxl", "llm", "bert", "rnnt", "unet3d", "dlrm",
        "rgat", "yolo", "whisper"}


def test_unknown_model_lists_the_choices():
    with pytest.raises(UsageError, match=r"unknown model 'resnet'.*resnet50, retinanet, sdxl, gptj-99"):
        workloads.get("resnet")


def test_resnet50_supports_what_its_backends_run():
    d = workloads.get("resnet50")
    assert d.backends("cpu") == ("onnxruntime", "pytorch", "tf")
    assert d.backends("cuda") == ("onnxruntime", "pytorch", "tensorrt", "tf")
    assert d.precisions("cuda", "tensorrt") == ("fp32", "fp16")
    assert not any(d.supports(dev, b, "int8") for dev in workloads.DEVICES for b in workloads.BACKENDS)
    assert not d.supports("cpu", "tensorrt", "fp32")
    assert d.model_file("onnxruntime") == "resnet50_v1.onnx" and d.dataset_files == ("val_map.txt",)


def test_llms_and_sdxl_are_pytorch_only():
    for name in ("sdxl", "gptj-99.9", "rnnt"):
        d = workloads.get(name)
        assert all(d.backends(dev) == ("pytorch",) for dev in workloads.DEVICES)
        assert d.precisions("cpu", "pytorch") == ("fp32", "fp16", "bf16")
        assert "MultiStream" not in d.scenarios
    # vLLM serves llama2-70b beside pytorch (cpu, cuda: PyPI has no ROCm vLLM) and llama3.1-8b alone
    llama2, llama31 = workloads.get("llama2-70b-99"), workloads.get("llama3.1-8b-edge")
    assert llama2.backends("cuda") == ("pytorch", "vllm") and llama2.backends("rocm") == ("pytorch",)
    assert llama31.backends("cpu") == ("vllm",) and llama31.devices() == ("cpu", "cuda")
    assert llama31.dataset_files == ("sample_cnn_eval_5000.json",) and llama31.model_is_folder("vllm")
    assert llama31.loadgen_model == "llama3_1-8b-edge" and workloads.get("llama3.1-8b").loadgen_model == "llama3_1-8b"
    assert workloads.get("llama2-70b-99").dataset_files == ("open_orca_gpt4_tokenized_llama.sampled_24576.pkl",)
    assert workloads.get("gptj-99").model_file("pytorch") == "checkpoint-final"


@pytest.mark.parametrize(
    "model,device,backend,precision,scenario,needle",
    [
        (
            "resnet50",
            "cpu",
            "onnxruntime",
            "int8",
            "Offline",
            "precision 'int8' is not supported for resnet50 on onnxruntime/cpu (use one of fp32)",
        ),
        ("resnet50", "cpu", "tensorrt", "fp32", "Offline", "no tensorrt backend on cpu (use --backend onnxruntime or"),
        ("sdxl", "cpu", "pytorch", "fp32", "MultiStream", "sdxl has no MultiStream scenario"),
        ("gptj-99", "cuda", "onnxruntime", "fp32", "Server", "gptj-99 has no onnxruntime backend on cuda"),
    ],
)
def test_check_names_the_supported_choices(model, device, backend, precision, scenario, needle):
    with pytest.raises(UsageError) as e:
        workloads.get(model).check(model, device, backend, precision, scenario)
    assert needle in str(e.value)


@pytest.mark.parametrize(
    "backend,model_file", [("onnxruntime", "resnet50_v1.onnx"), ("pytorch", "resnet50-19c8e357.pth")]
)
def test_cpu_backends_refuse_what_is_not_declared(demo, tmp_path, backend, model_file):
    """The declaration mirrors the backend code: each declared precision loads, every other one is refused."""
    if backend == "pytorch":
        pytest.importorskip("torch", reason="torch is not installed in this environment")
    from mlperf_harness.workloads.imagenet import backends

    d = workloads.get("resnet50")
    assert d.model_file(backend) == model_file
    path = demo / d.demo_model_dir / model_file
    for precision in ("fp32", "fp16", "bf16", "int8"):
        if d.supports("cpu", backend, precision):
            backends.create(backend, "cpu", path, 1, precision, tmp_path, 1)
        else:
            with pytest.raises(UsageError, match="not supported"):
                backends.create(backend, "cpu", path, 1, precision, tmp_path, 1)


def test_demo_data_has_the_declared_layout(demo):
    d = workloads.get("resnet50")
    assert all((demo / d.demo_dataset_dir / f).exists() for f in d.dataset_files)
    # every cpu backend's file but the TensorFlow frozen graph (~100 MB): only `demo-data --backend tf` writes it
    # (test_demo.py::test_backend_tf_writes_only_the_frozen_graph)
    assert all((demo / d.demo_model_dir / d.model_file(b)).is_file() for b in d.backends("cpu") if b != "tf")
    assert "tf" in d.backends("cpu") and not (demo / d.demo_model_dir / d.model_file("tf")).exists()


def test_accuracy_argv_is_a_command_the_harness_takes():
    for d in workloads.declarations():
        argv = d.accuracy_argv(d.names[-1], "/r/mlperf_log_accuracy.json", "/data", "/model", output="/r/accuracy.txt")
        a = _parser().parse_args(argv)
        assert (a.command, a.model, a.mlperf_accuracy_file, a.dataset_dir) == (
            "accuracy",
            d.names[-1],
            "/r/mlperf_log_accuracy.json",
            "/data",
        )
        assert a.output == "/r/accuracy.txt"
        assert a.model_path == ("/model" if d.family == "llm" else None)


def test_accuracy_command_equals_its_imagenet_alias(tmp_path):
    (tmp_path / "val_map.txt").write_text("a.JPEG 65\nb.JPEG 970\nc.JPEG 0\n")
    log = tmp_path / "mlperf_log_accuracy.json"
    data = [np.array([v], np.float32).tobytes().hex() for v in (65, 971, 0)]
    log.write_text(json.dumps([{"seq_id": i, "qsl_idx": i, "data": x} for i, x in enumerate(data)]))
    new = harness("accuracy", "--model", "resnet50", "--mlperf-accuracy-file", log, "--dataset-dir", tmp_path)
    old = harness("accuracy-imagenet", "--mlperf-accuracy-file", log, "--imagenet-val-file", tmp_path / "val_map.txt")
    assert new.returncode == old.returncode == 0, new.stderr + old.stderr
    assert new.stdout == old.stdout == "accuracy=66.667%, good=2, total=3\n"
    assert_bad_input(harness("accuracy", "--model", "resnet50", "--mlperf-accuracy-file", log), "--dataset-dir")


def test_llm_accuracy_needs_the_tokenizer(tmp_path):
    proc = harness(
        "accuracy", "--model", "gptj-99", "--mlperf-accuracy-file", tmp_path / "x.json", "--dataset-dir", tmp_path
    )
    assert_bad_input(proc, "--model-path")


def test_run_refuses_an_undeclared_combination_before_reading_anything(run_args):
    assert_bad_input(harness(*run_args(precision="int8")), "precision 'int8'", "use one of fp32")
    # tensorrt on a CPU used to fail with a traceback once the backend was imported
    assert_bad_input(harness(*run_args(backend="tensorrt")), "no tensorrt backend on cpu")
