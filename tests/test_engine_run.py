"""`mlperfctl run` on the real engine: resnet50 in its CPU container on demo data, results in the
submission tree; an interrupted run leaves the tree byte-identical and no container behind."""

import glob
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
RUN_LABEL = "io.mlperfctl.run"
SCEN = Path("open", "lab", "results")


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200"}


def run_cmd(demo: Path, sub: Path, *extra) -> list[str]:
    return [sys.executable, "-m", "mlperfctl", "run", "--model", "resnet50", "--backend", "onnxruntime",
            "--device", "cpu", "--dataset-dir", demo / "datasets" / "imagenet", "--model-path", demo / "models",
            "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu",
            "--cache-dir", demo / "cache", *extra]


def mlperfctl_run(demo, sub, *extra, expect=0):
    r = subprocess.run(list(map(str, run_cmd(demo, sub, *extra))), capture_output=True, text=True, env=env(),
                       cwd=ROOT)
    assert r.returncode == expect, r.stdout[-3000:] + r.stderr[-3000:]
    return r


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base):
    root = tmp_path_factory.mktemp("run-demo")
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(root), "--images", "32"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (root / "cache").mkdir()
    return root


@pytest.fixture(scope="module")
def tree(demo, tmp_path_factory):
    """One Offline + SingleStream run (performance and accuracy) in containers, as JSON: Offline's raw outputs in
    --results-dir, SingleStream's in the default one beside the tree."""
    sub = tmp_path_factory.mktemp("tree") / "submission"
    summaries = {}
    for scenario in ("Offline", "SingleStream"):
        extra = ("--results-dir", sub.parent / "raw") if scenario == "Offline" else ()
        r = mlperfctl_run(demo, sub, "--scenario", scenario, "--json", *extra)
        summaries[scenario] = json.loads(r.stdout)
    return sub, summaries


@pytest.mark.parametrize("scenario", ["Offline", "SingleStream"])
def test_run_in_container_writes_a_complete_result(tree, scenario, no_containers):
    sub, summaries = tree
    summary = summaries[scenario]
    assert summary["cell"] == "python-onnxruntime-cpu-resnet50"
    rows = {r["mode"]: r for r in summary["results"]}
    assert rows["performance"]["result_validity"] in ("VALID", "INVALID")
    assert rows["performance"]["result_validity"] == "VALID" or rows["performance"]["validity_notes"]
    assert rows["accuracy"]["accuracy"].startswith("accuracy=") and "total=32" in rows["accuracy"]["accuracy"]
    res = sub / SCEN / "box_cpu" / "resnet50" / scenario
    for name in ("performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_summary.txt", "accuracy/mlperf_log_detail.txt",
                 "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt", "measurements.json",
                 "user.conf", "README.md", "run.json"):
        assert (res / name).is_file(), name
    ledgers = json.loads((res / "run.json").read_text())  # one entry per mode
    assert set(ledgers) == {"performance", "accuracy"}
    ledger = ledgers["performance"]
    assert ledger["cell"] == summary["cell"] and ledger["image_id"].startswith("sha256:")
    assert ledger["exit_status"] == 0 and {r["mode"] for r in ledger["runs"]} == {"performance", "accuracy"}
    assert ledger["harness"]["loadgen_version"] == "6.0.17"
    assert summary["image"] in (res / "README.md").read_text()
    assert (sub / "open" / "lab" / "src" / "resnet50" / "mlperf_harness" / "run.py").is_file()
    system = json.loads((sub / "open" / "lab" / "systems" / "box_cpu.json").read_text())
    assert system["framework"].startswith("onnxruntime 1.32.0") and system["accelerators_per_node"] == "0"
    owners = {p.stat().st_uid for p in res.rglob("*")}
    assert owners == {os.getuid()}
    # the raw outputs are kept (--results-dir, else <submission-dir>-raw), each run in its own folder, with the
    # harness's console output as console.log beside LoadGen's logs; none of it in the tree
    raw = Path(summary["results_dir"])
    root = sub.parent / ("raw" if scenario == "Offline" else "submission-raw")
    assert raw.parent == root / "open" / "box_cpu" / summary["cell"] and raw.name.startswith("run-"), raw
    for mode in ("performance", "accuracy"):
        log = (raw / scenario / mode / "console.log").read_text()
        assert (raw / scenario / mode / "mlperf_log_summary.txt").is_file()
        assert log.startswith(f"# {scenario}/{mode}: python3 -m mlperf_harness run --model resnet50"), log[:300]
        assert "\n# exit code 0 after " in log and len(log.splitlines()) > 2, log
    assert not list(sub.rglob("console.log"))
    assert no_containers(RUN_LABEL)


