"""`mlperfctl export kubernetes` (validated against the Kubernetes schemas with kubernetes-validate)
and `mlperfctl export apptainer` (content only: Apptainer cannot be installed here)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from mlperfctl.engines.base import ContainerSpec, GpuRequest, Mount
from mlperfctl.export import apptainer, kubernetes
from mlperfctl.export.specs import Job

kubernetes_validate = pytest.importorskip("kubernetes_validate")
ROOT = Path(__file__).resolve().parent.parent
K8S = "1.30.0"


def mlperfctl(*args, cwd):
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLPERFCTL_ENGINE_URL": "unix:///nonexistent.sock",
           "COLUMNS": "200"}
    r = subprocess.run([sys.executable, "-m", "mlperfctl", *map(str, args)], capture_output=True, text=True,
                       env=env, cwd=cwd)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_export_kubernetes_jobs_validate_and_keep_the_hardening(tmp_path):
    mlperfctl("export", "kubernetes", "-m", "resnet50", "-b", "onnxruntime", "-d", "cpu", "-o", tmp_path / "k8s",
              "--dataset-dir", "/mnt/imagenet", "--model-path", "/mnt/models/resnet50_v1.onnx",
              "--node-selector", "pool=cpu", "--claim", "/data=imagenet-pvc", "--results-claim", "results-pvc",
              "--namespace", "mlperf", "--image", "reg.example/lab/resnet@sha256:" + "a" * 64, cwd=tmp_path)
    files = sorted((tmp_path / "k8s").glob("*.yaml"))
    assert [f.name for f in files] == ["mlperf-python-onnxruntime-cpu-resnet50-offline-accuracy.yaml",
                                       "mlperf-python-onnxruntime-cpu-resnet50-offline-performance.yaml",
                                       "networkpolicy.yaml"]
    for f in files:
        manifest = yaml.safe_load(f.read_text())
        assert kubernetes_validate.validate(manifest, K8S, strict=True) == "1.30"
    job = yaml.safe_load(files[1].read_text())
    assert job["kind"] == "Job" and job["metadata"]["namespace"] == "mlperf"
    pod = job["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["image"].endswith("@sha256:" + "a" * 64) and "annotations" not in job["metadata"]
    sc = c["securityContext"]
    assert sc == {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001, "readOnlyRootFilesystem": True,
                  "allowPrivilegeEscalation": False, "privileged": False, "capabilities": {"drop": ["ALL"]}}
    assert pod["nodeSelector"] == {"pool": "cpu"} and pod["restartPolicy"] == "Never"
    mounts = {m["mountPath"]: m for m in c["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert mounts["/data"]["readOnly"] and volumes[mounts["/data"]["name"]]["persistentVolumeClaim"] == {
        "claimName": "imagenet-pvc", "readOnly": True}
    model = mounts["/model/resnet50_v1.onnx"]
    assert model["readOnly"] and volumes[model["name"]]["hostPath"]["path"] == "/mnt/models/resnet50_v1.onnx"
    assert volumes["results"]["persistentVolumeClaim"]["claimName"] == "results-pvc"
    assert "readOnly" not in mounts["/results"] and volumes[mounts["/tmp"]["name"]]["emptyDir"]["medium"] == "Memory"
    args = c["args"]
    assert args[args.index("--scenario") + 1] == "Offline" and args[args.index("--mode") + 1] == "performance"
    assert args[args.index("--model-path") + 1] == "/model/resnet50_v1.onnx"
    assert "resources" not in c   # a cpu cell asks for no GPU
    policy = yaml.safe_load(files[2].read_text())
    assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"] and "egress" not in policy["spec"]


def _job(gpu=None, devices=()):
    spec = ContainerSpec(image="img@sha256:" + "b" * 64, argv=("run", "--model", "sdxl"),
                         mounts=(Mount("/d", "/data"), Mount("/m", "/model/m"), Mount("/r", "/results", False),
                                 Mount("/c", "/cache", False)), gpu=gpu, devices=devices, user="10001:10001",
                         shm_size="8g")
    return Job("python-pytorch-cuda-sdxl", "Offline", "performance", spec, True)


@pytest.mark.parametrize("gpu,devices,resource", [(GpuRequest("nvidia"), (), "nvidia.com/gpu"),
                                                  (None, ("/dev/kfd", "/dev/dri"), "amd.com/gpu")])
def test_gpu_limits_validate(gpu, devices, resource):
    m = kubernetes.job_manifest(_job(gpu, devices), gpus=2)
    assert kubernetes_validate.validate(m, K8S, strict=True)
    c = m["spec"]["template"]["spec"]["containers"][0]
    assert c["resources"] == {"limits": {resource: 2}}
    shm = next(v for v in m["spec"]["template"]["spec"]["volumes"] if v["name"] == "dshm")
    assert shm["emptyDir"]["sizeLimit"] == "8Gi"


def test_a_broken_manifest_is_caught_by_the_schema():
    m = kubernetes.job_manifest(_job())
    m["spec"]["template"]["spec"]["containers"][0]["securityContext"]["runAsUser"] = "10001"
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(m, K8S, strict=True)


def test_export_apptainer_definition_and_exec_line(tmp_path):
    bundle = tmp_path / "resnet.tar"
    bundle.write_bytes(b"")
    mlperfctl("export", "apptainer", "python-onnxruntime-cpu-resnet50", "-o", tmp_path / "app", "--mode",
              "performance", "--dataset-dir", "/mnt/imagenet", "--model-path", "/mnt/models",
              "--results-dir", "/scratch/results", "--cache-dir", "/scratch/cache", "--bundle", bundle,
              "--image", "mlperfctl/python-onnxruntime-cpu-resnet50:abc", cwd=tmp_path)
    d = tmp_path / "app"
    definition = (d / "python-onnxruntime-cpu-resnet50.def").read_text().splitlines()
    assert definition[:2] == ["Bootstrap: docker-archive", f"From: {bundle}"]
    assert '    exec python3 -m mlperf_harness "$@"' in definition
    run = (d / "run.sh").read_text().splitlines()
    execs = [shlex.split(line) for line in run if line.startswith("apptainer exec")]
    assert len(execs) == 1
    argv = execs[0]
    assert argv[:5] == ["apptainer", "exec", "--containall", "--no-home", "--cleanenv"]
    binds = [argv[i + 1] for i, a in enumerate(argv) if a == "--bind"]
    assert binds == ["/mnt/imagenet:/data:ro", "/mnt/models:/model/models:ro", "/scratch/results:/results",
                     "/scratch/cache:/cache"]
    sif = argv.index("python-onnxruntime-cpu-resnet50.sif")
    assert argv[sif + 1:sif + 5] == ["python3", "-m", "mlperf_harness", "run"]
    assert argv[argv.index("--model-path") + 1] == "/model/models/resnet50_v1.onnx"
    assert "--nv" not in argv and "--rocm" not in argv
    r = subprocess.run(["bash", "-n", str(d / "run.sh")], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    daemon = apptainer.definition(_job(GpuRequest("nvidia")))
    assert daemon.startswith("Bootstrap: docker-daemon\nFrom: img@sha256:")
    nv = apptainer.exec_args(_job(GpuRequest("nvidia")), sif="x.sif", results=Path("/r"), cache=Path("/c"))
    rocm = apptainer.exec_args(_job(None, ("/dev/kfd",)), sif="x.sif", results=Path("/r"), cache=Path("/c"))
    assert "--nv" in nv and "--rocm" in rocm and nv.index("--nv") < nv.index("x.sif")
