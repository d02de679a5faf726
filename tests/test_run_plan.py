"""`mlperfctl run` logic that needs no container: cell choice, preflight, the container spec."""

import os

import pytest

from mlperfctl import run
from mlperfctl.errors import UserError


def opts(**kw):
    kw.setdefault("model", "resnet50")
    kw.setdefault("device", "cpu")
    return run.RunOptions(**kw)


@pytest.fixture
def data(tmp_path):
    (tmp_path / "imagenet").mkdir()
    (tmp_path / "imagenet" / "val_map.txt").write_text("a.JPEG 1\n")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet50_v1.onnx").write_bytes(b"onnx")
    return tmp_path


def test_defaults_pick_builtin_harness_and_first_backend(loaded):
    p = run.plan(loaded, opts())
    assert p.cell.id == "python-onnxruntime-cpu-resnet50"
    assert p.scenarios == ["Offline"] and p.modes == ["performance", "accuracy"]
    assert p.precision == "fp32" and p.model_file == "resnet50_v1.onnx"
    assert run.plan(loaded, opts(backend="pytorch")).model_file == "resnet50-19c8e357.pth"


def test_scenario_all_follows_the_category(loaded):
    assert run.plan(loaded, opts(scenario="all")).scenarios == ["SingleStream", "MultiStream", "Offline"]
    assert run.plan(loaded, opts(scenario="all", category="datacenter")).scenarios == ["Server", "Offline"]
    with pytest.raises(UserError, match="no edge scenarios"):
        run.plan(loaded, opts(model="llama2-70b-99", scenario="all"))


@pytest.mark.parametrize("kw,message", [
    ({"scenario": "Ofline"}, "unknown scenario 'Ofline' (choose: "),
    ({"mode": "perf"}, "unknown mode 'perf'"),
    ({"execution_mode": "quick"}, "unknown execution mode 'quick'"),
    ({"model": "resnet"}, "unknown model 'resnet'"),
    ({"backend": "tensorrt"}, "no cell python-tensorrt-cpu-resnet50 in the matrix"),
    ({"precision": "fp8"}, "unknown precision for resnet50 'fp8' (choose: fp16, fp32, int8)"),
])
def test_bad_options_are_one_line_errors(loaded, kw, message):
    with pytest.raises(UserError) as e:
        run.plan(loaded, opts(**kw))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_preflight_passes_and_resolves_model_dir(loaded, data):
    o = opts(dataset_dir=data / "imagenet", model_path=data / "models")
    p = run.plan(loaded, o)
    assert run.preflight(loaded, p, o, set()) == data / "models" / "resnet50_v1.onnx"


@pytest.mark.parametrize("case,message", [
    ("no-dataset-option", "--dataset-dir is required"),
    ("dataset-missing", "does not exist (pass --dataset-dir)"),
    ("layout", "lacks val_map.txt (expected the ImageNet 2012 validation layout)"),
    ("model-missing", "model file"),
    ("not-implemented", "retinanet is not implemented by the built-in harness yet"),
])
def test_preflight_failures(loaded, data, case, message):
    o = opts(dataset_dir=data / "imagenet", model_path=data / "models" / "resnet50_v1.onnx")
    if case == "no-dataset-option":
        o.dataset_dir = None
    elif case == "dataset-missing":
        o.dataset_dir = data / "nope"
    elif case == "layout":
        (data / "imagenet" / "val_map.txt").unlink()
    elif case == "model-missing":
        o.model_path = data / "models" / "missing.onnx"
    elif case == "not-implemented":
        o.model, o.backend = "retinanet", "pytorch"
    p = run.plan(loaded, o)
    with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run.preflight(loaded, p, o, set())


def test_preflight_cuda_needs_nvidia_runtime(loaded, data):
    o = opts(device="cuda", dataset_dir=data / "imagenet", model_path=data / "models")
    p = run.plan(loaded, o)
    with pytest.raises(UserError, match="no NVIDIA runtime or CDI device"):
        run.preflight(loaded, p, o, {"runc"})
    assert run.preflight(loaded, p, o, {"runc", "nvidia"}).name == "resnet50_v1.onnx"