def test_tree_passes_the_checker_but_for_test_mode(tree):
    sub, _ = tree
    subprocess.run([sys.executable, "-m", "mlperfctl", "submission", "truncate", str(sub)], check=True,
                   capture_output=True)
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "submission", "check", str(sub), "--json",
                        "--skip-dataset-size-check"], capture_output=True, text=True)
    problems = [p["message"] for p in json.loads(r.stdout)["problems"]]
    # test execution mode: short runs and a small performance sample count; nothing else
    assert problems and all("min_duration" in p or "performance_sample_count" in p or "result_validity" in p
                            for p in problems), problems


def test_existing_result_is_refused_before_any_container(tree, demo, no_containers):
    sub, _ = tree
    before = snapshot(sub)
    r = mlperfctl_run(demo, sub, "--scenario", "Offline", expect=2)
    assert "--force" in r.stderr and "▶" not in r.stdout + r.stderr
    assert snapshot(sub) == before


@pytest.mark.parametrize("sig,flow", [(signal.SIGINT, "run"), (signal.SIGTERM, "run"), (signal.SIGINT, "submission")])
def test_interrupted_run_leaves_the_tree_as_it_was(tree, demo, no_containers, sig, flow, tmp_path):
    """Both flows go through one run session: the same teardown, the same line, the tree as it was."""
    sub, _ = tree
    before = snapshot(sub)
    extra = ("--submission", "--results-dir", tmp_path / "raw") if flow == "submission" else ()
    proc = subprocess.Popen(list(map(str, run_cmd(demo, sub, "--scenario", "SingleStream", "--force",
                                                  "--execution-mode", "fast", *extra))),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env(), cwd=ROOT)
    deadline = time.monotonic() + 120
    while no_containers(RUN_LABEL):
        assert proc.poll() is None and time.monotonic() < deadline, "no run container appeared"
        time.sleep(0.2)
    time.sleep(1.0)  # the harness is inside LoadGen now
    proc.send_signal(sig)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 2, out
    assert f"interrupted ({sig.name}): containers removed, submission tree unchanged" in out, out[-2000:]
    assert ("rerun the same command to resume" in out) == (flow == "submission"), out[-2000:]
    assert snapshot(sub) == before
    assert no_containers(RUN_LABEL)


GENERATIVE = {  # case -> (model, scenario, dataset folder demo-data writes, what the results must show)
    "sdxl": ("sdxl", "Server", "coco2014", ("CLIP_SCORE", "FID_SCORE")),
    "llama2-70b-99": ("llama2-70b-99", "Server", "open-orca", ("rouge1", "tokens_per_sample")),
    # a LoadGen Server run under llama2-70b-interactive's settings, its target QPS searched against 450/40 ms
    # (8 queries a run: the probes and the performance run stay short)
    "llama2-70b-99-interactive": ("llama2-70b-99", "Interactive", "open-orca", ("rouge1", "tokens_per_sample")),
    "gptj-99": ("gptj-99", "Offline", "cnn-dailymail", ("rouge1", "gen_len")),
}


@pytest.mark.one_case_under_podman
@pytest.mark.parametrize("case", sorted(GENERATIVE))
def test_generative_model_runs_in_its_pytorch_container(case, tmp_path, local_base, no_containers):
    """Demo data of the real model classes, the pytorch CPU image (torch from the local CPU wheel),
    performance and accuracy in containers, results in the tree."""
    wheels = sorted(glob.glob("/opt/wheels/torch-2.13.0+cpu-*.whl"))
    if not wheels:
        pytest.skip("no local torch 2.13.0 CPU wheel in /opt/wheels (download.pytorch.org is unreachable here)")
    model, scenario, dataset, expected = GENERATIVE[case]
    data = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(data), "--model", model,
                        "--images", "6"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    sub = tmp_path / "submission"
    cmd = [sys.executable, "-m", "mlperfctl", "run", "--model", model, "--scenario", scenario,
           "--dataset-dir", data / "datasets" / dataset, "--model-path", data / "models", "--threads", "1",
           "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu", "--json",
           *(("--test-query-count", "8", "--cache-dir", tmp_path / "cache") if scenario == "Interactive" else ())]
    r = subprocess.run(list(map(str, cmd)), capture_output=True, text=True, cwd=ROOT,
                       env={**env(), "MLPERFCTL_WHEEL_DIR": "/opt/wheels"})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert summary["cell"] == f"python-pytorch-cpu-{model}"
    perf = next(x for x in summary["results"] if x["mode"] == "performance")
    assert perf["result_validity"] == "VALID" or perf["validity_notes"], perf
    res = sub / SCEN / "box_cpu" / model / scenario
    accuracy = (res / "accuracy" / "accuracy.txt").read_text()
    assert all(key in accuracy for key in expected), accuracy
    summary_txt = (res / "performance" / "run_1" / "mlperf_log_summary.txt").read_text()
    if model.startswith("llama2"):
        assert "TTFT Early Stopping Result" in summary_txt and "TPOT Early Stopping Result" in summary_txt
        assert "first token latency (ns)" in summary_txt and "time to output token (ns)" in summary_txt
        assert set(perf["token_latencies"]) >= {"ttft_p99_ms", "tpot_p99_ms"}
    if scenario == "Interactive":
        _interactive_result(sub, res, summary, summary_txt)
    assert no_containers(RUN_LABEL)


