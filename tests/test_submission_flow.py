"""`run --submission` logic that needs no container: the run ledger (what a rerun may reuse), the
option checks made before the first container, and a disk-full write that leaves the tree as it was."""

import errno
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules
from mlperfctl import submission
from mlperfctl.errors import UserError
from mlperfctl.options import RunOptions
from mlperfctl.run import session
from mlperfctl.run import submission_flow as flow
from mlperfctl.run.ledger import Ledger, fingerprint, summary_validity
from mlperfctl.submission import sysinfo
from mlperfctl.submission import writer as submission_writer

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(__file__).parent / "data"


def entry(output, **kw):
    return {"output": str(output), "fingerprint": "fp", "image_id": "sha256:a", "exit_code": 0,
            "validity": "VALID", **kw}


def test_ledger_reuses_only_a_matching_complete_piece(tmp_path):
    out = tmp_path / "Offline" / "performance"
    out.mkdir(parents=True)
    ledger = Ledger(tmp_path / "ledger.json")
    ledger.record("k", entry(out))
    again = Ledger(tmp_path / "ledger.json")  # read back from disk
    ok = {"fp": "fp", "image_id": "sha256:a", "output": out, "strict_validity": True}
    assert again.reusable("k", **ok)["output"] == str(out)
    assert again.reusable("other", **ok) is None
    assert again.reusable("k", **{**ok, "fp": "changed options"}) is None
    assert again.reusable("k", **{**ok, "image_id": "sha256:rebuilt"}) is None
    assert again.reusable("k", **{**ok, "output": tmp_path / "gone"}) is None
    again.record("k", entry(out, validity="INVALID"))
    assert again.reusable("k", **ok) is None  # valid mode: an INVALID run is run again
    assert again.reusable("k", **{**ok, "strict_validity": False})  # test mode, TEST06: kept
    again.record("k", entry(out, exit_code=1))
    assert again.reusable("k", **{**ok, "strict_validity": False}) is None
    assert not list(tmp_path.glob(".ledger-*"))  # atomic saves leave no temp file


def test_ledger_fingerprint_and_validity(tmp_path):
    assert fingerprint(["run", "--scenario", "Offline"]) != fingerprint(["run", "--scenario", "Server"])
    assert fingerprint(["run"], "mode = 2\n") != fingerprint(["run"], "mode = 3\n")
    (tmp_path / "mlperf_log_summary.txt").write_text("SUT name : x\nResult is : INVALID\n")
    assert summary_validity(tmp_path) == "INVALID" and summary_validity(tmp_path / "none") is None


def test_a_broken_ledger_is_one_line(tmp_path):
    (tmp_path / "ledger.json").write_text("{not json")
    with pytest.raises(UserError, match="move it away to start over"):
        Ledger(tmp_path / "ledger.json")
    (tmp_path / "ledger.json").write_text('{"pieces": []}')
    with pytest.raises(UserError, match="not an mlperfctl ledger"):
        Ledger(tmp_path / "ledger.json")


def opts(tmp_path, **kw):
    kw.setdefault("submission_dir", tmp_path / "sub")
    return RunOptions(model="resnet50", device="cpu", **kw)