@pytest.mark.skipif(os.path.exists("/dev/kfd"), reason="this host has a ROCm device")
def test_preflight_rocm_needs_kfd(loaded, data):
    o = opts(device="rocm", dataset_dir=data / "imagenet", model_path=data / "models")
    with pytest.raises(UserError, match="device rocm: /dev/kfd"):
        run.preflight(loaded, run.plan(loaded, o), o, set())


def test_container_spec_is_safe(loaded, data, tmp_path):
    p = run.plan(loaded, opts())
    spec = run.container_spec(p, image="img", dataset_dir=data / "imagenet",
                              model_path=data / "models" / "resnet50_v1.onnx", results_dir=tmp_path,
                              cache_dir=tmp_path, command=["info"], user=(1000, 1000), owner="h:1")
    mounts = {m["Target"]: m for m in spec["mounts"]}
    assert mounts["/data"]["ReadOnly"] and mounts["/model/resnet50_v1.onnx"]["ReadOnly"]
    assert not mounts["/results"]["ReadOnly"]
    assert spec["network_mode"] == "none" and spec["privileged"] is False
    assert spec["cap_drop"] == ["ALL"] and "no-new-privileges" in spec["security_opt"]
    assert spec["read_only"] is True and spec["user"] == "1000:1000"
    assert "device_requests" not in spec and "devices" not in spec


def test_container_spec_for_gpus(loaded, data, tmp_path):
    for device in ("cuda", "rocm"):
        p = run.plan(loaded, opts(device=device))
        spec = run.container_spec(p, image="img", dataset_dir=data, model_path=data / "models",
                                  results_dir=tmp_path, cache_dir=tmp_path, command=[], user=(1, 1),
                                  owner="h:1")
        if device == "cuda":
            assert spec["device_requests"][0]["Capabilities"] == [["gpu"]]
        else:
            assert spec["devices"] == ["/dev/kfd:/dev/kfd:rwm", "/dev/dri:/dev/dri:rwm"]
        assert spec["privileged"] is False


def test_harness_args_pass_settings(loaded):
    o = opts(target_qps=250.0, threads=2, batch_size=8, count=100)
    args = run.harness_args(run.plan(loaded, o), o, "Offline", "performance", "/model/x.onnx")
    joined = " ".join(args)
    assert "--scenario Offline --mode performance --execution-mode test" in joined
    assert "--target-qps 250.0" in joined and "--max-batchsize 8" in joined
    assert "--threads 2" in joined and "--count 100" in joined
    assert "--output-dir /results/Offline/performance" in joined


def test_root_runs_as_the_image_user():
    uid, gid = run.container_user()
    assert uid != 0 and gid != 0


def test_reproduce_command_is_shell_quoted():
    o = opts(command_line=["/x/bin/mlperfctl", "run", "--model", "resnet50", "--submitter", "A B"])
    assert run.reproduce_command(o) == "mlperfctl run --model resnet50 --submitter 'A B'"


def test_unreadable_data_is_found_before_a_container_starts(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "a.bin").write_bytes(b"x")
    (data / "sub" / "a.bin").chmod(0o600)
    other = (10001, 10001)
    assert run.unreadable([data], *other) == data / "sub" / "a.bin"
    (data / "sub" / "a.bin").chmod(0o644)
    assert run.unreadable([data], *other) is None
    (data / "sub").chmod(0o700)
    assert run.unreadable([data], *other) == data / "sub"


def test_offline_samples_per_second_ignores_token_throughput(tmp_path):
    from mlperfctl.submission_check import MLLog

    detail = tmp_path / "mlperf_log_detail.txt"
    records = {"generated_query_count": 1, "generated_samples_per_query": 128, "result_max_latency_ns": 4_000_000_000,
               "result_samples_per_second": 700.0}  # LLM runs log tokens per second here
    detail.write_text("".join(f':::MLLOG {{"key": "{k}", "value": {v}}}\n' for k, v in records.items()))
    assert run.offline_samples_per_second(MLLog(detail)) == 32.0
    detail.write_text("")
    assert run.offline_samples_per_second(MLLog(detail)) is None
