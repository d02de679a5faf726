"""`mlperfctl run` logic that needs no container: cell choice, preflight, the container spec."""

import dataclasses
import json
import os
from pathlib import Path

import pytest

from mlperfctl.errors import UserError
from mlperfctl.options import RunOptions
from mlperfctl.run import container, preflight, results
from mlperfctl.run import plan as run_plan


def opts(**kw):
    kw.setdefault("model", "resnet50")
    kw.setdefault("device", "cpu")
    return RunOptions(**kw)


@pytest.fixture
def data(tmp_path):
    (tmp_path / "imagenet").mkdir()
    (tmp_path / "imagenet" / "val_map.txt").write_text("a.JPEG 1\n")
    (tmp_path / "imagenet" / "a.JPEG").write_bytes(b"jpeg")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "resnet50_v1.onnx").write_bytes(b"onnx")
    return tmp_path


def test_defaults_pick_builtin_harness_and_first_backend(loaded):
    p = run_plan.plan(loaded, opts())
    assert p.cell.id == "python-onnxruntime-cpu-resnet50"
    assert p.scenarios == ["Offline"] and p.modes == ["performance", "accuracy"]
    assert p.precision == "fp32" and p.model_file == "resnet50_v1.onnx"
    assert run_plan.plan(loaded, opts(backend="pytorch")).model_file == "resnet50-19c8e357.pth"


def test_scenario_all_follows_the_category(loaded):
    assert run_plan.plan(loaded, opts(scenario="all")).scenarios == ["SingleStream", "MultiStream", "Offline"]
    # the round's rulebook, not the matrix: sdxl in v5.1's datacenter; resnet50 is edge-only from v5.1 on
    assert run_plan.plan(loaded, opts(model="sdxl", version="v5.1", scenario="all",
                                      category="datacenter")).scenarios == ["Server", "Offline"]
    assert run_plan.plan(loaded, opts(model="sdxl", scenario="all")).scenarios == ["SingleStream", "Offline"]
    with pytest.raises(UserError, match="resnet50 has no datacenter scenarios in v6.1"):
        run_plan.plan(loaded, opts(scenario="all", category="datacenter"))
    # llama2-70b-99.9: Offline required, Server and Interactive optional (one of them required): all of them
    assert run_plan.plan(loaded, opts(model="llama2-70b-99.9", scenario="all",
                                      category="datacenter")).scenarios == ["Offline", "Server", "Interactive"]
    # ... before v5.1 Server was required and there was no Interactive (v5.0's was a benchmark of its own)
    assert run_plan.plan(loaded, opts(model="llama2-70b-99", scenario="all", category="datacenter",
                                      version="v5.0")).scenarios == ["Server", "Offline"]
    with pytest.raises(UserError, match="no edge scenarios"):
        run_plan.plan(loaded, opts(model="llama2-70b-99", scenario="all"))


def test_interactive_where_the_rulebook_lists_it(loaded):
    """--scenario Interactive: the round whose rules apply must list it for the model, else one line, exit 2
    (UserError), before any image or container."""
    p = run_plan.plan(loaded, opts(model="llama2-70b-99", scenario="Interactive"))  # default round: v6.0
    assert p.scenarios == ["Interactive"] and p.cell.id == "python-pytorch-cpu-llama2-70b-99"
    for version in ("v5.1", "v6.0", "v6.1"):  # v6.1 has only llama2-70b-99.9; -99 follows v6.0's rules there
        assert run_plan.plan(loaded, opts(model="llama2-70b-99", scenario="Interactive",
                                          version=version)).scenarios == ["Interactive"]
    for kw, message in (
            ({"model": "resnet50"}, "--scenario Interactive: resnet50 has no Interactive scenario in v6.1 (no round "
                                    "lists it for resnet50: pick another --scenario)"),
            ({"model": "llama2-70b-99", "version": "v5.0"}, "--scenario Interactive: llama2-70b-99 has no "
             "Interactive scenario in v5.0 (pick --version v5.1 or v6.0, or --scenario Server)"),
            ({"model": "llama2-70b-99.9", "version": "v4.1"}, "llama2-70b-99.9 has no Interactive scenario in "
             "v4.1 (pick --version v5.1 or v6.0 or v6.1, or --scenario Server)"),
            ({"model": "gptj-99"}, "gptj-99 has no Interactive scenario in v5.0")):
        with pytest.raises(UserError) as e:
            run_plan.plan(loaded, opts(scenario="Interactive", **kw))
        assert message in str(e.value) and "\n" not in str(e.value)