def test_options_checked_before_any_container(tmp_path, monkeypatch):
    (tmp_path / "afile").write_text("x")
    so = flow.SubmissionOptions()
    assert flow.check_options(opts(tmp_path), so) == (tmp_path / "sub-raw").resolve()
    cases = [
        (opts(tmp_path), flow.SubmissionOptions(compliance_retries=-1), "--compliance-retries -1: must be 0 or more"),
        (opts(tmp_path, submission_dir=tmp_path / "afile"), so, "is a file, not a directory"),
        (opts(tmp_path, submission_dir=tmp_path / "afile" / "sub"), so, "afile is a file, not a directory"),
        (opts(tmp_path), flow.SubmissionOptions(results_dir=tmp_path / "afile"), "--results-dir"),
        (opts(tmp_path), flow.SubmissionOptions(results_dir=tmp_path / "sub" / "raw"), "inside the submission tree"),
        (opts(tmp_path), flow.SubmissionOptions(compliance_server_qps_reduction=10), "must be at least 0 and below 10"),
        (opts(tmp_path), flow.SubmissionOptions(compliance_server_qps_reduction=-1), "-1: must be at least 0"),
    ]
    for o, s, message in cases:
        with pytest.raises(UserError, match=message.replace("(", r"\(")):
            flow.check_options(o, s)
    monkeypatch.setattr(flow.os, "access", lambda path, mode: False)
    with pytest.raises(UserError, match="is not writable"):
        flow.check_options(opts(tmp_path), so)
    monkeypatch.undo()
    monkeypatch.setattr(flow.shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(10, 10, 1024))
    with pytest.raises(UserError, match="MiB free"):
        flow.check_options(opts(tmp_path), so)


@pytest.mark.parametrize("extra,message", [
    (("--compliance-retries", "-1"), "--compliance-retries -1: must be 0 or more"),
    (("--count", "0"), "--count 0: must be positive"),
    (("--compliance-server-qps-reduction", "12.5"), "--compliance-server-qps-reduction 12.5: must be at least 0"),
    (("--offline-target-qps", "-3", "--scenario", "Offline"), "--offline-target-qps -3.0: must be positive"),
    (("--category", "edge", "--rerun", "Server/performance"), "--rerun Server/performance: Server is not a scenario"),
    (("--scenario", "Offline", "--rerun", "Offline/TEST05"), "--rerun Offline/TEST05: TEST05 is not a piece"),
])
def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, extra, message):
    (tmp_path / "sub").write_text("a file")
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--submission", "--model", "resnet50",
                        "--device", "cpu", "--submission-dir", str(tmp_path / "ok"), *extra],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "▶" not in r.stdout + r.stderr
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--submission", "--model", "resnet50",
                        "--device", "cpu", "--submission-dir", str(tmp_path / "sub")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "is a file, not a directory" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_rerun_names_pieces_of_this_submission():
    scenarios, modes, tests = ("SingleStream", "Offline"), ("performance", "accuracy"), ("TEST01", "TEST04")
    assert flow.rerun_keys((), scenarios, modes, tests) == frozenset()
    assert flow.rerun_keys(("Offline/performance", "Offline/TEST04"), scenarios, modes, tests) == {
        "Offline/performance", "Offline/TEST04"}
    assert flow.rerun_keys(("SingleStream",), scenarios, modes, tests) == {
        "SingleStream/performance", "SingleStream/accuracy", "SingleStream/TEST01", "SingleStream/TEST04"}
    # an accuracy-only submission has no compliance runs to rerun
    with pytest.raises(UserError, match="TEST01 is not a piece of this submission"):
        flow.rerun_keys(("Offline/TEST01",), scenarios, ("accuracy",), tests)
    with pytest.raises(UserError, match="--rerun MultiStream: MultiStream is not a scenario"):
        flow.rerun_keys(("MultiStream",), scenarios, modes, tests)
    with pytest.raises(UserError, match=r"--rerun /performance: \(empty\) is not a scenario"):
        flow.rerun_keys(("/performance",), scenarios, modes, tests)


def test_a_failed_compliance_performance_check_says_what_to_rerun():
    from mlperfctl.compliance.base import Verdict
    ok = Verdict("TEST01", True, ["Performance check pass: True"], details={"performance_pass": True})
    slow = Verdict("TEST04", False, ["Performance check pass: False"], details={"performance_pass": False})
    bad_accuracy = Verdict("TEST01", False, ["Accuracy check pass: False"],
                           details={"accuracy_pass": False, "performance_pass": True})
    assert flow.rerun_hints({"Offline": {"TEST01": ok, "TEST04": ok.__class__("TEST04", True, [])}}) == []
    assert flow.rerun_hints({"Offline": {"TEST01": bad_accuracy}}) == []  # rerunning would not mend that
    [hint] = flow.rerun_hints({"Offline": {"TEST01": ok}, "MultiStream": {"TEST01": ok, "TEST04": slow}})
    assert hint.startswith("MultiStream: the performance check of TEST04 failed")
    assert hint.endswith("--rerun MultiStream/performance --rerun MultiStream/TEST04")


