"""The engines and the cluster beyond docker are real on this machine: scripts/podman-setup.sh makes podman
run the local base with the same hardening as docker (rootful, and rootless with --userns=keep-id), and
scripts/slurm-setup.sh starts a single-node Slurm cluster that runs two jobs at once.

CI (MLPERFCTL_REQUIRE_ENGINE=1) runs the setup scripts, which install what is missing; elsewhere a test
skips with the command to run when the tools are not installed yet, and never installs packages itself.
"""

import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine

ROOT = Path(__file__).resolve().parent.parent
LOCAL_BASE = os.environ.get("MLPERFCTL_LOCAL_BASE", "mlperfctl/debian:bookworm")
ROOTLESS_USER = os.environ.get("MLPERFCTL_ROOTLESS_USER", "mlperfctl")
HARDENED = ["--network", "none", "--read-only", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "--tmpfs", "/tmp"]


def _required() -> bool:
    return os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1"


def _setup(script: str, *args: str, installed: str) -> float:
    """Run scripts/<script> (idempotent) and return its wall time. Without MLPERFCTL_REQUIRE_ENGINE=1 the
    test skips when it cannot run or `installed` is not on PATH yet, instead of installing packages."""
    fix = f"run `sudo {shlex.join(['scripts/' + script, *args])}`"
    if os.geteuid() != 0 or shutil.which(installed) is None:
        why = "not root" if os.geteuid() != 0 else f"{installed} not installed"
        if _required():
            if os.geteuid() != 0:
                pytest.fail(f"{why}: {fix}")
        else:
            pytest.skip(f"{why}; {fix}")
    start = time.monotonic()
    proc = subprocess.run(["bash", str(ROOT / "scripts" / script), *args], capture_output=True, text=True,
                          timeout=900)
    took = time.monotonic() - start
    if proc.returncode != 0:
        msg = f"scripts/{script} failed ({proc.returncode}):\n{proc.stdout}{proc.stderr}"
        if _required():
            pytest.fail(msg)
        pytest.skip(msg)
    return took


@pytest.fixture(scope="module")
def podman() -> str:
    _setup("podman-setup.sh", installed="podman")
    took = _setup("podman-setup.sh", installed="podman")
    assert took < 15, f"a second podman-setup.sh run should be a no-op, took {took:.1f}s"
    return shutil.which("podman")


@pytest.fixture
def data_dir():
    """A world-readable directory with one file, outside pytest's 0700 tmp tree so uid 10001 can read it."""
    d = Path(tempfile.mkdtemp(prefix="mlperfctl-platform-", dir="/tmp"))
    d.chmod(0o755)
    (d / "x").write_text("read-only payload\n")
    (d / "x").chmod(0o644)
    yield d
    shutil.rmtree(d, ignore_errors=True)


PROBE = ("cat /data/x; id -u; touch /data/y 2>/dev/null && echo data-writable; touch /z 2>/dev/null && "
         "echo root-writable; touch /tmp/t && echo tmp-ok; grep -E '^(CapEff|NoNewPrivs)' /proc/self/status; "
         "ls /sys/class/net")


def _probe_lines(out: str) -> list[str]:
    return [" ".join(line.split()) for line in out.splitlines() if line.strip()]


def test_podman_hardened_run_reads_read_only_mount_as_10001(podman, data_dir):
    proc = subprocess.run([podman, "run", "--rm", *HARDENED, "-v", f"{data_dir}:/data:ro", "--user", "10001:10001",
                           LOCAL_BASE, "sh", "-c", PROBE], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _probe_lines(proc.stdout) == ["read-only payload", "10001", "tmp-ok", "CapEff: 0000000000000000",
                                         "NoNewPrivs: 1", "lo"]


def test_podman_base_is_docker_base(podman):
    """The same bytes in both engines: the image ID (its config digest) is the same."""
    pid = subprocess.run([podman, "image", "inspect", "--format", "{{.Id}}", LOCAL_BASE], capture_output=True,
                         text=True, check=True).stdout.strip()
    did = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", LOCAL_BASE], capture_output=True,
                         text=True, check=True).stdout.strip()
    assert did == f"sha256:{pid}"


def test_podman_rootless_keep_id(podman, data_dir):
    _setup("podman-setup.sh", "rootless", installed="podman")
    uid = subprocess.run(["id", "-u", ROOTLESS_USER], capture_output=True, text=True, check=True).stdout.strip()
    cmd = shlex.join([podman, "run", "--rm", "--userns=keep-id", *HARDENED, "-v", f"{data_dir}:/data:ro", LOCAL_BASE,
                      "sh", "-c", PROBE])
    proc = subprocess.run(["su", "-", ROOTLESS_USER, "-c", f"cd && {cmd}"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert _probe_lines(proc.stdout) == ["read-only payload", uid, "tmp-ok", "CapEff: 0000000000000000",
                                         "NoNewPrivs: 1", "lo"]


# ---- Slurm ----

@pytest.fixture(scope="module")
def slurm(slurm_cluster) -> None:
    """The cluster the session's slurm_cluster started (and stops at the end); setting it up again is a no-op."""
    took = _setup("slurm-setup.sh", installed="sinfo")
    assert took < 15, f"a second slurm-setup.sh run should be a no-op, took {took:.1f}s"


def _sbatch(out: Path, script: str) -> str:
    proc = subprocess.run(["sbatch", "--parsable", "--cpus-per-task=1", "-o", str(out), "--wrap", script],
                          capture_output=True, text=True, timeout=30, check=True)
    return proc.stdout.strip().split(";")[0]


def _job(job_id: str) -> dict[str, str]:
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, timeout=30,
                         check=True).stdout
    return dict(re.findall(r"(\w+)=(\S*)", out))


def _wait(job_id: str, states: set[str], timeout: float = 60) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        job = _job(job_id)
        if job["JobState"] in states or time.monotonic() > deadline:
            return job
        time.sleep(0.3)


DONE = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY", "PREEMPTED"}


def test_slurm_runs_two_jobs_at_once(slurm, tmp_path):
    stamp = "date +%s.%N"
    outs = [tmp_path / "a.out", tmp_path / "b.out"]
    jobs = [
        # the first also runs the base in docker, as the Slurm launcher's jobs will
        _sbatch(outs[0], f"echo start $({stamp}); docker run --rm --network none {LOCAL_BASE} sleep 3; "
                         f"echo end $({stamp})"),
        _sbatch(outs[1], f"echo start $({stamp}); sleep 3; echo end $({stamp})"),
    ]
    for job_id in jobs:
        job = _wait(job_id, DONE)
        assert (job["JobState"], job["ExitCode"]) == ("COMPLETED", "0:0"), job
    spans = []
    for out in outs:
        stamps = dict(line.split() for line in out.read_text().splitlines())
        spans.append((float(stamps["start"]), float(stamps["end"])))
    (a0, a1), (b0, b1) = spans
    assert a1 - a0 >= 3 and b1 - b0 >= 3
    assert a0 < b1 and b0 < a1, f"the two jobs ran one after the other: {spans}"


def test_slurm_scancel_stops_a_running_job(slurm, tmp_path):
    marker = tmp_path / "running"
    job_id = _sbatch(tmp_path / "c.out", f"touch {marker}; exec sleep 600")
    assert _wait(job_id, {"RUNNING"} | DONE)["JobState"] == "RUNNING"
    deadline = time.monotonic() + 30
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert marker.exists()
    subprocess.run(["scancel", job_id], check=True, timeout=30)
    assert _wait(job_id, DONE)["JobState"] == "CANCELLED"