def test_interactive_takes_a_target_qps_of_its_own(loaded):
    llama = {"model": "llama2-70b-99", "category": "datacenter"}
    assert _targets(loaded, scenario="all", target_qps=4, **llama) == {
        s: ("--target-qps", 4.0) for s in ("Offline", "Server", "Interactive")}
    got = _targets(loaded, scenario="all", target_qps=4, server_target_qps=2, interactive_target_qps=0.5, **llama)
    assert got == {"Offline": ("--target-qps", 4.0), "Server": ("--target-qps", 2.0),
                   "Interactive": ("--target-qps", 0.5)}
    o = opts(scenario="Interactive", interactive_target_qps=0.5, **llama)
    args = container.harness_args(run_plan.plan(loaded, o), o, "Interactive", "performance", "/model/m")
    assert args[args.index("--scenario") + 1] == "Interactive" and args[args.index("--target-qps") + 1] == "0.5"
    with pytest.raises(UserError, match="--interactive-target-qps is for Interactive, which this run does not "
                                        "include \\(Server\\)"):
        run_plan.plan(loaded, opts(scenario="Server", interactive_target_qps=1, **llama))
    with pytest.raises(UserError, match="--target-latency applies to SingleStream and MultiStream, not Interactive"):
        run_plan.plan(loaded, opts(scenario="Interactive", target_latency=5, **llama))


@pytest.mark.parametrize("kw,message", [
    ({"scenario": "Ofline"}, "unknown scenario 'Ofline' (choose: "),
    ({"mode": "perf"}, "unknown mode 'perf'"),
    ({"execution_mode": "quick"}, "unknown execution mode 'quick'"),
    ({"model": "resnet"}, "unknown model 'resnet'"),
    ({"backend": "tensorrt"}, "no cell python-tensorrt-cpu-resnet50 in the matrix"),
    ({"precision": "fp8"}, "unknown precision for resnet50 'fp8' (choose: fp32)"),
])
def test_bad_options_are_one_line_errors(loaded, kw, message):
    with pytest.raises(UserError) as e:
        run_plan.plan(loaded, opts(**kw))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_preflight_passes_and_resolves_model_dir(loaded, data):
    o = opts(dataset_dir=data / "imagenet", model_path=data / "models")
    p = run_plan.plan(loaded, o)
    assert preflight.preflight(loaded, p, o, set()) == data / "models" / "resnet50_v1.onnx"


@pytest.mark.parametrize("case,message", [
    ("no-dataset-option", "--dataset-dir is required"),
    ("dataset-missing", "does not exist (pass --dataset-dir; to make it: mlperfctl get --model resnet50 "
                        "--dataset --dest {d}/nope-raw && mlperfctl prepare --model resnet50 --raw {d}/nope-raw "
                        "--dest {d}/nope)"),
    ("layout", "lacks val_map.txt (expected the ImageNet 2012 validation layout; if it holds the raw download: "
               "mlperfctl prepare --model resnet50 --raw {d}/imagenet --dest {d}/imagenet-prepared)"),
    ("model-missing", "--model-path "),
])
def test_preflight_failures(loaded, data, case, message):
    o = opts(dataset_dir=data / "imagenet", model_path=data / "models" / "resnet50_v1.onnx")
    if case == "no-dataset-option":
        o = dataclasses.replace(o, dataset_dir=None)
    elif case == "dataset-missing":
        o = dataclasses.replace(o, dataset_dir=data / "nope")
    elif case == "layout":
        (data / "imagenet" / "val_map.txt").unlink()
    elif case == "model-missing":
        o = dataclasses.replace(o, model_path=data / "models" / "missing.onnx")
    p = run_plan.plan(loaded, o)
    with pytest.raises(UserError) as e:
        preflight.preflight(loaded, p, o, set())
    assert message.format(d=data) in str(e.value) and "\n" not in str(e.value)


def test_unimplemented_model_is_refused_in_plan(loaded):
    """A model the matrix marks unimplemented (or the harness does not serve) stops before any check of data."""
    models = dict(loaded.matrix.models)
    models["resnet50"] = models["resnet50"].model_copy(update={"implemented": False})
    lm = dataclasses.replace(loaded, matrix=loaded.matrix.model_copy(update={"models": models}))
    with pytest.raises(UserError, match="resnet50 is not implemented by the built-in harness yet"):
        run_plan.plan(lm, opts())