def test_rerun_without_submission_is_one_line():
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--model", "resnet50", "--device", "cpu",
                        "--rerun", "Offline/performance"], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 2 and "--rerun Offline/performance: only with --submission" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def snapshot(root: Path) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


@pytest.fixture(scope="module")
def harness_out(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny")
    conf = base / "user.conf"
    conf.write_text("resnet50.Offline.target_qps = 120000\nresnet50.Offline.min_duration = 200\n")
    for mode in ("performance", "accuracy"):
        subprocess.run([sys.executable, str(DATA / "tiny_sut.py"), str(base / mode), mode, str(conf)], check=True)
    (base / "src" / "mlperf_harness").mkdir(parents=True)
    (base / "src" / "mlperf_harness" / "__init__.py").write_text('"""harness"""\n')
    return base


def _write(root, base, force=False, readme="# resnet50 Offline\n\n    mlperfctl run --model resnet50\n"):
    probed = {"host_processor_model_name": "Test CPU", "host_processors_per_node": "1",
              "host_processor_core_count": "2", "host_memory_capacity": "16 GB",
              "host_storage_capacity": "500 GB", "host_storage_type": "SSD", "operating_system": "Debian 12",
              "accelerators_per_node": "0", "accelerator_model_name": "N/A", "accelerator_memory_capacity": "N/A",
              "accelerator_host_interconnect": "N/A"}
    host = sysinfo.system_description(division="open", submitter="acme", system_name="box", framework="ort 1",
                                      probed=probed)
    rs = submission.ResultSet(model="resnet50", scenario="Offline", performance_dir=base / "performance",
                              accuracy_dir=base / "accuracy",
                              measurements=submission.measurements_for("resnet50", "fp32", "resnet50_v1.onnx"),
                              readme=readme, ledger={"exit_status": 0})
    return flow.write_tree(root, division="open", submitter="acme", system_name="box", system_json=host,
                           results=[rs], src_dir=base / "src", rnd=mlperf_rules.get_round("v6.1"), force=force)


@pytest.mark.parametrize("fail_at", [1, 3])
def test_disk_full_while_writing_leaves_the_tree_as_it_was(tmp_path, harness_out, monkeypatch, fail_at):
    root = tmp_path / "sub"
    _write(root, harness_out)
    before = snapshot(root)
    calls = []
    real = shutil.copy2

    def full(src, dst, **kw):  # the staging copy runs out of space part-way
        calls.append(dst)
        if len(calls) >= fail_at:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(src, dst, **kw)

    monkeypatch.setattr(submission_writer.shutil, "copy2", full)
    with pytest.raises(UserError) as e:
        _write(root, harness_out, force=True, readme="# another README\n\n    mlperfctl run\n")
    message = str(e.value)
    assert "disk full" in message and "exactly as it was" in message and "\n" not in message
    assert snapshot(root) == before
    assert not [p for p in root.iterdir() if p.name.startswith(submission.STAGING_PREFIX)]



def test_the_rounds_loadgen_and_seeds(tmp_path, harness_out):
    v61, v51 = mlperf_rules.ROUNDS["v6.1"], mlperf_rules.ROUNDS["v5.1"]
    flow.check_loadgen(v61, "6.0.17", "img")
    with pytest.raises(UserError, match=r"img has LoadGen 6.0.17 \(the seeds of v6.1\); a v5.1 result needs "
                                        r"LoadGen 5.1.1"):
        flow.check_loadgen(v51, "6.0.17", "img")
    seeds = flow.check_seeds(v61, harness_out / "performance")  # tiny SUT: real LoadGen 6.0.17
    assert seeds == mlperf_rules.get_round("v6.1").seeds.as_dict()
    with pytest.raises(UserError, match="not v5.1's .*the result is refused"):
        flow.check_seeds(v51, harness_out / "performance")


def test_overhead_sets_loadgen_own_time_against_the_container_time(harness_out, tmp_path):
    """LoadGen's duration comes from its detail log's own clock (min_duration 200 ms here: at least that); a
    piece's overhead is its container time less that; the summary splits the wall time by kind."""
    lg = session.loadgen_seconds(harness_out / "performance")
    assert lg is not None and 0.2 <= lg < 30
    assert session.loadgen_seconds(tmp_path) is None  # no detail log: unknown, not zero
    o = session.Overhead(image_seconds=3.0)
    o.piece("Offline/performance", lg + 5.0, harness_out / "performance")
    o.piece("Offline/accuracy", 4.0, tmp_path)
    [perf, acc] = o.pieces
    assert perf["overhead_s"] == pytest.approx(5.0, abs=0.11) and acc["loadgen_s"] is None
    summary = o.summary(wall_seconds=lg + 20.0)
    assert summary["loadgen_s"] == pytest.approx(lg, abs=0.06)
    assert summary["container_overhead_s"] == pytest.approx(9.0, abs=0.11)  # the accuracy piece's 4 s count whole
    assert summary["after_runs_s"] == pytest.approx(20.0 - 3.0 - 9.0, abs=0.2)
    line = session.Overhead.line(summary)
    assert line.startswith(f"wall {summary['wall_s']:.1f} s: LoadGen tests {summary['loadgen_s']:.1f} s")
    assert "over 2 run(s)" in line and "\n" not in line


class _NoContainers:
    """An engine that answers the host-side questions asked before the first container and fails the test on
    anything else (an image build or a container start)."""

    def runtimes(self):
        return {"runc"}

    def list_containers(self, label):
        return []

    def remove_containers(self, label):  # the session's teardown: removes its own (none were started)
        return 0

    def __getattr__(self, name):
        raise AssertionError(f"engine.{name} was called: the clash must be refused before any image or container")


@pytest.mark.parametrize("submission_mode", [False, True])
def test_another_backend_under_an_explicit_system_name_is_refused_before_any_container(
        loaded, tmp_path, monkeypatch, submission_mode):
    """The tree's systems/box.json was written by an onnxruntime run; a pytorch run under --system-name box would
    rewrite it (with --force) at the end: both flows refuse it in the plan phase, naming the file."""
    from mlperfctl.options import build_options
    from mlperfctl.run import execute as plain

    data = tmp_path / "imagenet"
    data.mkdir()
    (data / "val_map.txt").write_text("a.JPEG 1\n")
    (data / "a.JPEG").write_bytes(b"jpeg")
    (tmp_path / "resnet50-19c8e357.pth").write_bytes(b"pth")
    opts = RunOptions(model="resnet50", device="cpu", backend="pytorch", scenario="Offline", mode="performance",
                      dataset_dir=data, model_path=tmp_path / "resnet50-19c8e357.pth", system_name="box",
                      submission_dir=tmp_path / "sub", force=True)
    system = tmp_path / "sub" / opts.division / opts.submitter / "systems" / "box.json"
    system.parent.mkdir(parents=True)
    system.write_text(json.dumps(sysinfo.system_description(
        division=opts.division, submitter=opts.submitter, system_name="box", framework="onnxruntime 1.22.0",
        path=tmp_path)))
    before = system.read_bytes()
    monkeypatch.setattr(session.engines, "get", lambda *a, **kw: _NoContainers())
    with pytest.raises(UserError, match=rf"^{system} already describes system box differently: framework "
                                        rf"'onnxruntime 1.22.0' \(this run: pytorch\); .* another --system-name"):
        if submission_mode:
            flow.execute_submission(loaded, opts, build_options(loaded, environ={}),
                                    flow.SubmissionOptions(results_dir=tmp_path / "raw"), console=None, log_line=None)
        else:
            plain.execute(loaded, opts, build_options(loaded, environ={}), console=None, log_line=None)
    assert system.read_bytes() == before


class _Printing:
    """An engine whose one container prints `lines` and exits with `code` (the session's console log is pure
    logic around the engine's line callback)."""

    def __init__(self, lines, code):
        self.lines, self.code, self.specs = lines, code, []

    def run(self, spec, on_line=None, tail_lines=30):
        from mlperfctl.engines.base import ContainerResult

        self.specs.append(spec)
        for line in self.lines:
            on_line(line)
        return ContainerResult(self.code, "\n".join(self.lines[-tail_lines:]))


@pytest.mark.parametrize("code", [0, 3])
def test_every_harness_run_keeps_its_console_output_as_console_log(loaded, tmp_path, code):
    """Both flows run the harness through RunSession.run_harness with console.log beside the run's raw outputs:
    every line the container printed, as it came, kept also when the harness fails."""
    from mlperfctl.options import build_options

    o = RunOptions(model="resnet50", device="cpu", dataset_dir=tmp_path, model_path=tmp_path / "m.onnx",
                   cache_dir=tmp_path / "cache", submission_dir=tmp_path / "sub")
    shown = []
    s = session.RunSession(loaded, o, build_options(loaded, environ={}), console=_Quiet(),
                           log_line=lambda label, line: shown.append((label, line)))
    lines = ["loading model", "Offline: 12.5 samples/s", "done"]
    s.engine, s.model_path, s.user, s.owner = _Printing(lines, code), tmp_path / "m.onnx", (1, 1), "h:1"
    s.model_target = "/model/m.onnx"
    s.image = session.Image("img:1", "sha256:1", None, {})
    out = tmp_path / "raw" / "Offline" / "performance"
    out.mkdir(parents=True)
    command = s.harness_command("Offline", "performance", "/results/Offline/performance")
    if code:
        with pytest.raises(UserError, match="the harness failed"):
            s.run_harness("Offline/performance", command, tmp_path / "raw", console_log=out / session.CONSOLE_LOG)
    else:
        s.run_harness("Offline/performance", command, tmp_path / "raw", console_log=out / session.CONSOLE_LOG)
    text = (out / "console.log").read_text().splitlines()
    assert text[0] == "# Offline/performance: python3 -m mlperf_harness " + " ".join(command)
    assert text[1:4] == lines and text[4].startswith(f"# exit code {code} after ")
    assert shown == [("Offline/performance", line) for line in lines]  # still shown on the console


class _Quiet:
    def print(self, *a, **kw):
        pass


def test_plain_run_results_dir_is_checked_before_any_container(loaded, tmp_path, monkeypatch):
    """A plain run keeps its raw outputs as --submission does: --results-dir (default <submission-dir>-raw),
    checked on the host, the same rules, before the engine is asked anything."""
    from mlperfctl.options import build_options
    from mlperfctl.run import execute as plain

    o = opts(tmp_path)
    assert session.check_destinations(o.submission_dir, None) == (tmp_path / "sub-raw").resolve()
    assert session.check_destinations(o.submission_dir, tmp_path / "r") == (tmp_path / "r").resolve()
    monkeypatch.setattr(session.engines, "get", lambda *a, **kw: _NoContainers())
    with pytest.raises(UserError, match=r"--results-dir .*/sub/raw is inside the submission tree"):
        plain.execute(loaded, o, build_options(loaded, environ={}), console=None, log_line=None,
                      results_dir=tmp_path / "sub" / "raw")
