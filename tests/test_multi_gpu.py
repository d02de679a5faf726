"""Several GPUs for one run, on paper until a multi-GPU machine can run it: `run --gpus 8` as the spec each engine
(docker's device request, podman's CDI devices), launcher (Slurm GRES) and export (Kubernetes limits, Apptainer)
turns it into. No GPU is needed: these are the values handed to the engine or written to files."""

from pathlib import Path

import pytest

from mlperfctl.engines import cliargs
from mlperfctl.engines.docker import DockerEngine
from mlperfctl.errors import UserError
from mlperfctl.export import apptainer, kubernetes
from mlperfctl.export.specs import Job
from mlperfctl.launch import slurm
from mlperfctl.options import RunOptions
from mlperfctl.run import container, preflight
from mlperfctl.run import plan as run_plan


def _spec(loaded, tmp_path, device, gpus):
    p = run_plan.plan(loaded, RunOptions(model="resnet50", device=device, backend="onnxruntime"))
    return container.container_spec(p, image="img", dataset_dir=tmp_path, model_path=tmp_path / "m.onnx",
                                    results_dir=tmp_path, cache_dir=tmp_path, command=["info"], user=(1, 1),
                                    owner="h:1", gpus=gpus)


def _docker_kwargs(spec):
    engine = object.__new__(DockerEngine)  # run_kwargs is pure: no daemon is asked
    engine._version = {"Version": "20.10", "Components": []}
    return engine.run_kwargs(spec)


def test_eight_nvidia_gpus_in_each_engine(loaded, tmp_path):
    spec = _spec(loaded, tmp_path, "cuda", 8)
    assert spec.gpu.vendor == "nvidia" and spec.gpu.count == 8
    (request,) = _docker_kwargs(spec)["device_requests"]
    assert request["Count"] == 8 and request["Capabilities"] == [["gpu"]]
    podman = cliargs.run_args(spec, cli="podman")
    assert [podman[i + 1] for i, a in enumerate(podman) if a == "--device"] == [f"nvidia.com/gpu={i}" for i in range(8)]
    assert cliargs.run_args(spec, cli="docker")[cliargs.run_args(spec, cli="docker").index("--gpus") + 1] == "8"
    # without --gpus: every GPU of the host
    every = _spec(loaded, tmp_path, "cuda", None)
    assert every.gpu.count == -1 and _docker_kwargs(every)["device_requests"][0]["Count"] == -1
    assert "nvidia.com/gpu=all" in cliargs.run_args(every, cli="podman")


def test_eight_rocm_gpus_are_the_first_eight_hip_devices(loaded, tmp_path):
    spec = _spec(loaded, tmp_path, "rocm", 8)
    assert spec.devices == ("/dev/kfd", "/dev/dri") and spec.gpu is None
    assert dict(spec.env)["HIP_VISIBLE_DEVICES"] == "0,1,2,3,4,5,6,7"
    assert "HIP_VISIBLE_DEVICES" not in dict(_spec(loaded, tmp_path, "rocm", None).env)


def test_slurm_job_asks_for_eight_gpus():
    opts = RunOptions(model="resnet50", device="cuda", gpus=8)
    assert slurm.gres_for(opts, "cuda") == "gpu:8" and slurm.gres_for(opts, "rocm") == "gpu:8"
    assert slurm.gres_for(RunOptions(model="resnet50"), "cuda") is None
    text = slurm.job_script(name="j", mlperfctl=["mlperfctl"], runs=[["run", "--model", "resnet50", "--gpus", "8"]],
                            engine="docker", workdir=Path("/w"), partition="gpu", log=Path("/l"), gres="gpu:8")
    assert "#SBATCH --gres=gpu:8" in text.splitlines() and "--gpus 8" in text
    flags = slurm.run_flags(opts, _build(), Path("matrix.yaml"), "Offline", "performance")
    assert flags[flags.index("--gpus") + 1] == "8"  # the job's own mlperfctl run asks its engine for 8 too


def _build():
    from mlperfctl.options import BuildOptions
    return BuildOptions(engine="docker")


def test_kubernetes_and_apptainer_get_eight_gpus(loaded, tmp_path):
    spec = _spec(loaded, tmp_path, "cuda", 8)
    job = Job("python-onnxruntime-cuda-resnet50", "Offline", "performance", spec, True)
    limits = kubernetes.job_manifest(job, gpus=8)["spec"]["template"]["spec"]["containers"][0]["resources"]
    assert limits == {"limits": {"nvidia.com/gpu": 8}}
    args = apptainer.exec_args(job, sif="x.sif", results=Path("/r"), cache=Path("/c"))
    assert "--nv" in args and "CUDA_VISIBLE_DEVICES=0,1,2,3,4,5,6,7" in args[args.index("--env") + 1]


@pytest.mark.parametrize("device,gpus,message", [("cuda", 0, "--gpus 0: give 1 or more"),
                                                 ("cpu", 8, "--gpus 8: the cell runs on cpu")])
def test_bad_gpu_counts_are_one_line(device, gpus, message):
    with pytest.raises(UserError, match=message):
        preflight.check_gpus(device, gpus)


def test_tensor_parallel_counts_the_gpus_the_run_is_given(loaded):
    """--tensor-parallel against --gpus N when given, else against the host's count; a run of 8 on a host of 8
    asked for 4 GPUs cannot spread a model over 8."""
    p = run_plan.plan(loaded, RunOptions(model="llama3.1-8b", device="cuda", backend="vllm"))
    eight = lambda device: 8  # noqa: E731 - the host's count, as nvidia-smi -L would give it
    preflight.check_tensor_parallel(p, RunOptions(model="llama3.1-8b", tensor_parallel=8), gpus=eight)
    preflight.check_tensor_parallel(p, RunOptions(model="llama3.1-8b", tensor_parallel=4, gpus=4), gpus=eight)
    with pytest.raises(UserError, match=r"tensor-parallel 8 is more than the 4 GPU\(s\) this run is given \(--gpus 4"):
        preflight.check_tensor_parallel(p, RunOptions(model="llama3.1-8b", tensor_parallel=8, gpus=4), gpus=eight)
    with pytest.raises(UserError, match=r"more than the 8 GPU\(s\) this run is given \(the host's"):
        preflight.check_tensor_parallel(p, RunOptions(model="llama3.1-8b", tensor_parallel=16), gpus=eight)