def test_preflight_cuda_needs_nvidia_runtime(loaded, data):
    o = opts(device="cuda", dataset_dir=data / "imagenet", model_path=data / "models")
    p = run_plan.plan(loaded, o)
    with pytest.raises(UserError, match="no NVIDIA runtime or CDI device"):
        preflight.preflight(loaded, p, o, {"runc"})
    assert preflight.preflight(loaded, p, o, {"runc", "nvidia"}).name == "resnet50_v1.onnx"


@pytest.mark.skipif(os.path.exists("/dev/kfd"), reason="this host has a ROCm device")
def test_preflight_rocm_needs_kfd(loaded, data):
    o = opts(device="rocm", dataset_dir=data / "imagenet", model_path=data / "models")
    with pytest.raises(UserError, match="device rocm: /dev/kfd"):
        preflight.preflight(loaded, run_plan.plan(loaded, o), o, set())


def test_container_spec_is_safe(loaded, data, tmp_path):
    p = run_plan.plan(loaded, opts())
    spec = container.container_spec(p, image="img", dataset_dir=data / "imagenet",
                              model_path=data / "models" / "resnet50_v1.onnx", results_dir=tmp_path,
                              cache_dir=tmp_path, command=["info"], user=(1000, 1000), owner="h:1")
    mounts = {m.target: m for m in spec.mounts}
    assert mounts["/data"].read_only and mounts["/model/resnet50_v1.onnx"].read_only
    assert not mounts["/results"].read_only and not mounts["/cache"].read_only
    assert mounts["/data"].source == str((data / "imagenet").resolve())
    assert spec.network == "none" and spec.cap_drop == ("ALL",) and "no-new-privileges" in spec.security_opt
    assert spec.read_only_root is True and spec.user == "1000:1000" and dict(spec.tmpfs)["/tmp"].startswith("rw")
    assert spec.gpu is None and spec.devices == ()
    d = spec.to_dict()  # a plain value a cluster launcher can write out
    assert json.loads(json.dumps(d)) == d and d["mounts"][0] == {"source": mounts["/data"].source,
                                                                  "target": "/data", "read_only": True}
    assert d["labels"] == {"io.mlperfctl.run": "h:1", "io.mlperfctl.cell": "python-onnxruntime-cpu-resnet50"}


def test_container_spec_for_gpus(loaded, data, tmp_path):
    for device in ("cuda", "rocm"):
        p = run_plan.plan(loaded, opts(device=device))
        spec = container.container_spec(p, image="img", dataset_dir=data, model_path=data / "models",
                                  results_dir=tmp_path, cache_dir=tmp_path, command=[], user=(1, 1),
                                  owner="h:1")
        if device == "cuda":
            assert spec.gpu is not None and spec.gpu.vendor == "nvidia" and spec.gpu.count == -1
        else:
            assert spec.devices == ("/dev/kfd", "/dev/dri") and spec.gpu is None
        assert spec.cap_drop == ("ALL",) and spec.network == "none"


def test_harness_args_pass_settings(loaded):
    o = opts(target_qps=250.0, threads=2, batch_size=8, count=100)
    args = container.harness_args(run_plan.plan(loaded, o), o, "Offline", "performance", "/model/x.onnx")
    joined = " ".join(args)
    assert "--scenario Offline --mode performance --execution-mode test" in joined
    assert "--target-qps 250.0" in joined and "--max-batchsize 8" in joined
    assert "--threads 2" in joined and "--count 100" in joined
    assert "--output-dir /results/Offline/performance" in joined


def test_root_runs_as_the_image_user():
    uid, gid = container.container_user()
    assert uid != 0 and gid != 0


def test_reproduce_command_is_shell_quoted():
    o = opts(command_line=["/x/bin/mlperfctl", "run", "--model", "resnet50", "--submitter", "A B"])
    assert results.reproduce_command(o) == "mlperfctl run --model resnet50 --submitter 'A B'"


def test_unreadable_data_is_found_before_a_container_starts(tmp_path):
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "sub" / "a.bin").write_bytes(b"x")
    (data / "sub" / "a.bin").chmod(0o600)
    other = (10001, 10001)
    assert preflight.unreadable([data], *other) == data / "sub" / "a.bin"
    (data / "sub" / "a.bin").chmod(0o644)
    assert preflight.unreadable([data], *other) is None
    (data / "sub").chmod(0o700)
    assert preflight.unreadable([data], *other) == data / "sub"


