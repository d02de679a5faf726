"""`mlperfctl run` on the real engine for the TensorFlow-family cells: mobilenet and efficientnet on tflite
(LiteRT) and resnet50 on tf (a frozen graph), each in its CPU container on demo data, test execution mode,
Offline and SingleStream, performance and accuracy; results (with `accuracy=` in accuracy.txt) in the open tree,
whose model_mapping.json maps mobilenet and efficientnet to resnet.

Cheap by design: 4 images and 4 test queries; demo-data writes only the file the run reads (`--backend`), the three
demo-data processes and the one build of the three images overlap, then the three models run side by side (each
Offline then SingleStream: one `mlperfctl run` per scenario, 3 containers each: info, performance, accuracy).
Needs tensorflow on the host (demo-data converts the Keras models to .tflite and freezes the .pb): `make setup`
installs it (the tflite extra); CI (MLPERFCTL_REQUIRE_ENGINE=1) fails without it instead of skipping."""

import glob
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
OPEN = Path("open", "lab")
IMAGES = 4
CELLS = {  # model -> (backend, the model file `demo-data --backend` writes)
    "mobilenet": ("tflite", "mobilenet_v1_1.0_224.tflite"),
    "efficientnet": ("tflite", "efficientnet-lite0-fp32.tflite"),
    "resnet50": ("tf", "resnet50_v1.pb"),
}


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), "PYTHONPATH": str(ROOT),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200"}


def start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env(), cwd=ROOT)


def finish(proc: subprocess.Popen) -> str:
    out, err = proc.communicate()
    assert proc.returncode == 0, f"{proc.args}\n{out[-3000:]}{err[-3000:]}"
    return out


@pytest.fixture(scope="module")
def submission(tmp_path_factory, local_base, need):
    need("tensorflow", "tflite")
    return tmp_path_factory.mktemp("tf-family") / "submission"


@pytest.fixture(scope="module")
def demo(submission, tmp_path_factory):
    """model -> its demo root; the three images are built while demo-data writes the files."""
    t0 = time.time()
    roots = {model: tmp_path_factory.mktemp(f"demo-{model}") for model in CELLS}
    procs = [start("mlperf_harness", "demo-data", roots[m], "--model", m, "--backend", b, "--images", IMAGES)
             for m, (b, _) in CELLS.items()]
    cells = [f"python-{b}-cpu-{m}" for m, (b, _) in CELLS.items()]
    build = start("mlperfctl", "build", *(a for cell in cells for a in ("--select", cell)))
    for proc in [*procs, build]:
        finish(proc)
    for model, (_, model_file) in CELLS.items():  # only the file the backend's run reads
        assert [p.name for p in (roots[model] / "models").iterdir()] == [model_file]
    print(f"demo data and images: {time.time() - t0:.0f} s")
    return roots


def run_model(model: str, data: Path, submission: Path) -> dict:
    backend = CELLS[model][0]
    out = {}
    for scenario in ("Offline", "SingleStream"):
        cmd = ["mlperfctl", "run", "--model", model, "--backend", backend, "--device", "cpu", "--division", "open",
               "--scenario", scenario, "--execution-mode", "test", "--count", IMAGES, "--test-query-count", IMAGES,
               "--threads", "2", "--dataset-dir", data / "datasets" / "imagenet", "--model-path", data / "models",
               "--submission-dir", submission, "--submitter", "lab", "--system-name", f"box_{backend}",
               "--cache-dir", data / "cache", "--json"]
        out[scenario] = json.loads(finish(start(*cmd)))
    return out


@pytest.fixture(scope="module")
def runs(demo, submission):
    """model -> scenario -> the run's --json summary; the three models side by side (the tree lock orders writes)."""
    t0 = time.time()
    with ThreadPoolExecutor(len(CELLS)) as pool:
        futures = {model: pool.submit(run_model, model, demo[model], submission) for model in CELLS}
        out = {model: f.result() for model, f in futures.items()}
    print(f"runs: {time.time() - t0:.0f} s")
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
    assert [(r["scenario"], r["mode"]) for r in ledger["runs"]] == [(scenario, "performance"), (scenario, "accuracy")]
    frameworks = ledger["harness"]["frameworks"]  # what the image has: its backend's framework
    assert {"tflite": "ai_edge_litert", "tf": "tensorflow"}[backend] in frameworks, frameworks


def test_open_tree_maps_the_open_models_to_resnet(runs, submission):
    mapping = json.loads((submission / OPEN / "model_mapping.json").read_text())
    assert mapping == {"mobilenet": "resnet", "efficientnet": "resnet"}
