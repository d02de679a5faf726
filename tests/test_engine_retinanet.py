"""`mlperfctl run --model retinanet` on the real engine: Offline and SingleStream (performance and accuracy) in
the onnxruntime CPU container on demo data (2 images, one query each: one 800x800 inference takes seconds on a
CPU), results in the submission tree with the `mAP=` line the rulebook reads; bad datasets refused on the host
before any container starts."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
RUN_LABEL = "io.mlperfctl.run"
CELL = "python-onnxruntime-cpu-retinanet"
COUNT = 2
VERSION = mlperf_rules.rules_round("retinanet").version  # v6.0: the last round with retinanet closed


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), "PYTHONPATH": str(ROOT),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200"}


def mlperfctl(*args, expect=0, cwd=ROOT) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "mlperfctl", *map(str, args)], capture_output=True, text=True,
                       env=env(), cwd=cwd)
    assert r.returncode == expect, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def run(demo: Path, sub: Path, *extra, dataset: Path | None = None, expect=0):
    return mlperfctl("run", "--model", "retinanet", "--backend", "onnxruntime", "--device", "cpu",
                     "--dataset-dir", dataset or demo / "datasets" / "openimages", "--model-path", demo / "models",
                     "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu",
                     "--cache-dir", demo / "cache", "--count", COUNT, "--test-query-count", 1,
                     "--version", VERSION, *extra, expect=expect)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base):
    root = tmp_path_factory.mktemp("retinanet-demo")
    mlperfctl("demo-data", root, "--model", "retinanet", "--images", COUNT, "--seed", 3)
    (root / "cache").mkdir()
    return root


@pytest.fixture(scope="module")
def tree(demo, tmp_path_factory):
    """Offline and SingleStream, each performance then accuracy, in containers of one image."""
    sub = tmp_path_factory.mktemp("retinanet-tree") / "submission"
    summaries = {s: json.loads(run(demo, sub, "--scenario", s, "--json").stdout) for s in ("Offline", "SingleStream")}
    return sub, summaries


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
def test_run_in_container_writes_complete_results_with_map(tree, scenario, docker_client):
    sub, summaries = tree
    summary = summaries[scenario]
    assert summary["cell"] == CELL
    rows = {r["mode"]: r for r in summary["results"]}
    assert rows["performance"]["result_validity"] in ("VALID", "INVALID")
    assert rows["accuracy"]["accuracy"].startswith("mAP=")
    res = sub / "open" / "lab" / "results" / "box_cpu" / "retinanet" / scenario
    for name in ("performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_summary.txt", "accuracy/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt", "measurements.json",
                 "user.conf", "README.md", "run.json"):
        assert (res / name).is_file(), name
    text = (res / "accuracy" / "accuracy.txt").read_text()
    rnd = mlperf_rules.get_round(VERSION)
    assert rnd.version == "v6.0"
    line = next(x for x in text.splitlines() if x.startswith("mAP="))
    assert re.match(rnd.acc_patterns["mAP"], line) and f"images={COUNT}," in line
    value = mlperf_rules.accuracy_values(rnd, "retinanet", text)["mAP"]
    assert value is not None and 0.0 <= value <= 100.0
    assert "Average Precision" in text  # COCOeval's table, as the reference script prints it
    ledger = json.loads((res / "run.json").read_text())["accuracy"]
    assert ledger["cell"] == CELL and ledger["exit_status"] == 0
    assert {r["mode"] for r in ledger["runs"]} == {"performance", "accuracy"}
    assert f"retinanet.{scenario}.min_query_count = 1" in (res / "user.conf").read_text()
    # this run's containers are gone (other sessions may run their own on the shared engine)
    assert not docker_client.containers.list(all=True, filters={"label": RUN_LABEL, "ancestor": summary["image"]})


@pytest.mark.parametrize("broken", ["no annotations file", "an image missing"])
def test_bad_dataset_is_refused_before_any_container(demo, tmp_path, broken, docker_client):
    ds = tmp_path / "openimages"
    shutil.copytree(demo / "datasets" / "openimages", ds)
    annotations = ds / "annotations" / "openimages-mlperf.json"
    if broken == "no annotations file":
        annotations.unlink()
        needle = f"{annotations.relative_to(ds)}"
    else:
        name = json.loads(annotations.read_text())["images"][1]["file_name"]
        (ds / "validation" / "data" / name).unlink()
        needle = name
    r = run(demo, tmp_path / "sub", "--scenario", "Offline", dataset=ds, expect=2)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and needle in lines[0] and "Traceback" not in r.stderr, r.stderr
    assert "▶" not in r.stdout + r.stderr and not (tmp_path / "sub").exists()