def test_offline_samples_per_second_ignores_token_throughput(tmp_path):
    from mlperfctl.submission import MLLog

    detail = tmp_path / "mlperf_log_detail.txt"
    records = {"generated_query_count": 1, "generated_samples_per_query": 128, "result_max_latency_ns": 4_000_000_000,
               "result_samples_per_second": 700.0}  # LLM runs log tokens per second here
    detail.write_text("".join(f':::MLLOG {{"key": "{k}", "value": {v}}}\n' for k, v in records.items()))
    assert results.offline_samples_per_second(MLLog(detail)) == 32.0
    detail.write_text("")
    assert results.offline_samples_per_second(MLLog(detail)) is None


SDXL_DC = {"model": "sdxl", "version": "v5.1"}  # a model with datacenter scenarios in the rulebook


def _targets(loaded, **kw):
    p = run_plan.plan(loaded, opts(**kw))
    return {s: (t.flag, t.value) for s, t in p.targets.items()}


def test_general_targets_apply_to_the_scenarios_they_fit(loaded):
    assert _targets(loaded, scenario="all", target_latency=5) == {
        "SingleStream": ("--target-latency", 5.0), "MultiStream": ("--target-latency", 5.0)}
    assert _targets(loaded, scenario="all", target_qps=100, target_latency=5)["Offline"] == ("--target-qps", 100.0)
    assert _targets(loaded, scenario="all", category="datacenter", target_qps=100, **SDXL_DC) == {
        "Server": ("--target-qps", 100.0), "Offline": ("--target-qps", 100.0)}
    assert _targets(loaded) == {}


def test_per_scenario_targets_win_over_the_general_ones(loaded):
    got = _targets(loaded, scenario="all", target_latency=5, multistream_target_latency=40, offline_target_qps=9)
    assert got == {"SingleStream": ("--target-latency", 5.0), "MultiStream": ("--target-latency", 40.0),
                   "Offline": ("--target-qps", 9.0)}
    got = _targets(loaded, scenario="all", category="datacenter", target_qps=100, server_target_qps=30,
                   **SDXL_DC)
    assert got == {"Server": ("--target-qps", 30.0), "Offline": ("--target-qps", 100.0)}


def test_each_scenario_gets_its_target_on_the_harness_command_line(loaded):
    o = opts(scenario="all", target_latency=5, offline_target_qps=9, performance_sample_count=64,
             test_query_count=100)
    p = run_plan.plan(loaded, o)
    offline = container.harness_args(p, o, "Offline", "performance", "/model/x.onnx")
    single = container.harness_args(p, o, "SingleStream", "performance", "/model/x.onnx")
    assert offline[offline.index("--target-qps") + 1] == "9.0" and "--target-latency" not in offline
    assert single[single.index("--target-latency") + 1] == "5.0" and "--target-qps" not in single
    for args in (offline, single):
        assert args[args.index("--performance-sample-count") + 1] == "64"
        assert args[args.index("--test-query-count") + 1] == "100"
    measured = container.harness_args(p, o, "Offline", "performance", "/m", target=run_plan.Target("--target-qps", 3))
    assert measured[measured.index("--target-qps") + 1] == "3"


@pytest.mark.parametrize("kw,message", [
    # the general target fits none of the run's scenarios: refused here, not by the harness later
    ({"target_latency": 5}, "--target-latency applies to SingleStream and MultiStream, not Offline: use --target-qps"),
    ({"scenario": "SingleStream", "target_qps": 5},
     "--target-qps applies to Offline, Server and Interactive, not SingleStream"),
    ({"scenario": "all", "category": "datacenter", "target_latency": 5, "model": "sdxl", "version": "v5.1"},
     "--target-latency applies to SingleStream and MultiStream, not Server, Offline"),
    # a per-scenario target for a scenario the run does not include
    ({"scenario": "all", "server_target_qps": 5}, "--server-target-qps is for Server, which this run does not "
                                                  "include (SingleStream, MultiStream, Offline)"),
    ({"multistream_target_latency": 5}, "--multistream-target-latency is for MultiStream"),
    # positive values only
    ({"target_qps": 0}, "--target-qps 0: must be positive"),
    ({"scenario": "all", "singlestream_target_latency": -1}, "--singlestream-target-latency -1: must be positive"),
    ({"performance_sample_count": 0}, "--performance-sample-count 0: must be positive"),
    ({"test_query_count": -5}, "--test-query-count -5: must be positive"),
    ({"target_latency": -2}, "--target-latency -2: must be positive"),
    ({"offline_target_qps": 0}, "--offline-target-qps 0: must be positive"),
    ({"server_target_qps": -1}, "--server-target-qps -1: must be positive"),
    ({"scenario": "all", "multistream_target_latency": 0}, "--multistream-target-latency 0: must be positive"),
    ({"target_qps": float("inf")}, "--target-qps inf: must be a finite number"),
    ({"target_qps": float("nan")}, "--target-qps nan: must be positive"),
    # counts (plain `run` and `run --submission` alike), before any image or container
    ({"count": 0}, "--count 0: must be positive"),
    ({"threads": -1}, "--threads -1: must be positive"),
    ({"batch_size": 0}, "--batch-size 0: must be positive"),
    # external implementations: not driven by run yet
    ({"implementation": "reference"}, "reference is an external implementation: `mlperfctl run` cannot drive"),
    ({"implementation": "nope"}, "unknown implementation 'nope' (choose: python, reference)"),
])
def test_bad_target_and_count_combinations_are_refused_in_plan(loaded, kw, message):
    with pytest.raises(UserError) as e:
        run_plan.plan(loaded, opts(**kw))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_bad_target_is_exit_2_before_any_engine(tmp_path):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--model", "resnet50", "--scenario", "all",
                        "--device", "cpu", "--server-target-qps", "5", "--engine-url",
                        f"unix://{tmp_path}/no-engine.sock"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: --server-target-qps is for Server")


