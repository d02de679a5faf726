"""The CUDA path without a GPU (docker only: the image is the same for podman, and it is GBs): the cheapest CUDA
cell, python-onnxruntime-cuda-resnet50, built on the registry-free cuda device (the local Debian base plus the CUDA
runtime wheels from PyPI), and inside it onnxruntime-gpu lists the CUDA and TensorRT execution providers and the CUDA
libraries its CUDA provider links load (no driver needed to load them); the tensorrt cell, on the same stages, with
TensorRT's lean runtime from PyPI: its module loads, the harness reports it and refuses an ONNX model (which only
the full TensorRT builds engines from) in one line naming the fix; and `run --device cuda` on a host whose engine has
no NVIDIA runtime is refused on the host in one line before any container starts."""

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlperfctl.builder import executor
from mlperfctl.engines.base import ContainerSpec
from mlperfctl.options import BuildOptions

pytestmark = [pytest.mark.engine, pytest.mark.slow,
              pytest.mark.docker_only("one CUDA image build (GBs) per CI run: the image is the same under podman")]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
CELL = "python-onnxruntime-cuda-resnet50"
CHECK = """
import ctypes, json, onnxruntime, mlperf_loadgen, os
libs = {}
for lib in ("libcudart.so.13", "libcublas.so.13", "libcublasLt.so.13", "libcudnn.so.9", "libcufft.so.12",
            "libcurand.so.10", "libnvrtc.so.13", "libnvJitLink.so.13"):
    try:
        ctypes.CDLL(lib)
        libs[lib] = "ok"
    except OSError as e:
        libs[lib] = str(e)
try:
    import tensorrt
    trt = tensorrt.__version__
except ImportError as e:
    trt = "absent: " + str(e)
print(json.dumps({"ort": onnxruntime.__version__, "providers": onnxruntime.get_available_providers(),
                  "device": onnxruntime.get_device(), "libs": libs, "uid": os.getuid(), "tensorrt": trt}))
"""


def _build(loaded, cell, local_base, engine, engine_name):
    """The cell on the registry-free cuda base, built or cached, every stage locked."""
    options = BuildOptions(bases={"cuda": local_base}, ca_certs=tuple(Path(p) for p in CA_CERTS), engine=engine_name)
    info = executor.ensure_image(loaded, loaded.parse_cell(cell), options, engine=engine)
    assert info.state in ("built", "cached") and info.unlocked == []
    return info


def test_cuda_cell_builds_on_the_registry_free_base_and_loads_its_cuda_libraries(loaded, local_base, engine,
                                                                                 engine_name):
    info = _build(loaded, CELL, local_base, engine, engine_name)
    assert info.labels["org.opencontainers.image.base.name"] == local_base
    out = json.loads(engine.output(ContainerSpec(image=info.tag, entrypoint=("python3",), argv=("-c", CHECK))))
    assert out["ort"] == loaded.matrix.backends["onnxruntime"].install["cuda"].packages["onnxruntime-gpu"]
    assert {"CUDAExecutionProvider", "TensorrtExecutionProvider"} <= set(out["providers"]) and out["device"] == "GPU"
    assert out["libs"] == dict.fromkeys(out["libs"], "ok"), out["libs"]
    assert out["uid"] == 10001
    assert out["tensorrt"].startswith("absent")  # the onnxruntime cell has no TensorRT module; the tensorrt cell has
    size = engine.inspect_image(info.tag).size
    assert size < 3.2 * 2**30, f"{CELL} is {size / 2**30:.2f} GiB"


TRT_CELL = "python-tensorrt-cuda-resnet50"
TRT_CHECK = """
import json, pathlib, subprocess, sys
from mlperf_harness.workloads.imagenet.backends import create
from mlperf_harness.frameworks import tensorrt as tensorrt_backend
from mlperf_harness.errors import UsageError
trt = tensorrt_backend.runtime_module()
onnx = pathlib.Path("/tmp/resnet50_v1.onnx")
onnx.write_bytes(b"not read: refused before")
try:
    create("tensorrt", "cuda", onnx, 1, "fp32", pathlib.Path("/tmp/cache"), 8)
    refusal = None
except UsageError as e:
    refusal = str(e)
harness = subprocess.run([sys.executable, "-m", "mlperf_harness", "info"], capture_output=True, text=True)
print(json.dumps({"module": trt.__name__, "version": trt.__version__, "builds": tensorrt_backend.builds_engines(trt),
                  "refusal": refusal, "info": json.loads(harness.stdout)}))
"""


def test_tensorrt_cell_builds_with_the_lean_runtime_and_refuses_onnx_models(loaded, local_base, engine,
                                                                            engine_name):
    info = _build(loaded, TRT_CELL, local_base, engine, engine_name)
    out = json.loads(engine.output(ContainerSpec(image=info.tag, entrypoint=("python3",), argv=("-c", TRT_CHECK))))
    pins = loaded.matrix.backends["tensorrt"].install["cuda"].packages
    assert out["module"].startswith("tensorrt_lean") and out["version"] == pins["tensorrt-lean-cu13-bindings"]
    assert out["builds"] is False  # the lean runtime has no Builder nor ONNX parser
    assert "lean runtime" in out["refusal"] and "--versionCompatible" in out["refusal"], out["refusal"]
    assert "\n" not in out["refusal"]
    assert out["info"]["frameworks"]["tensorrt"] == out["version"] and out["info"]["tensorrt_runtime"] == "lean"
    size = engine.inspect_image(info.tag).size
    assert size < 2.6 * 2**30, f"{TRT_CELL} is {size / 2**30:.2f} GiB"


def test_run_device_cuda_without_a_gpu_is_refused_before_any_container(tmp_path, engine, engine_name):
    if "nvidia" in engine.runtimes():
        pytest.skip("this engine has an NVIDIA runtime")
    (tmp_path / "imagenet").mkdir()
    (tmp_path / "imagenet" / "val_map.txt").write_text("a.JPEG 1\n")
    (tmp_path / "imagenet" / "a.JPEG").write_bytes(b"jpeg")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "resnet50_v1.onnx").write_bytes(b"onnx")
    before = engine.list_containers("io.mlperfctl.cell")
    env = {**os.environ, "MLPERFCTL_ENGINE": engine_name}
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--model", "resnet50", "--device", "cuda",
                        "--backend", "onnxruntime", "--scenario", "Offline",
                        "--dataset-dir", str(tmp_path / "imagenet"),
                        "--model-path", str(tmp_path / "m"), "--submission-dir", str(tmp_path / "sub")],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "device cuda" in lines[0] and "NVIDIA" in lines[0], r.stderr
    assert not (tmp_path / "sub").exists()
    assert not any(labels.get("io.mlperfctl.cell") == CELL and cid not in {b[0] for b in before}
                   for cid, labels in engine.list_containers("io.mlperfctl.cell"))
