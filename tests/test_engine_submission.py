"""`mlperfctl run --submission` on the real engine (test execution mode, demo data): the closed-division
flow with its compliance runs and verdicts, and a run interrupted by SIGINT that a rerun resumes,
running only the pieces the ledger does not hold."""

import glob
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
RES = Path("closed", "lab", "results", "box_cpu")

# what an uninterrupted closed resnet50 Offline run leaves for the scenario (v6.x layout)
RESNET_OFFLINE = {
    "README.md", "measurements.json", "run.json", "user.conf",
    "performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
    "accuracy/mlperf_log_summary.txt", "accuracy/mlperf_log_detail.txt", "accuracy/mlperf_log_accuracy.json",
    "accuracy/accuracy.txt",
    "TEST01/verify_accuracy.txt", "TEST01/verify_performance.txt", "TEST01/accuracy/accuracy.txt",
    "TEST01/accuracy/mlperf_log_accuracy.json", "TEST01/performance/run_1/mlperf_log_summary.txt",
    "TEST01/performance/run_1/mlperf_log_detail.txt",
    "TEST04/verify_performance.txt", "TEST04/performance/run_1/mlperf_log_summary.txt",
    "TEST04/performance/run_1/mlperf_log_detail.txt",
}


def env(**extra) -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200", **extra}


def submission_cmd(model: str, data: Path, models: Path, sub: Path, *extra) -> list[str]:
    return list(map(str, [sys.executable, "-m", "mlperfctl", "run", "--submission", "--division", "closed",
                          "--model", model, "--device", "cpu", "--dataset-dir", data, "--model-path", models,
                          "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu",
                          "--skip-dataset-size-check", "--json", *extra]))


def files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def no_run_containers(engine, pid: int | None = None) -> bool:
    """No run container left by our mlperfctl process (`pid`), or by any of this test's (other people's
    runs share the engine: only ours are counted)."""
    owner = f"{RUN_LABEL}={os.uname().nodename}:{pid}" if pid else RUN_LABEL
    mine = engine.list_containers(owner)
    return not [cid for cid, labels in mine if pid or labels.get(RUN_LABEL, "").split(":")[-1] in OUR_PIDS]


OUR_PIDS: set[str] = set()


def run(cmd, **kw):
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kw)
    OUR_PIDS.add(str(proc.pid))
    out, errs = proc.communicate()
    return subprocess.CompletedProcess(cmd, proc.returncode, out, errs)


@pytest.fixture(scope="module")
def resnet_demo(tmp_path_factory, local_base):
    root = tmp_path_factory.mktemp("submission-demo")
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(root), "--images", "16"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    (root / "cache").mkdir()
    return root