@pytest.mark.parametrize("flag, value", [("--batch-size", "0"), ("--threads", "-4"), ("--count", "0"),
                                         ("--target-latency", "-1")])
def test_bad_counts_of_plain_run_are_exit_2_before_any_engine(tmp_path, flag, value):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--model", "resnet50", "--device", "cpu",
                        "--scenario", "SingleStream", flag, value, "--submission-dir", str(tmp_path / "sub"),
                        "--engine-url", f"unix://{tmp_path}/no-engine.sock"], capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.startswith(f"error: {flag} {value}") and "must be positive" in r.stderr
    assert not (tmp_path / "sub").exists()


def test_version_defaults_to_the_models_newest_closed_round(loaded):
    """No --version: the round whose rules apply to the model (rnnt was last closed in v4.0); any rulebook round
    may be named; an unknown one is a one-line error listing them."""
    from mlperfctl.options import run_options

    assert run_options(model="rnnt", version=None).round.version == "v4.0"
    assert run_options(model="gptj-99").round.version == "v5.0"
    assert run_options(model="resnet50").round.version == "v6.1"
    assert run_options(model="rnnt", version="v6.1").round.version == "v6.1"
    p = run_plan.plan(loaded, opts(model="rnnt", version="v4.0"))
    assert p.cell.id == "python-pytorch-cpu-rnnt" and p.precision == "fp32"
    with pytest.raises(UserError) as e:  # resolved with the options, before any plan
        opts(version="v3.1")
    assert "unknown MLPerf round 'v3.1'" in str(e.value) and "v4.0" in str(e.value)
    assert "\n" not in str(e.value)


def test_preflight_runs_the_workloads_dataset_check(loaded, tmp_path):
    """rnnt declares a dataset check: a manifest naming a missing wav is one line before any container."""
    entry = {"transcript": "a b", "original_duration": 1.0,
             "files": [{"fname": "dev-clean-wav/1/2/1-2-0000.wav", "speed": 1}]}
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "dev-clean-wav.json").write_text(json.dumps([entry]))
    model = tmp_path / "DistributedDataParallel_1576581068.9962234-epoch-100.pt"
    model.write_bytes(b"pt")
    o = opts(model="rnnt", dataset_dir=tmp_path / "data", model_path=model)
    with pytest.raises(UserError) as e:
        preflight.preflight(loaded, run_plan.plan(loaded, o), o, set())
    assert "entry 0 names" in str(e.value) and "1-2-0000.wav, which does not exist" in str(e.value)
    assert "\n" not in str(e.value)
    wav = tmp_path / "data" / "dev-clean-wav/1/2/1-2-0000.wav"
    wav.parent.mkdir(parents=True)
    wav.write_bytes(b"RIFF")
    assert preflight.preflight(loaded, run_plan.plan(loaded, o), o, set()) == model


@pytest.mark.parametrize("category", ["edge", "datacenter"])
def test_retinanet_is_a_datacenter_edge_benchmark_and_the_hint_says_so(loaded, category):
    # v6.0 (retinanet's rules round) lists retinanet under datacenter,edge only: as the checker reads it, neither an
    # edge nor a datacenter benchmark; the hint names the one category that has it, never the other refused one
    with pytest.raises(UserError, match=r"retinanet has no \w+ scenarios in v6.0 \(try --category datacenter,edge\)"):
        run_plan.plan(loaded, opts(model="retinanet", scenario="all", category=category))


