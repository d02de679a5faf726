"""`mlperfctl run --model bert-99` on the real engine: the demo BERT (the BERT-Large code path, a tiny config)
and a handful of SQuAD v1.1 questions in the onnxruntime CPU container, Offline and SingleStream, performance
and accuracy, results in the submission tree with the accuracy.txt line the round's checker reads; a SQuAD file
of another version is refused in one line before any container starts. One image for the module."""

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
RUN_LABEL = "io.mlperfctl.run"
CELL_LABEL = "io.mlperfctl.cell"
RESULTS = Path("open", "lab", "results", "box_cpu", "bert-99")
QUESTIONS = 4


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), "PYTHONPATH": str(ROOT),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200"}


def mlperfctl_run(dataset: Path, models: Path, sub: Path, *extra) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "mlperfctl", "run", "--model", "bert-99", "--backend", "onnxruntime",
           "--device", "cpu", "--dataset-dir", dataset, "--model-path", models, "--submission-dir", sub,
           "--submitter", "lab", "--system-name", "box_cpu", "--threads", "2", "--test-query-count", "8", *extra]
    return subprocess.run(list(map(str, cmd)), capture_output=True, text=True, env=env(), cwd=ROOT)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base):
    root = tmp_path_factory.mktemp("bert-demo")
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(root), "--model", "bert-99",
                        "--images", str(QUESTIONS)], capture_output=True, text=True, env=env(), cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return root


@pytest.fixture(scope="module")
def tree(demo, tmp_path_factory):
    """Offline and SingleStream (performance and accuracy) in the python-onnxruntime-cpu-bert-99 container."""
    sub = tmp_path_factory.mktemp("bert-tree") / "submission"
    summaries = {}
    for scenario in ("Offline", "SingleStream"):
        r = mlperfctl_run(demo / "datasets" / "squad", demo / "models" / "bert", sub, "--scenario", scenario, "--json")
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        summaries[scenario] = json.loads(r.stdout)
    return sub, summaries


def no_run_containers(docker_client) -> bool:
    """None of this cell's run containers is left (the engine is shared: other runs may be under way)."""
    labels = [RUN_LABEL, f"{CELL_LABEL}=python-onnxruntime-cpu-bert-99"]
    return not docker_client.containers.list(all=True, filters={"label": labels})


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
def test_bert_runs_in_its_container_and_writes_a_complete_result(tree, scenario, docker_client):
    sub, summaries = tree
    summary = summaries[scenario]
    assert summary["cell"] == "python-onnxruntime-cpu-bert-99"
    rows = {r["mode"]: r for r in summary["results"]}
    perf = rows["performance"]
    assert perf["result_validity"] == "VALID" or perf["validity_notes"], perf
    res = sub / RESULTS / scenario
    for name in ("performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_summary.txt", "accuracy/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt", "measurements.json",
                 "user.conf", "README.md", "run.json"):
        assert (res / name).is_file(), name
    accuracy = (res / "accuracy" / "accuracy.txt").read_text()
    rnd = mlperf_rules.rules_round("bert-99")
    assert rnd.version == "v6.1"
    f1 = mlperf_rules.accuracy_values(rnd, "bert-99", accuracy)["F1"]
    assert f1 is not None and 0.0 <= f1 <= 100.0, accuracy  # the line the v6.1 checker's F1 pattern reads
    assert json.loads(accuracy.splitlines()[0]).keys() == {"exact_match", "f1"}
    records = json.loads((res / "accuracy" / "mlperf_log_accuracy.json").read_text())
    assert len(records) > QUESTIONS  # every feature once: the first demo paragraph needs two windows
    ledger = json.loads((res / "run.json").read_text())["performance"]
    assert ledger["exit_status"] == 0 and {r["mode"] for r in ledger["runs"]} == {"performance", "accuracy"}
    assert (sub / "open" / "lab" / "src" / "bert-99" / "mlperf_harness" / "workloads" / "bert" / "runner.py").is_file()
    assert no_run_containers(docker_client)


def test_squad_of_another_version_is_refused_before_any_container(demo, tmp_path, docker_client):
    squad = tmp_path / "squad"
    squad.mkdir()
    data = json.loads((demo / "datasets" / "squad" / "dev-v1.1.json").read_text())
    (squad / "dev-v1.1.json").write_text(json.dumps({**data, "version": "v2.0"}))
    (squad / "vocab.txt").write_text((demo / "datasets" / "squad" / "vocab.txt").read_text())
    sub = tmp_path / "submission"
    r = mlperfctl_run(squad, demo / "models" / "bert", sub, "--scenario", "Offline")
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr
    assert str(squad / "dev-v1.1.json") in lines[0] and "SQuAD version 'v2.0'" in lines[0], lines[0]
    assert "▶" not in r.stdout + r.stderr and not sub.exists()
    assert no_run_containers(docker_client)
