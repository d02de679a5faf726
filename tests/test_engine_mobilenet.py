"""`mlperfctl run` on the real engine for the TensorFlow-family cells: mobilenet and efficientnet on tflite
(LiteRT) and resnet50 on tf (a frozen graph), each in its CPU container on demo data, test execution mode,
Offline and SingleStream, performance and accuracy; results (with `accuracy=` in accuracy.txt) in the open tree,
whose model_mapping.json maps mobilenet and efficientnet to resnet.

Cheap by design: 8 images, 8 test queries, one image build per cell. Needs tensorflow on the host (demo-data
converts the Keras models to .tflite and freezes the .pb)."""

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
OPEN = Path("open", "lab")
IMAGES = 8
CELLS = {  # model -> (backend, the model file demo-data writes, framework name in system json)
    "mobilenet": ("tflite", "mobilenet_v1_1.0_224.tflite"),
    "efficientnet": ("tflite", "efficientnet-lite0-fp32.tflite"),
    "resnet50": ("tf", "resnet50_v1.pb"),
}


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), "PYTHONPATH": str(ROOT),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200"}


@pytest.fixture(scope="module")
def submission(tmp_path_factory, local_base):
    pytest.importorskip("tensorflow", reason="demo-data needs tensorflow-cpu on the host (pip install .[tflite])")
    return tmp_path_factory.mktemp("tf-family") / "submission"


@pytest.fixture(scope="module")
def runs(submission, tmp_path_factory):
    """model -> scenario -> the run's --json summary; demo data per model, both scenarios, both modes."""
    out = {}
    for model, (backend, model_file) in CELLS.items():
        data = tmp_path_factory.mktemp(f"demo-{model}")
        r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(data), "--model", model,
                            "--images", str(IMAGES)], capture_output=True, text=True, env=env(), cwd=ROOT)
        assert r.returncode == 0, r.stderr[-3000:]
        assert (data / "models" / model_file).is_file()
        for scenario in ("Offline", "SingleStream"):
            cmd = [sys.executable, "-m", "mlperfctl", "run", "--model", model, "--backend", backend,
                   "--device", "cpu", "--scenario", scenario, "--execution-mode", "test",
                   "--count", IMAGES, "--test-query-count", IMAGES, "--threads", "2",
                   "--dataset-dir", data / "datasets" / "imagenet", "--model-path", data / "models",
                   "--submission-dir", submission, "--submitter", "lab", "--system-name", f"box_{backend}",
                   "--cache-dir", data / "cache", "--json"]
            r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=env(), cwd=ROOT)
            assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
            out.setdefault(model, {})[scenario] = json.loads(r.stdout)
    return out


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
@pytest.mark.parametrize("model", sorted(CELLS))
def test_runs_in_its_container_with_accuracy(runs, submission, model, scenario):
    backend = CELLS[model][0]
    summary = runs[model][scenario]
    assert summary["cell"] == f"python-{backend}-cpu-{model}"
    rows = {r["mode"]: r for r in summary["results"]}
    assert rows["performance"]["result_validity"] == "VALID" or rows["performance"]["validity_notes"]
    assert rows["accuracy"]["accuracy"].startswith("accuracy=") and f"total={IMAGES}" in rows["accuracy"]["accuracy"]
    res = submission / OPEN / "results" / f"box_{backend}" / model / scenario
    for name in ("performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt", "measurements.json", "run.json"):
        assert (res / name).is_file(), name
    assert (res / "accuracy" / "accuracy.txt").read_text().startswith("accuracy=")
    ledger = json.loads((res / "run.json").read_text())["performance"]
    assert ledger["exit_status"] == 0 and ledger["cell"] == summary["cell"]
    frameworks = ledger["harness"]["frameworks"]  # what the image has: its backend's framework
    assert {"tflite": "ai_edge_litert", "tf": "tensorflow"}[backend] in frameworks, frameworks


def test_open_tree_maps_the_open_models_to_resnet(runs, submission):
    mapping = json.loads((submission / OPEN / "model_mapping.json").read_text())
    assert mapping == {"mobilenet": "resnet", "efficientnet": "resnet"}