@pytest.mark.parametrize("category", ["datacenter,edge", "edge,datacenter"])
def test_category_datacenter_edge_is_accepted(loaded, category):
    assert run_plan.plan(loaded, opts(model="retinanet", scenario="all", category=category)).scenarios == [
        "SingleStream", "Offline", "MultiStream", "Server"]
    assert run_plan.plan(loaded, opts(scenario="all", category=category)).scenarios == [
        "SingleStream", "MultiStream", "Offline", "Server"]


def test_category_hint_names_only_categories_that_have_the_model(loaded):
    with pytest.raises(UserError, match=r"no edge scenarios in v6.0 \(try --category datacenter or datacenter,edge\)"):
        run_plan.plan(loaded, opts(model="llama2-70b-99", scenario="all"))
    with pytest.raises(UserError, match=r"unknown category 'dc'"):
        run_plan.plan(loaded, opts(category="dc"))


def test_preflight_checks_the_images_val_map_names_up_to_count(loaded, data):
    """val_map.txt naming a missing image is found on the host; with --count only the first count lines matter."""
    (data / "imagenet" / "val_map.txt").write_text("a.JPEG 1\nb.JPEG 2\n")
    o = opts(dataset_dir=data / "imagenet", model_path=data / "models")
    with pytest.raises(UserError, match=r"1 of 2 images listed in .*val_map.txt are missing .*\(first: b.JPEG\)"):
        preflight.preflight(loaded, run_plan.plan(loaded, o), o, set())
    o = dataclasses.replace(o, count=1)
    assert preflight.preflight(loaded, run_plan.plan(loaded, o), o, set()).name == "resnet50_v1.onnx"


def test_preflight_dataset_dir_that_is_a_file_says_so(loaded, data):
    o = opts(dataset_dir=data / "imagenet" / "val_map.txt", model_path=data / "models")
    with pytest.raises(UserError) as e:
        preflight.preflight(loaded, run_plan.plan(loaded, o), o, set())
    assert str(e.value) == (f"--dataset-dir {data / 'imagenet' / 'val_map.txt'} is a file, not a folder (pass the "
                            f"ImageNet 2012 validation folder, the one holding it)")


@pytest.mark.parametrize("model,backend,expected", [
    ("resnet50", "tf", "resnet50_v1.pb"),
    ("bert-99", "pytorch", "model.pytorch"),
    ("rnnt", "pytorch", "DistributedDataParallel_1576581068.9962234-epoch-100.pt"),
])
def test_preflight_refuses_a_model_folder_without_the_model_file(loaded, tmp_path, model, backend, expected):
    """A --model-path folder lacking the backend's declared file is refused on the host, naming the folder and the
    file (it used to be mounted as the model, and the container failed on /model/<folder>)."""
    from mlperf_harness import workloads

    w = workloads.get(model)
    data = tmp_path / "data"
    for name in w.dataset_files:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text("[]" if name.endswith(".json") else "")
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "other.bin").write_bytes(b"x")
    o = opts(model=model, backend=backend, dataset_dir=data, model_path=tmp_path / "models")
    p = run_plan.plan(loaded, o)
    monkey_check = dataclasses.replace(p, workload=dataclasses.replace(w, dataset_check=""))
    with pytest.raises(UserError) as e:
        preflight.preflight(loaded, monkey_check, o, set())
    assert str(e.value) == (f"--model-path {tmp_path / 'models'} is a folder without {expected}, the "
                            f"{backend} model file of {model}, in it or one level below (pass that file, or the "
                            f"folder holding it; for demo data: mlperfctl demo-data DIR --model {model} "
                            f"--backend {backend})")


def _model_plan(loaded, tmp_path, model, backend, model_path):
    """A plan and options for `model` on `backend` with a dataset the host accepts (its own checks of the dataset and
    of the model's contents aside: this is about where --model-path points)."""
    from mlperf_harness import workloads

    w = workloads.get(model)
    data = tmp_path / "data"
    for name in w.dataset_files:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        if not (data / name).exists():
            (data / name).write_text("[]" if name.endswith(".json") else "")
    o = opts(model=model, backend=backend, dataset_dir=data, model_path=model_path)
    return dataclasses.replace(run_plan.plan(loaded, o), workload=dataclasses.replace(w, dataset_check="",
                                                                                           model_checks={})), o


