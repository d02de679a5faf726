"""The Slurm launcher: the job script (pure) and, for real, two resnet50 scenarios as Slurm jobs on
the local one-node cluster (scripts/slurm-setup.sh) landing in one tree the checker accepts."""

from __future__ import annotations

import contextlib
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


@pytest.fixture(scope="module")
def docker_client():
    """A docker-py client: the Slurm jobs here run their containers with `--engine docker` (the podman pass
    of `make test` covers tests/test_engine_*.py only). CI (MLPERFCTL_REQUIRE_ENGINE=1) fails without one."""
    import docker

    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001 - any failure means no usable engine
        if os.environ.get("MLPERFCTL_REQUIRE_ENGINE") == "1":
            pytest.fail(f"no docker engine: {e}")
        pytest.skip(f"no docker engine ({e}); run `sudo scripts/engine-setup.sh`")
    return client



def test_job_script_runs_mlperfctl_and_kills_its_container_on_scancel():
    image = slurm.ImageSource("mlperfctl/x:1", "sha256:" + "ab" * 32, ["load", "/shared/b.tar", "--engine", "podman"],
                              "bundle /shared/b.tar")
    text = slurm.job_script(name="mlperf-x-Offline-performance", mlperfctl=["python3", "-m", "mlperfctl"],
                            runs=[["run", "--model", "resnet50", "--scenario", "Offline"]], engine="podman",
                            workdir=Path("/shared/w"), partition="gpu", log=Path("/shared/s.jobs/%j.out"),
                            image=image, time_limit="2:00:00")
    lines = text.splitlines()
    assert lines[0] == "#!/bin/bash"
    for directive in ("--job-name=mlperf-x-Offline-performance", "--nodes=1", "--partition=gpu",
                      "--output=/shared/s.jobs/%j.out", "--chdir=/shared/w", "--time=2:00:00"):
        assert f"#SBATCH {directive}" in lines
    assert not any("--array" in line or "--exclusive" in line for line in lines)   # no --nodes: plain jobs
    assert ('  python3 -m mlperfctl load /shared/b.tar --engine podman >&2 || { echo "mlperfctl job: cannot get '
            'mlperfctl/x:1 from bundle /shared/b.tar on $(hostname) (see above)" >&2; exit 3; }') in lines
    assert "trap cleanup TERM INT" in lines
    assert "run=(run --model resnet50 --scenario Offline)" in lines
    assert 'python3 -m mlperfctl "${run[@]}" &' in lines
    # the trap forwards TERM, then removes any container still owned by that mlperfctl process
    assert 'podman ps -aq --filter "label=io.mlperfctl.run=$(hostname):${pid:-none}"' in text
    load = next(i for i, line in enumerate(lines) if " load " in line)
    check = next(i for i, line in enumerate(lines) if "the host expects sha256:" + "ab" * 32 in line)
    assert load < check < lines.index("trap cleanup TERM INT") < lines.index('python3 -m mlperfctl "${run[@]}" &')
    r = subprocess.run(["bash", "-n"], input=text, text=True, capture_output=True)
    assert r.returncode == 0, r.stderr


def test_nodes_make_one_job_array_at_most_n_at_a_time_on_whole_nodes():
    runs = [["run", "--scenario", "Offline", "--mode", m] for m in ("performance", "accuracy")]
    text = slurm.job_script(name="mlperf-x", mlperfctl=["mlperfctl"], runs=runs, engine="docker", workdir=Path("/w"),
                            partition=None, log=Path("/s.jobs/%A_%a.out"), at_once=3)
    lines = text.splitlines()
    assert {"#SBATCH --array=0-1%3", "#SBATCH --exclusive", "#SBATCH --nodes=1",
            "#SBATCH --output=/s.jobs/%A_%a.out"} <= set(lines)
    assert "  0) run=(run --scenario Offline --mode performance) ;;" in lines
    assert "  1) run=(run --scenario Offline --mode accuracy) ;;" in lines
    assert subprocess.run(["bash", "-n"], input=text, text=True).returncode == 0
    with pytest.raises(ValueError):
        slurm.job_script(name="x", mlperfctl=["m"], runs=runs, engine="docker", workdir=Path("/w"), partition=None,
                         log=Path("/l"))