def test_interrupted_submission_resumes_with_only_the_missing_pieces(resnet_demo, tmp_path, engine):
    sub, raw = tmp_path / "submission", tmp_path / "raw"
    cmd = submission_cmd("resnet50", resnet_demo / "datasets" / "imagenet", resnet_demo / "models", sub,
                         "--backend", "onnxruntime", "--scenario", "Offline", "--results-dir", raw,
                         "--cache-dir", resnet_demo / "cache")
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env(), cwd=ROOT)
    ledger = raw / "ledger.json"
    deadline = time.monotonic() + 900
    while True:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the ledger never held 2 pieces"
        if ledger.exists() and len(json.loads(ledger.read_text())["pieces"]) >= 2:
            break
        time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, errs = proc.communicate(timeout=300)
    assert proc.returncode == 2, out + errs
    assert "rerun the same command to resume" in errs and "Traceback" not in errs, errs[-2000:]
    assert not sub.exists() or not (sub / RES).exists()  # nothing half-written into the tree
    assert no_run_containers(engine, proc.pid)
    done = set(json.loads(ledger.read_text())["pieces"])
    assert len(done) in (2, 3)  # SIGINT may land while the third piece is being recorded

    r = run(cmd, env=env(), cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert summary["pieces_reused"] == len(done) and summary["pieces_run"] == 4 - len(done), summary
    assert r.stderr.count("▶ Offline/") == 4 - len(done), r.stderr[-3000:]
    assert files(sub / RES / "resnet50" / "Offline") == RESNET_OFFLINE
    [row] = summary["scenarios"]
    assert set(row["compliance"]) == {"TEST01", "TEST04"}
    assert "TEST04 verification complete" in " ".join(row["compliance_lines"]["TEST04"])
    run_json = json.loads((sub / RES / "resnet50" / "Offline" / "run.json").read_text())
    runs = run_json["performance"]["runs"] if "performance" in run_json else run_json["runs"]
    assert sorted(x["piece"] for x in runs) == ["TEST01", "TEST04", "accuracy", "performance"]
    assert sum(x["reused"] for x in runs) == len(done)
    assert not list(raw.rglob("audit.config")) and not list(sub.rglob("audit.config"))
    assert Path(summary["archive"]).is_file()
    for piece in ("performance", "accuracy", "TEST01", "TEST04"):  # each piece's console output beside its logs
        piece_dir = raw / "closed" / "box_cpu" / "python-onnxruntime-cpu-resnet50" / "Offline" / piece
        log = (piece_dir / "console.log").read_text()
        assert (piece_dir / "mlperf_log_summary.txt").is_file() and log.startswith(f"# Offline/{piece}")
        assert "\n# exit code 0 after " in log and len(log.splitlines()) > 2, log
    assert not list(sub.rglob("console.log"))  # never in the tree

    # a third run: everything from the ledger, no container
    r = run(cmd, env=env(), cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    assert json.loads(r.stdout)["pieces_run"] == 0 and "▶" not in r.stderr

    # --rerun: that piece alone runs again, its new output replaces the old one, the rest is reused
    before = (raw / "closed" / "box_cpu" / "python-onnxruntime-cpu-resnet50" / "Offline" / "TEST01"
              / "mlperf_log_detail.txt").stat().st_mtime_ns
    r = run([*cmd, "--rerun", "Offline/TEST01"], env=env(), cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert (summary["pieces_run"], summary["pieces_reused"]) == (1, 3), summary
    assert "TEST01 verification complete" in " ".join(summary["scenarios"][0]["compliance_lines"]["TEST01"])
    assert r.stderr.count("▶ ") == 1 and "▶ Offline/TEST01" in r.stderr, r.stderr[-3000:]
    assert (raw / "closed" / "box_cpu" / "python-onnxruntime-cpu-resnet50" / "Offline" / "TEST01"
            / "mlperf_log_detail.txt").stat().st_mtime_ns != before
    assert files(sub / RES / "resnet50" / "Offline") == RESNET_OFFLINE


def _llm_or_sdxl(model, tmp_path, dataset):
    if not glob.glob("/opt/wheels/torch-2.13.0+cpu-*.whl"):
        pytest.skip("no local torch 2.13.0 CPU wheel in /opt/wheels (download.pytorch.org is unreachable here)")
    data = tmp_path / "demo"
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(data), "--model", model,
                        "--images", "4"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return data / "datasets" / dataset, data / "models"


@pytest.mark.one_case_under_podman
@pytest.mark.parametrize("model,dataset,extra,tests", [
    ("llama2-70b-99.9", "open-orca", ("--category", "datacenter", "--scenario", "Offline"), {"TEST06"}),
    ("sdxl", "coco2014", ("--scenario", "SingleStream"), {"TEST01", "TEST04"}),
])
def test_generative_submission_has_its_compliance_folders(model, dataset, extra, tests, tmp_path, local_base,
                                                          engine):
    data, models = _llm_or_sdxl(model, tmp_path, dataset)
    sub = tmp_path / "submission"
    r = run(submission_cmd(model, data, models, sub, "--threads", "1", "--count", "4", *extra), cwd=ROOT,
            env=env(MLPERFCTL_WHEEL_DIR="/opt/wheels"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    [row] = summary["scenarios"]
    assert set(row["compliance"]) == tests
    scen = sub / RES / model / row["scenario"]
    for test in tests:
        assert (scen / test / "verify_performance.txt").is_file() or test == "TEST06"
        assert f"{test} verification complete" in " ".join(row["compliance_lines"][test]) or test == "TEST06"
    if "TEST06" in tests:
        assert (scen / "TEST06" / "verify_accuracy.txt").is_file()
        assert (scen / "TEST06" / "accuracy" / "mlperf_log_accuracy.json").is_file()
        assert any("TEST06" in line or "First token check" in line for line in row["compliance_lines"]["TEST06"])
    assert not list(sub.rglob("audit.config"))
    assert no_run_containers(engine)


def test_v51_submission_runs_loadgen_511_with_its_seeds_in_the_v5_layout(resnet_demo, tmp_path):
    """`--version v5.1`: the image is built with the round's LoadGen (5.1.1, its own runtime stage), every result
    carries v5.1's seeds (not v6.1's), and the tree has the v5.x layout that our checker accepts but for the
    test-mode findings (short duration, few queries)."""
    import mlperf_rules
    from mlperfctl.submission import MLLog

    sub, raw = tmp_path / "submission", tmp_path / "raw"
    r = run(submission_cmd("resnet50", resnet_demo / "datasets" / "imagenet", resnet_demo / "models", sub,
                           "--backend", "onnxruntime", "--scenario", "Offline", "--version", "v5.1",
                           "--test-query-count", 16,
                           "--results-dir", raw, "--cache-dir", resnet_demo / "cache"), env=env(), cwd=ROOT)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    assert summary["version"] == "v5.1" and ":loadgen-5.1.1-" in summary["image"], summary["image"]
    v51 = mlperf_rules.get_round("v5.1")
    assert v51.seeds.as_dict() != mlperf_rules.get_round("v6.1").seeds.as_dict()
    want = {f"effective_{k}": v for k, v in v51.seeds.as_dict().items()}

    top = sub / "closed" / "lab"
    # the v5.x layout: code/, measurements/, results/<system>/.../performance/run_1, compliance/<system>/...
    perf = top / "results" / "box_cpu" / "resnet50" / "Offline" / "performance" / "run_1"
    detail = MLLog(perf / "mlperf_log_detail.txt")
    assert {k: detail.get(k) for k in want} == want
    assert (top / "results" / "box_cpu" / "resnet50" / "Offline" / "accuracy" / "accuracy.txt").is_file()
    assert (top / "code" / "resnet50").is_dir() and not (top / "src").exists()
    meta = top / "measurements" / "box_cpu" / "resnet50" / "Offline"
    assert {"user.conf", "README.md", "box_cpu_python_Offline.json"} <= {p.name for p in meta.iterdir()}
    for test in v51.benchmark("resnet50").compliance:
        comp = top / "compliance" / "box_cpu" / "resnet50" / "Offline" / test
        assert (comp / "verify_performance.txt").is_file(), sorted(files(top))
        comp_detail = MLLog(comp / "performance" / "run_1" / "mlperf_log_detail.txt")
        assert {k: comp_detail.get(k) for k in want} == want
    assert not (top / "results" / "box_cpu" / "resnet50" / "Offline" / "TEST01").exists()

    run_json = json.loads((meta / "run.json").read_text())  # one ledger per mode
    for mode in ("performance", "accuracy"):
        loadgen = run_json[mode]["loadgen"]
        assert loadgen["version"] == "5.1.1" and loadgen["round"] == "v5.1"
        assert {f"effective_{k}": v for k, v in loadgen["seeds"].items()} == want

    # our checker (the official v5.1.1 checker gives the same on this tree): nothing about seeds, layout or
    # missing files (calibration.md is written); only what a test-mode run on demo data cannot meet and the
    # scenarios this test leaves out
    assert "nothing is quantized" in (top / "calibration.md").read_text()
    problems = summary["check"]["problems"]
    expected = ("min_duration is", "Offline samples_per_query is", "compliance performance check did not pass",
                "is below the target", "missing required scenario(s) for edge: SingleStream, MultiStream",
                "result_validity is INVALID")  # 16 queries: LoadGen may find too few for a valid result
    unexpected = [p for p in problems if not any(t in p for t in expected)]
    assert not unexpected, "\n".join(unexpected)
    assert any("min_duration is 1000 ms" in p for p in problems), problems