def _every_family():
    """One (model, backend) per family and backend the CPU runs: --model-path must mean the same for all."""
    from mlperf_harness import workloads

    return [(w.names[0], b) for w in workloads.declarations() for b in w.backends("cpu")]


@pytest.mark.parametrize("model,backend", _every_family())
def test_model_path_is_the_file_or_a_folder_holding_it_in_it_or_one_level_below(loaded, tmp_path, model, backend):
    """The same rule for every family (the bug: demo/models worked for resnet50 and failed in bert's container,
    whose file demo-data writes one level below, in models/bert/): the file, the folder holding it, and the
    folder above that all resolve to the file (or, for folder models, the model folder)."""
    from mlperf_harness import workloads

    w = workloads.get(model)
    target = tmp_path / "models" / "family" / w.model_file(backend)
    if w.model_is_folder(backend):
        target.mkdir(parents=True)
        (target / "config.json").write_text("{}")
    else:
        target.parent.mkdir(parents=True)
        target.write_bytes(b"weights")
        for name, _ in w.companions(backend).items():  # what the backend reads beside it
            (target.parent / name).write_text("{}")
    for given in (target, target.parent, target.parent.parent):
        if w.model_is_folder(backend) and given == target.parent.parent:
            continue  # two levels above a folder model: the folder above is itself taken as the model
        p, o = _model_plan(loaded, tmp_path, model, backend, given)
        assert preflight.preflight(loaded, p, o, set()) == target, given


@pytest.mark.parametrize("model,backend", [("bert-99", "onnxruntime"), ("resnet50", "onnxruntime"),
                                           ("gptj-99", "pytorch")])
def test_several_models_one_level_below_are_refused_naming_them(loaded, tmp_path, model, backend):
    from mlperf_harness import workloads

    w = workloads.get(model)
    name = w.model_file(backend)
    for sub in ("a", "b"):
        (tmp_path / "models" / sub).mkdir(parents=True)
        if w.model_is_folder(backend):
            (tmp_path / "models" / sub / name).mkdir()
        else:
            (tmp_path / "models" / sub / name).write_bytes(b"w")
    p, o = _model_plan(loaded, tmp_path, model, backend, tmp_path / "models")
    with pytest.raises(UserError) as e:
        preflight.preflight(loaded, p, o, set())
    a, b = tmp_path / "models" / "a" / name, tmp_path / "models" / "b" / name
    assert str(e.value) == (f"--model-path {tmp_path / 'models'} holds 2 {backend} models of {model} one level "
                            f"below: {a}, {b} (pass the one to run)")
    if w.model_is_folder(backend):
        (tmp_path / "models" / name).mkdir()
    else:
        (tmp_path / "models" / name).write_bytes(b"")
    assert preflight.preflight(loaded, p, o, set()) == tmp_path / "models" / name  # in it wins over below


@pytest.mark.parametrize("model,backend,given,message", [
    ("resnet50", "tf", "resnet50_v1.onnx", "is a .onnx file, onnxruntime's kind of model, not the tf one of "
                                           "resnet50 (expected resnet50_v1.pb; pass it, or the folder holding it; "),
    ("bert-99", "pytorch", "model.onnx", "is a .onnx file, onnxruntime's kind of model, not the pytorch one "
                                         "of bert-99 (expected model.pytorch; pass it, or the folder holding it; "),
    ("gptj-99", "pytorch", "model.bin", "is a file, but the pytorch model of gptj-99 is a folder (checkpoint-final: "
                                        "pass it, or the folder holding it; "),
    ("rnnt", "pytorch", "nope.pt", "does not exist (expected the pytorch model file of rnnt, "
                                   "DistributedDataParallel_1576581068.9962234-epoch-100.pt, or a folder holding it; "),
])
def test_a_wrong_model_path_is_refused_on_the_host_naming_it_and_the_file_expected(loaded, tmp_path, model, backend,
                                                                                   given, message):
    path = tmp_path / given
    if given != "nope.pt":
        path.write_bytes(b"x")
    p, o = _model_plan(loaded, tmp_path, model, backend, path)
    with pytest.raises(UserError) as e:
        preflight.preflight(loaded, p, o, set())
    assert str(e.value) == (f"--model-path {path} {message}for demo data: mlperfctl demo-data DIR --model {model} "
                            f"--backend {backend})")