def _interactive_result(sub: Path, res: Path, summary: dict, summary_txt: str) -> None:
    """The Interactive result: a Server run with the interactive TTFT/TPOT limits in its settings, its target QPS
    searched against them, a folder the checker takes (test mode's findings apart)."""
    assert "Scenario : Server" in summary_txt  # LoadGen's scenario; the folder says Interactive
    assert "ttft_latency (ns): 450000000" in summary_txt and "tpot_latency (ns): 40000000" in summary_txt
    detail = (res / "performance" / "run_1" / "mlperf_log_detail.txt").read_text()
    assert '"key": "requested_server_ttft_latency", "value": 450000000' in detail
    record = summary["find_performance"]["Interactive"]
    assert record["source"] == "measured" and record["bounds"] == {"latency_ms": None, "ttft_ms": 450, "tpot_ms": 40}
    probes = [x for x in record["probes"] if x["scenario"] == "Interactive"]
    assert probes and all(isinstance(x["ttft_ms"], float) and isinstance(x["tpot_ms"], float) for x in probes)
    for x in probes:  # judged by 450/40 ms, not Server's 2000/200
        over = [f"p99 {n} {x[k]:.3f} ms >= {limit} ms" for n, k, limit in (("TTFT", "ttft_ms", 450),
                                                                            ("TPOT", "tpot_ms", 40)) if x[k] >= limit]
        assert all(r in x["reasons"] for r in over) and not (over and x["meets"]), x
    chosen = record["target"]["value"]
    assert f"llama2-70b-interactive.Server.target_qps = {chosen:g}" in (res / "user.conf").read_text()
    assert "llama2-70b.Server" not in (res / "user.conf").read_text()
    subprocess.run([sys.executable, "-m", "mlperfctl", "submission", "truncate", str(sub)], check=True,
                   capture_output=True, cwd=ROOT)
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "submission", "check", str(sub), "--json",
                        "--version", "v6.0", "--skip-dataset-size-check"], capture_output=True, text=True, cwd=ROOT)
    report = json.loads(r.stdout)  # v6.0: llama2-70b-99's newest round, the run's default
    assert [(x["model"], x["scenario"]) for x in report["results"]] == [("llama2-70b-99", "Interactive")]
    problems = [p["message"] for p in report["problems"]]
    # test execution mode: short runs and a small performance sample count, and the matrix's LoadGen (6.0.17)
    # carries v6.1's seeds, not v6.0's; nothing about the Interactive folder, its scenario or token latencies
    assert all("min_duration" in p or "performance_sample_count" in p or "result_validity" in p
               or ("rng_seed is" in p and "v6.0 requires" in p) for p in problems), problems


def test_server_find_performance_searches_records_and_reuses(demo, tmp_path, no_containers):
    """Server with --find-performance in test mode: the Offline probe, the Server probes and the chosen target
    QPS are in run.json; a second run takes the target from the cache and runs no probe."""
    sub = tmp_path / "submission"
    quick = ("--scenario", "Server", "--mode", "performance", "--test-query-count", "8")  # 8 queries a run
    r = mlperfctl_run(demo, sub, *quick, "--find-performance", "--json")
    record = json.loads(r.stdout)["find_performance"]["Server"]
    res = sub / SCEN / "box_cpu" / "resnet50" / "Server"
    ledger = json.loads((res / "run.json").read_text())["performance"]
    assert ledger["find_performance"] == record and record["source"] == "measured"
    probes = [x for x in record["probes"] if x["scenario"] == "Server"]
    assert record["probes"][0]["scenario"] == "Offline" and 1 <= len(probes) <= 6
    assert probes[0]["target_qps"] == record["start_qps"] == record["probes"][0]["samples_per_second"]
    assert record["bounds"]["latency_ms"] == 15  # resnet50's Server bound in the rulebook
    chosen = record["target"]["value"]
    assert chosen == (max(x["target_qps"] for x in probes if x["meets"]) if record["met"]
                      else min(x["target_qps"] for x in probes))
    assert f"resnet50.Server.target_qps = {chosen:g}" in (res / "user.conf").read_text()
    assert "Server probe 1/6" in r.stderr + r.stdout
    r = mlperfctl_run(demo, sub, *quick, "--force", "--json")
    again = json.loads(r.stdout)["find_performance"]["Server"]
    assert again["source"] == "cache" and again["target"] == record["target"]
    assert "Server probe" not in r.stderr + r.stdout
    assert no_containers(RUN_LABEL)