def _fake_node(tmp_path: Path, image_id: str) -> dict:
    """A PATH where `docker image inspect` answers `image_id` once the fake mlperfctl has run (a
    fake only for the script's branching; the real load and pull run in the Slurm tests below)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(f"#!/bin/sh\n[ -f {tmp_path}/got ] && echo {image_id}\nexit 0\n")
    (bin_dir / "fake-mlperfctl").write_text(f'#!/bin/sh\necho "$@" >> {tmp_path}/calls\ntouch {tmp_path}/got\n'
                                            f'[ "$1" = pull ] && [ -f {tmp_path}/unreachable ] && exit 1\nexit 0\n')
    for f in bin_dir.iterdir():
        f.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SLURM_JOB_ID": "7"}


@pytest.mark.parametrize("case", ["match", "present", "mismatch", "unreachable"])
def test_job_checks_the_image_id_the_host_expects(tmp_path, case):
    want = "sha256:" + "cd" * 32
    env = _fake_node(tmp_path, ("sha256:" + "ef" * 32) if case == "mismatch" else want)
    if case == "unreachable":
        (tmp_path / "unreachable").touch()
    if case == "present":     # an earlier job on this node got it: no second pull
        (tmp_path / "got").touch()
    image = slurm.ImageSource("mlperfctl/x:1", want, ["pull", "x", "--registry", "r:5000"], "registry r:5000/x:1")
    text = slurm.job_script(name="j", mlperfctl=["fake-mlperfctl"], runs=[["run", "--model", "m"]], engine="docker",
                            workdir=tmp_path, partition=None, log=tmp_path / "log", image=image)
    r = subprocess.run(["bash", "-c", text], capture_output=True, text=True, env=env, cwd=tmp_path)
    calls = (tmp_path / "calls").read_text().splitlines()
    if case == "present":
        assert r.returncode == 0 and calls == ["run --model m"], r.stderr
        assert r.stdout.splitlines()[1] == f"mlperfctl job: mlperfctl/x:1 already on {os.uname().nodename} " \
                                           f"(sha256:{'cd' * 6})"
        return
    assert calls[0] == "pull x --registry r:5000"
    if case == "match":
        assert r.returncode == 0 and calls[1:] == ["run --model m"], r.stderr
        return
    assert r.returncode == 3 and calls == ["pull x --registry r:5000"]   # never runs a wrong or missing image
    last = r.stderr.strip().splitlines()[-1]
    if case == "mismatch":
        assert last.startswith(f"mlperfctl job: mlperfctl/x:1 on {os.uname().nodename} is {'ef' * 32} after "
                               f"registry r:5000/x:1, the host expects {want}")
    else:
        assert last == f"mlperfctl job: cannot get mlperfctl/x:1 from registry r:5000/x:1 on {os.uname().nodename} " \
                       "(see above)"


def test_host_refuses_a_bundle_without_the_cell_and_an_unreachable_registry(tmp_path):
    import io
    import socket
    import tarfile

    from mlperfctl.builder.bundle import BUNDLE_FORMAT, MANIFEST
    from mlperfctl.errors import UserError

    manifest = {"format": BUNDLE_FORMAT, "images": [{"cell": "c", "content_hash": "1" * 64, "image_id": "sha256:9"}]}
    bundle = tmp_path / "b.tar"
    with tarfile.open(bundle, "w") as tar:
        data = json.dumps(manifest).encode()
        info = tarfile.TarInfo(MANIFEST)
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    assert slurm._bundle_item(bundle, "c", "1" * 64)["image_id"] == "sha256:9"
    with pytest.raises(UserError, match=r"has no current image of c \(content hash 2222222222222222; it holds "
                                        r"c:1111111111111111\): make it with `mlperfctl save --select c"):
        slurm._bundle_item(bundle, "c", "2" * 64)
    (tmp_path / "not.tar").write_text("x")
    with pytest.raises(UserError, match="--bundle .*not.tar: cannot read it"):
        slurm._bundle_item(tmp_path / "not.tar", "c", "1" * 64)
    with socket.socket() as s:      # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(UserError) as e:
        slurm._registry_image_id(f"127.0.0.1:{port}/lab/mlperfctl/c:1234", timeout=2)
    assert str(e.value).startswith(f"--registry: 127.0.0.1:{port} is unreachable from this host (") and \
        "\n" not in str(e.value)


def test_partition_nodes_reads_sinfo(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sinfo").write_text("#!/bin/sh\nprintf 'debug* 1\\ngpu 2\\ngpu 3\\n'\n")
    (bin_dir / "sinfo").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    assert slurm.partition_nodes(None) == 1 and slurm.partition_nodes("gpu") == 5
    assert slurm.partition_nodes("none") is None


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


@pytest.mark.parametrize("version", ["v5.1", "v6.1"])
def test_a_round_reaches_the_job_as_version_never_as_loadgen(tmp_path, monkeypatch, version):
    """`--version` picks the round's LoadGen on the host; the job gets the same `--version` (its own `run` picks the
    same LoadGen), even for the default round given explicitly, and never the derived field as a flag."""
    monkeypatch.chdir(tmp_path)
    lm = matrix_mod.load(ROOT / "matrix.yaml")
    opts = run_options(model="resnet50", version=version)
    assert opts.round.loadgen is not None and opts.round.explicit
    args = slurm.run_flags(opts, build_options(lm, environ={}), lm.path, "Offline", "performance")
    assert args[args.index("--version") + 1] == version and args.count("--version") == 1
    assert "--loadgen" not in args
    plain = slurm.run_flags(run_options(model="resnet50"), build_options(lm, environ={}), lm.path, "Offline",
                            "performance")
    assert "--version" not in plain  # no round asked for: the job builds with matrix.yaml's LoadGen, as the host
    gptj = run_options(model="gptj-99")  # its default round (v5.0) is derived again by the job, LoadGen unchanged
    assert gptj.round.version != "v6.1" and gptj.round.loadgen is None
    assert "--version" not in slurm.run_flags(gptj, build_options(lm, environ={}), lm.path, "Offline", "performance")


def test_image_commands_take_the_round():
    """Every command that names a cell's image computes the same tag as `run --version`: they all take --version."""
    from typer.main import get_command

    from mlperfctl.cli import app

    group = get_command(app)
    for name in ("build", "lock", "images", "verify", "push", "pull", "save"):
        params = {opt for p in group.commands[name].params for opt in getattr(p, "opts", [])}
        assert "--version" in params, name


