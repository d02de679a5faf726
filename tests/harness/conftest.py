"""Shared fixtures: demo data made once per session, and a runner for `python -m mlperf_harness`."""

import subprocess
import sys
from pathlib import Path

import pytest

DEMO_IMAGES = 16


def harness(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mlperf_harness", *map(str, args)], capture_output=True, text=True, cwd=cwd
    )


def flags(defaults: dict, over: dict) -> list[str]:
    """`--key value` pairs: the defaults with `over`'s keys (underscores for dashes) replacing or adding theirs; a
    value of None drops its flag."""
    opts = {**defaults, **{k.replace("_", "-"): v for k, v in over.items()}}
    return [x for k, v in opts.items() if v is not None for x in (f"--{k}", str(v))]


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("demo")
    proc = harness("demo-data", root, "--images", DEMO_IMAGES, "--seed", 7)
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM" in proc.stderr
    return root


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("npy-cache")


@pytest.fixture
def run_args(demo, cache_dir, tmp_path):
    """Arguments of a small onnxruntime CPU run on the demo data; tests override what they vary."""

    def make(**over) -> list[str]:
        opts = {
            "model": "resnet50",
            "backend": "onnxruntime",
            "device": "cpu",
            "scenario": "Offline",
            "mode": "performance",
            "execution-mode": "test",
            "dataset-dir": demo / "datasets/imagenet",
            "model-path": demo / "models/resnet50_v1.onnx",
            "output-dir": tmp_path / "out",
            "cache-dir": cache_dir,
        }
        return ["run", *flags(opts, over)]

    return make


@pytest.fixture(scope="session")
def sdxl_demo(tmp_path_factory) -> Path:
    """Tiny SDXL pipeline and COCO-2014 subset (6 captions) from `demo-data --model sdxl`."""
    root = tmp_path_factory.mktemp("sdxl-demo")
    proc = harness("demo-data", root, "--model", "sdxl", "--images", 6, "--seed", 3)
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM" in proc.stderr
    return root
