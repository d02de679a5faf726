"""The Slurm launcher: the job script (pure) and, for real, two resnet50 scenarios as Slurm jobs on
the local one-node cluster (scripts/slurm-setup.sh) landing in one tree the checker accepts."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlperfctl import matrix as matrix_mod
from mlperfctl.launch import slurm
from mlperfctl.options import build_options, run_options

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))


def test_job_script_runs_mlperfctl_and_kills_its_container_on_scancel():
    text = slurm.job_script(name="mlperf-x-Offline-performance", mlperfctl=["python3", "-m", "mlperfctl"],
                            run_args=["run", "--model", "resnet50", "--scenario", "Offline"], engine="podman",
                            workdir=Path("/shared/w"), partition="gpu", nodes=2, log=Path("/shared/s.jobs/%j.out"),
                            bundle=Path("/shared/b.tar"), time_limit="2:00:00")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for directive in ("--job-name=mlperf-x-Offline-performance", "--nodes=2", "--partition=gpu",
                      "--output=/shared/s.jobs/%j.out", "--chdir=/shared/w", "--time=2:00:00"):
        assert f"#SBATCH {directive}" in lines
    assert "python3 -m mlperfctl load /shared/b.tar --engine podman || exit $?" in lines
    assert "trap cleanup TERM INT" in lines
    assert "python3 -m mlperfctl run --model resnet50 --scenario Offline &" in lines
    # the trap forwards TERM, then removes any container still owned by that mlperfctl process
    assert 'podman ps -aq --filter "label=io.mlperfctl.run=$(hostname):${pid:-none}"' in text
    assert lines.index("trap cleanup TERM INT") < lines.index("python3 -m mlperfctl run --model resnet50 "
                                                               "--scenario Offline &")
    r = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
    assert r.returncode == 0, r.stderr


def test_run_flags_carry_every_given_option_with_absolute_paths(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    lm = matrix_mod.load(ROOT / "matrix.yaml")
    opts = run_options(model="resnet50", scenario="Offline", dataset_dir=Path("data"), model_path=Path("m"),
                       submission_dir=Path("sub"), threads=2, force=True, execution_mode="test")
    build = build_options(lm, environ={}, engine="podman", registry="reg:5000/lab",
                          base_image=["cpu=mlperfctl/debian:bookworm"])
    args = slurm.run_flags(opts, build, lm.path, "SingleStream", "accuracy")
    assert args[:7] == ["run", "--model", "resnet50", "--scenario", "SingleStream", "--mode", "accuracy"]
    pairs = dict(zip(args[7::2], args[8::2], strict=False)) if "--force" not in args[7:] else None
    assert "--force" in args and "--threads" in args and args[args.index("--threads") + 1] == "2"
    assert args[args.index("--dataset-dir") + 1] == str(tmp_path / "data")
    assert args[args.index("--submission-dir") + 1] == str(tmp_path / "sub")
    assert args[args.index("--engine") + 1] == "podman" and args[args.index("--registry") + 1] == "reg:5000/lab"
    assert args[args.index("--base-image") + 1] == "cpu=mlperfctl/debian:bookworm"
    assert "--execution-mode" not in args and pairs is None   # defaults are not repeated


def _slurm_up() -> bool:
    r = subprocess.run(["bash", str(ROOT / "scripts" / "slurm-setup.sh"), "status"], capture_output=True)
    return r.returncode == 0


@pytest.mark.engine
@pytest.mark.slow
def test_two_scenarios_as_slurm_jobs_land_in_one_checked_tree(tmp_path):
    if not _slurm_up():
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE"):
            pytest.fail("Slurm is not running: sudo scripts/slurm-setup.sh")
        pytest.skip("Slurm is not running (sudo scripts/slurm-setup.sh)")
    demo, sub = tmp_path / "demo", tmp_path / "sub"
    subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(demo), "--images", "32"], check=True,
                   capture_output=True)
    (demo / "cache").mkdir()
    os.chmod(tmp_path, 0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS),
           "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200"}
    ids = []
    for scenario in ("Offline", "SingleStream"):   # two commands, two jobs at once
        r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--launcher", "slurm", "--no-wait", "--json",
                            "--model", "resnet50", "--backend", "onnxruntime", "--device", "cpu",
                            "--scenario", scenario, "--mode", "performance", "--engine", "docker",
                            "--dataset-dir", str(demo / "datasets" / "imagenet"), "--model-path", str(demo / "models"),
                            "--submission-dir", str(sub), "--submitter", "lab", "--system-name", "box_cpu",
                            "--cache-dir", str(demo / "cache")], capture_output=True, text=True, env=env, cwd=tmp_path)
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
        ids += [j["id"] for j in json.loads(r.stdout)["jobs"]]
    assert len(ids) == 2
    deadline, rows, both_ran = time.time() + 900, [], False
    while time.time() < deadline:
        r = subprocess.run([sys.executable, "-m", "mlperfctl", "jobs", "--submission-dir", str(sub), "--json"],
                           capture_output=True, text=True, env=env, cwd=tmp_path)
        rows = json.loads(r.stdout)
        both_ran = both_ran or all(row["state"] in ("RUNNING", "COMPLETED") for row in rows) and \
            any(row["state"] == "RUNNING" for row in rows)
        if all(row["state"] in slurm.FINISHED for row in rows):
            break
        time.sleep(3)
    logs = {row["id"]: Path(row["log"]).read_text()[-1500:] for row in rows if Path(row["log"]).exists()}
    assert [row["state"] for row in rows] == ["COMPLETED", "COMPLETED"], logs
    assert {row["id"] for row in rows} == set(ids) and both_ran
    assert not list(sub.glob(".mlperfctl*"))          # no lock or staging left in the tree
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "submission", "check", str(sub), "--json",
                        "--skip-dataset-size-check"], capture_output=True, text=True, env=env)
    report = json.loads(r.stdout)
    problems = [p["message"] for p in report["problems"]]
    # as a local test-mode run of the performance mode: short runs, no accuracy run; nothing else
    assert problems and all("min_duration" in p or "performance_sample_count" in p or "result_validity" in p
                            or p == "missing directory" for p in problems), problems
    for scenario in ("Offline", "SingleStream"):
        res = sub / "open" / "lab" / "results" / "box_cpu" / "resnet50" / scenario
        assert (res / "performance" / "run_1" / "mlperf_log_summary.txt").is_file()
        assert json.loads((res / "run.json").read_text())["performance"]["exit_status"] == 0


@pytest.mark.engine
def test_ctrl_c_of_the_following_command_cancels_its_jobs(tmp_path):
    if not _slurm_up():
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE"):
            pytest.fail("Slurm is not running: sudo scripts/slurm-setup.sh")
        pytest.skip("Slurm is not running (sudo scripts/slurm-setup.sh)")
    script = tmp_path / "job.sbatch"
    script.write_text(f"#!/bin/bash\n#SBATCH --output={tmp_path}/%j.out\nsleep 300\n")
    code = ("import sys\nfrom pathlib import Path\nfrom rich.console import Console\n"
            "from mlperfctl.errors import UserError\nfrom mlperfctl.launch import slurm\n"
            "job = slurm._sbatch(Path(sys.argv[1])); print(job, flush=True)\n"
            "try:\n    slurm.follow([job], console=Console(stderr=True), poll=0.5)\n"
            "except UserError as e:\n    print(e, flush=True); sys.exit(2)\n")
    proc = subprocess.Popen([sys.executable, "-c", code, str(script)], stdout=subprocess.PIPE, text=True,
                            cwd=ROOT)
    job = proc.stdout.readline().strip()
    deadline = time.time() + 60
    while slurm.job_state(job).get("JobState") != "RUNNING" and time.time() < deadline:
        time.sleep(0.5)
    proc.send_signal(2)
    assert proc.wait(30) == 2
    message = proc.stdout.read()
    assert f"cancelled job(s) {job}" in message
    deadline = time.time() + 30
    while slurm.job_state(job).get("JobState") not in slurm.FINISHED and time.time() < deadline:
        time.sleep(0.5)
    assert slurm.job_state(job)["JobState"] == "CANCELLED"