@pytest.mark.engine
@pytest.mark.slow
def test_two_scenarios_as_slurm_jobs_land_in_one_checked_tree(slurm_cluster, tmp_path):
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
def test_ctrl_c_of_the_following_command_cancels_its_jobs(slurm_cluster, tmp_path):
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


def _cli(*args, env, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mlperfctl", *map(str, args)], capture_output=True, text=True,
                          env=env, cwd=cwd)


@pytest.mark.engine
@pytest.mark.slow
def test_jobs_load_a_bundle_or_pull_from_a_registry_on_their_node(slurm_cluster, tmp_path, registry, docker_client):
    """The cell's tag is removed (the image itself kept under a test tag), then: a job array
    (--nodes 2 on the one-node partition: a note, then the two tasks one after the other, each
    on the whole node) loads it from a bundle; a job pulls it from a local registry."""
    import uuid

    from mlperfctl import engines
    from mlperfctl.builder import executor
    from mlperfctl.builder import plan as build_plan

    demo, sub = tmp_path / "demo", tmp_path / "sub"
    subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(demo), "--images", "32"], check=True,
                   capture_output=True)
    (demo / "cache").mkdir()
    os.chmod(tmp_path, 0o755)
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS),
           "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200"}
    env.pop("MLPERFCTL_REGISTRY", None)
    cell_id = "python-onnxruntime-cpu-resnet50"
    lm = matrix_mod.load(ROOT / "matrix.yaml")
    build = build_options(lm, environ={}, engine="docker", base_image=["cpu=mlperfctl/debian:bookworm"],
                          ca_cert=CA_CERTS)
    image_id = executor.ensure_image(lm, lm.parse_cell(cell_id), build).image_id   # the engine tests' image
    cp = build_plan.plan(lm, [lm.parse_cell(cell_id)], build, engines.get("docker"))[0]
    keep = f"mlperfctl/test-slurm-keep:{uuid.uuid4().hex[:12]}"
    remote = f"{registry}/lab/mlperfctl/{cell_id}:{cp.hash[:16]}"
    docker_client.api.tag(image_id, *keep.split(":"))
    common = ["--launcher", "slurm", "--model", "resnet50", "--backend", "onnxruntime", "--device", "cpu",
              "--engine", "docker", "--dataset-dir", demo / "datasets" / "imagenet", "--model-path", demo / "models",
              "--submission-dir", sub, "--submitter", "lab", "--system-name", "box_cpu", "--cache-dir", demo / "cache",
              "--count", "8", "--test-query-count", "8"]     # seconds of inference: the image handling is the test
    try:
        save, push = (subprocess.Popen([sys.executable, "-m", "mlperfctl", *map(str, args)], env=env, cwd=tmp_path,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                      for args in (["save", "--select", cell_id, "-o", tmp_path / "b.tar"],
                                   ["push", "--select", cell_id, "--registry", f"{registry}/lab"]))
        for proc in (save, push):
            assert proc.wait() == 0, proc.stdout.read()
        docker_client.images.remove(remote)
        docker_client.images.remove(cp.tag)            # untags: the image stays under `keep`

        # the bundle, as a job array: --nodes 2 on a one-node partition completes, one task at a time
        r = _cli("run", *common, "--scenario", "Offline", "--mode", "all", "--bundle", tmp_path / "b.tar",
                 "--nodes", "2", env=env, cwd=tmp_path)
        rows = json.loads(_cli("jobs", "--submission-dir", sub, "--json", env=env, cwd=tmp_path).stdout)
        logs = {row["id"]: Path(row["log"]).read_text() for row in rows if Path(row["log"]).exists()}
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:] + str(logs)[-3000:]
        assert "note: partition (default) has 1 node(s): --nodes 2 runs at most 1 job(s) at a time there" in r.stdout
        array = rows[0]["id"].split("_")[0]
        assert [(row["id"], row["mode"], row["state"]) for row in rows] == [
            (f"{array}_0", "performance", "COMPLETED"), (f"{array}_1", "accuracy", "COMPLETED")]
        for row in rows:
            s = slurm.job_state(row["id"])
            assert (s["ArrayTaskThrottle"], s["OverSubscribe"], s["NumNodes"]) == ("2", "NO", "1"), s
        loaded = [f"{cell_id}: loaded {cp.tag} ({image_id[:19]})" in log for log in logs.values()]
        already = [f"mlperfctl job: {cp.tag} already on" in log for log in logs.values()]
        assert sorted(loaded) == [False, True] and [not x for x in already] == loaded, logs   # the first one loads
        a, b = (slurm.job_state(f"{array}_{i}") for i in (0, 1))
        assert a["EndTime"] <= b["StartTime"] or b["EndTime"] <= a["StartTime"], (a, b)   # whole nodes: one by one
        assert docker_client.images.get(cp.tag).id == image_id

        # the registry: the job pulls the image the host found there, then runs
        docker_client.images.remove(cp.tag)
        r = _cli("run", *common, "--scenario", "SingleStream", "--mode", "performance", "--registry",
                 f"{registry}/lab", env=env, cwd=tmp_path)
        rows = json.loads(_cli("jobs", "--submission-dir", sub, "--json", env=env, cwd=tmp_path).stdout)
        log = Path(rows[-1]["log"]).read_text()
        assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:] + log[-3000:]
        assert f"{cell_id}: pulled {remote} ({image_id[:19]})" in log
        assert docker_client.images.get(cp.tag).id == image_id
        res = sub / "open" / "lab" / "results" / "box_cpu" / "resnet50"
        assert (res / "Offline" / "performance" / "run_1" / "mlperf_log_summary.txt").is_file()
        assert (res / "Offline" / "accuracy" / "mlperf_log_accuracy.json").is_file()
        assert (res / "SingleStream" / "performance" / "run_1" / "mlperf_log_summary.txt").is_file()

        # the host refuses before submitting: a registry that does not answer, a bundle of another image
        n = len(rows)
        r = _cli("run", *common, "--registry", "127.0.0.1:9/lab", env=env, cwd=tmp_path)
        assert r.returncode == 2 and "--registry: 127.0.0.1:9 is unreachable from this host" in r.stderr, r.stderr
        r = _cli("run", *common, "--bundle", tmp_path / "missing.tar", env=env, cwd=tmp_path)
        assert r.returncode == 2 and "--bundle" in r.stderr and "no such file" in r.stderr, r.stderr
        assert len(json.loads(_cli("jobs", "--submission-dir", sub, "--json", env=env, cwd=tmp_path).stdout)) == n
    finally:
        if cp.tag not in docker_client.images.get(keep).tags:     # give the other tests their tag back
            docker_client.api.tag(image_id, *cp.tag.split(":"))
        docker_client.images.remove(keep)
        with contextlib.suppress(Exception):
            docker_client.images.remove(remote)