def test_folder_models_may_have_any_name(loaded, tmp_path):
    """sdxl's pytorch model is a folder (a diffusers checkpoint): any folder name is taken as it."""
    from mlperf_harness import workloads

    w = workloads.get("sdxl")
    assert w.model_is_folder("pytorch") and not workloads.get("resnet50").model_is_folder("onnxruntime")
    data = tmp_path / "data"
    for name in w.dataset_files:
        (data / name).parent.mkdir(parents=True, exist_ok=True)
        (data / name).write_text("")
    (tmp_path / "my-sdxl").mkdir()
    o = opts(model="sdxl", dataset_dir=data, model_path=tmp_path / "my-sdxl")
    p = dataclasses.replace(run_plan.plan(loaded, o), workload=dataclasses.replace(w, dataset_check=""))
    assert preflight.preflight(loaded, p, o, set()) == tmp_path / "my-sdxl"


def test_bert_pytorch_mounts_its_config_beside_the_weights(loaded, tmp_path):
    """pytorch bert reads bert_config.json beside model.pytorch: the workload declares it and it is mounted beside
    the weights, read-only; onnxruntime gets no such mount; a required companion that is missing is refused."""
    from mlperf_harness import workloads

    models = tmp_path / "bert"
    models.mkdir()
    (models / "model.pytorch").write_bytes(b"pt")
    (models / "model.onnx").write_bytes(b"onnx")
    (models / "bert_config.json").write_text("{}")
    p = run_plan.plan(loaded, opts(model="bert-99", backend="pytorch"))

    def mounts(plan):
        spec = container.container_spec(plan, image="img", dataset_dir=tmp_path, model_path=models / plan.model_file,
                                        results_dir=tmp_path, cache_dir=tmp_path, command=[], user=(1, 1),
                                        owner="h:1")
        return {m.target: m for m in spec.mounts}

    got = mounts(p)
    assert got["/model/bert_config.json"].read_only
    assert got["/model/bert_config.json"].source == str((models / "bert_config.json").resolve())
    assert "/model/bert_config.json" not in mounts(run_plan.plan(loaded, opts(model="bert-99", backend="onnxruntime")))
    (models / "bert_config.json").unlink()
    assert "/model/bert_config.json" not in mounts(p)  # optional: the reference's BERT-Large config is used
    strict = dataclasses.replace(p, workload=dataclasses.replace(
        workloads.get("bert-99"), model_companions={"pytorch": {"bert_config.json": True}}))
    with pytest.raises(UserError, match=f"{models} lacks bert_config.json, which the pytorch backend of bert-99 "
                                        f"reads beside model.pytorch"):
        preflight.check_companions(strict, models / "model.pytorch")


def test_demo_data_ends_with_the_run_command_for_what_it_wrote(loaded, tmp_path):
    """`mlperfctl demo-data` prints the exact `mlperfctl run` for its output; the host accepts those paths."""
    import shlex
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "mlperfctl", "demo-data", str(tmp_path / "demo"), "--model", "resnet50",
                        "--backend", "onnxruntime", "--images", "4"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    [line] = [ln for ln in r.stdout.splitlines() if ln.startswith("next: ")]
    argv = shlex.split(line[len("next: "):])
    assert argv[:4] == ["mlperfctl", "run", "--model", "resnet50"]
    flags = dict(zip(argv[4::2], argv[5::2], strict=True))
    o = opts(backend=flags["--backend"], dataset_dir=Path(flags["--dataset-dir"]),
             model_path=Path(flags["--model-path"]))
    p = run_plan.plan(loaded, o)
    assert preflight.preflight(loaded, p, o, set()) == tmp_path / "demo" / "models" / "resnet50_v1.onnx"


def test_a_tensorrt_plan_is_taken_as_the_model_of_the_tensorrt_cell(loaded, tmp_path):
    """The lean TensorRT runtime of the tensorrt cell runs serialized engines: --model-path resnet50.plan is not
    another backend's kind of model; a .pb still is."""
    p = run_plan.plan(loaded, RunOptions(model="resnet50", device="cuda", backend="tensorrt"))
    plan = tmp_path / "resnet50.plan"
    plan.write_bytes(b"engine")
    assert preflight.resolve_model_path(p, plan) == plan
    (tmp_path / "resnet50_v1.pb").write_bytes(b"graph")
    with pytest.raises(UserError, match="is a .pb file, tf's kind of model, not the tensorrt one"):
        preflight.resolve_model_path(p, tmp_path / "resnet50_v1.pb")