WRITER = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[5])
import test_tree_lock as t
from mlperfctl.submission import transaction
place, log = transaction.Transaction.place, sys.argv[4]

def logged(line):
    with open(log, "a") as f:
        f.write(f"{line} {time.time():.3f}\\n")

def slow_place(self, *args):
    logged(f"place {sys.argv[2]}")
    time.sleep(0.2)
    place(self, *args)

transaction.Transaction.place = slow_place
logged(f"enter {sys.argv[2]}")
t._writer(sys.argv[1], sys.argv[2], sys.argv[3], str(Path(sys.argv[3]).parent / "src"), log + ".inner")
"""


def _wait_finished(job_ids: list[str], seconds: float = 120) -> dict[str, dict]:
    deadline = time.time() + seconds
    while time.time() < deadline:
        states = {j: slurm.job_state(j) for j in job_ids}
        if all(s.get("JobState") in slurm.FINISHED for s in states.values()):
            return states
        time.sleep(0.5)
    raise AssertionError(f"jobs still running: {states}")


@pytest.mark.engine
def test_two_slurm_jobs_writing_one_tree_at_once_take_turns(slurm_cluster, tmp_path):
    """Two jobs reach the writer together (no containers: the writer of tests/test_tree_lock.py,
    slowed down); the tree lock makes one wait for the other, and both results land whole."""
    import test_tree_lock

    from mlperfctl.submission import transaction

    tree, log = tmp_path / "tree", tmp_path / "log"
    (tmp_path / "src" / "mlperf_harness").mkdir(parents=True)
    (tmp_path / "src" / "mlperf_harness" / "__init__.py").write_text("")
    (tmp_path / "go").write_text(WRITER)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ids = []
    for scenario in ("Offline", "SingleStream"):
        perf = test_tree_lock._perf_dir(tmp_path, scenario)
        script = tmp_path / f"{scenario}.sbatch"
        script.write_text(f"#!/bin/bash\n#SBATCH --output={tmp_path}/%j.out\n#SBATCH --chdir={ROOT}\n"
                          f"exec {sys.executable} {tmp_path}/go {tree} {scenario} {perf} {log} {ROOT / 'tests'}\n")
        r = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True, env=env)
        assert r.returncode == 0, r.stderr
        ids.append(r.stdout.strip())
    states = _wait_finished(ids)
    outs = {j: (tmp_path / f"{j}.out").read_text() for j in ids}
    assert [s["JobState"] for s in states.values()] == ["COMPLETED", "COMPLETED"], outs
    events = [line.split() for line in log.read_text().splitlines()]
    places = [(who, float(t)) for what, who, t in events if what == "place"]
    enters = [float(t) for what, _, t in events if what == "enter"]
    assert len(enters) == 2 and len(places) > 4
    order = [who for who, _ in places]
    assert sum(a != b for a, b in zip(order, order[1:], strict=False)) == 1, order   # one writer, then the other
    first_done = max(t for who, t in places if who == order[0])
    assert max(enters) < first_done, events      # both were writing at once: the second waited on the lock
    for s in ("Offline", "SingleStream"):
        assert (tree / "open/acme/results" / test_tree_lock.SYSTEM / "resnet50" / s / "performance/run_1").is_dir()
    assert not (tree / transaction.LOCK_NAME).exists() and not list(tree.glob(f"{transaction.STAGING_PREFIX}*"))


@pytest.mark.engine
def test_a_killed_slurm_job_leaves_a_stale_lock_reported_with_the_fix(slurm_cluster, tmp_path):
    """scancel --signal=KILL (as the OOM killer or a node's cleanup would) while the job holds the
    tree lock: the next writer on that node refuses in one line naming the lock and the fix."""
    from mlperfctl.errors import UserError
    from mlperfctl.submission import transaction

    tree = tmp_path / "tree"
    tree.mkdir()
    script = tmp_path / "hold.sbatch"
    script.write_text(f"#!/bin/bash\n#SBATCH --output={tmp_path}/%j.out\n#SBATCH --chdir={ROOT}\n"
                      f"exec {sys.executable} -c 'import sys, time; from pathlib import Path\n"
                      "from mlperfctl.submission.transaction import tree_lock\n"
                      "with tree_lock(Path(sys.argv[1])):\n    time.sleep(300)' " + f"{tree}\n")
    r = subprocess.run(["sbatch", "--parsable", str(script)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert r.returncode == 0, r.stderr
    job = r.stdout.strip()
    lock = tree / transaction.LOCK_NAME
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.2)
    assert lock.exists(), (tmp_path / f"{job}.out").read_text() if (tmp_path / f"{job}.out").exists() else job
    holder = lock.read_text().strip()
    subprocess.run(["scancel", "--signal=KILL", "--full", job], check=True)
    assert _wait_finished([job])[job]["JobState"] in ("CANCELLED", "FAILED")
    with pytest.raises(UserError) as e:
        with transaction.tree_lock(tree, timeout=10):
            pass
    msg = str(e.value)
    assert msg.startswith(f"stale lock {lock}: its writer (pid {holder.rpartition(':')[2]} on ") and \
        f"`rm {lock}` and rerun" in msg and "\n" not in msg, msg
    assert lock.read_text().strip() == holder      # reported, never taken over


def test_registry_probe_asks_the_right_host_and_cannot_tell_behind_credentials(monkeypatch):
    import urllib.error

    asked = []

    def fake_urlopen(req, timeout):     # no registry with credentials here: only the URL logic is faked
        asked.append(req.full_url)
        raise urllib.error.HTTPError(req.full_url, 401, "Unauthorized", {}, None)

    monkeypatch.setattr(slurm.urllib.request, "urlopen", fake_urlopen)
    assert slurm._registry_image_id("myorg/mlperfctl/c:1234") is None
    assert slurm._registry_image_id("reg.example:5000/lab/mlperfctl/c:1234") is None
    assert asked == ["https://registry-1.docker.io/v2/myorg/mlperfctl/c/manifests/1234",
                     "https://reg.example:5000/v2/lab/mlperfctl/c/manifests/1234"]
