"""Submission tree: layout (v6.1, v5.1), check rules, truncate, package, force and atomicity.

The LoadGen logs are real: tests/data/tiny_sut.py runs mlperf_loadgen 6.0.17 (Offline, resnet50
rules from its embedded mlperf.conf) against an in-memory SUT. A run configured for 600 s would take
600 s, so the "valid" performance log is a copy of a real 200 ms run whose configured min duration
(effective/requested_min_duration_ms, and the summary line) is edited to 600000; the unedited real
log is the "short min duration" case.
"""

import errno
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

import mlperf_rules
from mlperfctl import submission
from mlperfctl.errors import UserError
from mlperfctl.submission import MLLog, archive, sysinfo
from mlperfctl.submission import check as submission_check
from mlperfctl.submission import transaction as submission_transaction

DATA = Path(__file__).parent / "data"
SYSTEM = "box_cpu"
BASE = Path("open", "acme")
SCEN = BASE / "results" / SYSTEM / "resnet50" / "Offline"
V61 = mlperf_rules.get_round("v6.1")


def run_tiny_sut(out: Path, mode: str, conf: Path) -> Path:
    subprocess.run([sys.executable, str(DATA / "tiny_sut.py"), str(out), mode, str(conf)], check=True)
    return out


def set_mllog(path: Path, key: str, value) -> None:
    """Rewrite the value of every `:::MLLOG` record with this key."""
    lines = []
    for line in path.read_text().splitlines():
        if line.startswith(":::MLLOG") and json.loads(line[8:])["key"] == key:
            record = json.loads(line[8:])
            record["value"] = value
            line = ":::MLLOG " + json.dumps(record)
        lines.append(line)
    path.write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Harness output dirs: real performance (200 ms), the same edited to 600 s, real accuracy."""
    base = tmp_path_factory.mktemp("harness")
    conf = base / "user.conf"
    conf.write_text("resnet50.Offline.target_qps = 120000\nresnet50.Offline.min_duration = 200\n")
    short = run_tiny_sut(base / "perf-200ms", "performance", conf)
    acc = run_tiny_sut(base / "accuracy", "accuracy", conf)
    valid = base / "perf-600s"
    shutil.copytree(short, valid)
    for key in ("requested_min_duration_ms", "effective_min_duration_ms"):
        set_mllog(valid / "mlperf_log_detail.txt", key, 600000)
    summary = valid / "mlperf_log_summary.txt"
    summary.write_text(summary.read_text().replace("min_duration (ms): 200\n", "min_duration (ms): 600000\n"))
    (valid / "user.conf").write_text((valid / "user.conf").read_text().replace("= 200", "= 600000"))
    src = base / "harness-src"
    (src / "mlperf_harness").mkdir(parents=True)
    (src / "mlperf_harness" / "__init__.py").write_text('"""harness"""\n')
    return {"short": short, "valid": valid, "acc": acc, "src": src}


def system_json(division="open", submitter="acme"):
    probed = {"host_processor_model_name": "Test CPU", "host_processors_per_node": "1",
              "host_processor_core_count": "2", "host_memory_capacity": "16 GB",
              "host_storage_capacity": "500 GB", "host_storage_type": "SSD", "operating_system": "Debian 12",
              "accelerators_per_node": "0", "accelerator_model_name": "N/A", "accelerator_memory_capacity": "N/A",
              "accelerator_host_interconnect": "N/A"}
    return sysinfo.system_description(division=division, submitter=submitter, system_name=SYSTEM,
                                      framework="onnxruntime 1.32.0", probed=probed)


def result_set(perf, acc, ledger=None, compliance=None):
    return submission.ResultSet(
        model="resnet50", scenario="Offline", performance_dir=perf, accuracy_dir=acc,
        measurements=submission.measurements_for("resnet50", "fp32", "resnet50_v1.onnx"),
        readme="# resnet50 Offline\n\n    mlperfctl run --model resnet50\n\nimage sha256:abc\n",
        ledger=ledger or {"cell": "python-onnxruntime-cpu-resnet50", "exit_status": 0}, compliance=compliance or {})


def write(root, runs, *, perf="valid", acc="acc", division="open", version="v6.1", force=False, **kw):
    rs = result_set(runs[perf] if perf else None, runs[acc] if acc else None, **kw)
    return submission.write_results(root, division=division, submitter="acme", system_name=SYSTEM,
                                    system_json=system_json(division), results=[rs], src_dir=runs["src"],
                                    rnd=mlperf_rules.get_round(version), force=force)


def snapshot(root: Path) -> dict:
    """Every file's sha256 and every directory, to prove a tree unchanged."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
            for p in sorted(root.rglob("*"))}


def messages(root, version="v6.1", **kw):
    return [str(p) for p in submission_check.check(root, rnd=mlperf_rules.get_round(version), **kw).problems]


@pytest.fixture
def clean(tmp_path, runs):
    """A complete, truncated v6.1 open tree that passes the check."""
    root = tmp_path / "sub"
    write(root, runs)
    submission.truncate_accuracy_logs(root, tmp_path / "backup")
    return root


def test_fixture_logs_are_real_loadgen_6_0_17_with_v61_seeds(runs):
    perf = MLLog(runs["short"] / "mlperf_log_detail.txt")
    assert perf.get("result_validity") == "VALID" and perf.get("effective_min_duration_ms") == 200
    seeds = mlperf_rules.get_round("v6.1").seeds.as_dict()
    assert {k: perf.get(f"effective_{k}") for k in mlperf_rules.SEED_KEYS} == seeds
    assert perf.get("effective_samples_per_query") >= 24576 and perf.get("effective_performance_sample_count") == 1024
    acc = MLLog(runs["acc"] / "mlperf_log_detail.txt")
    assert acc.get("effective_accuracy_sample_count") == 50000
    assert (runs["acc"] / "mlperf_log_accuracy.json").stat().st_size > 1_000_000
    assert (runs["acc"] / "accuracy.txt").read_text().startswith("accuracy=76.500%")


def test_v61_layout(tmp_path, runs):
    root = tmp_path / "sub"
    placed = write(root, runs)
    base = root / BASE
    scen = root / SCEN
    expected = ["systems/box_cpu.json", "src/resnet50/mlperf_harness/__init__.py"] + [
        str(SCEN.relative_to(BASE) / f) for f in (
            "performance/run_1/mlperf_log_summary.txt", "performance/run_1/mlperf_log_detail.txt",
            "accuracy/mlperf_log_summary.txt", "accuracy/mlperf_log_detail.txt",
            "accuracy/mlperf_log_accuracy.json", "accuracy/accuracy.txt",
            "measurements.json", "user.conf", "README.md", "run.json")]
    assert sorted(str(p.relative_to(base)) for p in base.rglob("*") if p.is_file()) == sorted(expected)
    assert base / "systems" / "box_cpu.json" in placed and scen / "performance" in placed
    desc = json.loads((base / "systems" / "box_cpu.json").read_text())
    assert len(desc) == 35 and desc["division"] == "open" and desc["accelerators_per_node"] == "0"
    assert set(json.loads((scen / "measurements.json").read_text())) == set(mlperf_rules.MEASUREMENT_FIELDS)
    assert json.loads((scen / "run.json").read_text())["accuracy"]["cell"] == "python-onnxruntime-cpu-resnet50"
    assert "mlperfctl run" in (scen / "README.md").read_text()
    assert "600000" in (scen / "user.conf").read_text()
    assert not list(root.glob(".mlperfctl-staging-*"))


def test_v51_layout_differs_only_by_the_round_seeds(tmp_path, runs):
    root = tmp_path / "sub"
    write(root, runs, version="v5.1")
    base = root / BASE
    meta = base / "measurements" / SYSTEM / "resnet50" / "Offline"
    assert sorted(p.name for p in meta.iterdir()) == ["README.md", "box_cpu_mlperfctl_Offline.json", "run.json",
                                                      "user.conf"]
    assert sorted(p.name for p in (root / SCEN).iterdir()) == ["accuracy", "performance"]
    assert (base / "code" / "resnet50" / "mlperfctl" / "mlperf_harness").is_dir()
    assert not (base / "src").exists()
    submission.truncate_accuracy_logs(root, tmp_path / "backup")
    problems = messages(root, "v5.1")
    # the logs carry LoadGen 6.0.17's v6.1 seeds: the v5.1 rules must reject exactly those
    assert len(problems) == 3 and all("rng_seed is" in p and "v5.1 requires" in p for p in problems)
    assert sorted(messages(root, "v6.1")) == [  # read with the v6 rules, the v6 pieces are missing
        "open/acme/results/box_cpu/resnet50/Offline/README.md: missing file",
        "open/acme/results/box_cpu/resnet50/Offline/measurements.json: missing measurements file",
        "open/acme/results/box_cpu/resnet50/Offline/user.conf: missing file",
        "open/acme/src: missing source directory (the implementation's code)"]


def test_untruncated_tree_fails_then_truncate_makes_it_pass(tmp_path, runs):
    root = tmp_path / "sub"
    write(root, runs)
    acc = root / SCEN / "accuracy"
    original = (acc / "mlperf_log_accuracy.json").read_bytes()
    problems = messages(root)
    assert len(problems) == 2
    assert "mlperf_log_accuracy.json: is not truncated" in problems[0]
    assert "accuracy.txt: no hash=<sha256> line" in problems[1]
    done = submission.truncate_accuracy_logs(root)  # default backup: beside the tree
    backup = tmp_path / "sub-accuracy-backup" / SCEN / "accuracy" / "mlperf_log_accuracy.json"
    assert done[0]["backup"] == str(backup) and backup.read_bytes() == original
    hash_line = (acc / "accuracy.txt").read_text().splitlines()[-1]
    assert hash_line == f"hash={hashlib.sha256(backup.read_bytes()).hexdigest()}"
    cut = (acc / "mlperf_log_accuracy.json").read_bytes()
    assert len(cut) <= mlperf_rules.MAX_ACCURACY_LOG_SIZE
    assert cut == original[:4096] + b"\n\n...\n\n" + original[-4096:]
    assert messages(root) == []
    assert submission.truncate_accuracy_logs(root) == []  # idempotent: already hashed and small


def test_a_rerun_accuracy_log_supersedes_its_backup_and_nothing_is_lost(tmp_path, runs, monkeypatch):
    root, backup = tmp_path / "sub", tmp_path / "backup"
    write(root, runs)
    acc = root / SCEN / "accuracy"
    first = (acc / "mlperf_log_accuracy.json").read_bytes()
    submission.truncate_accuracy_logs(root, backup)
    kept = backup / SCEN / "accuracy" / "mlperf_log_accuracy.json"
    assert submission.truncate_accuracy_logs(root, backup, supersede=True) == []  # truncated: nothing stale
    # a rerun writes the scenario again: a new full log (other content) and accuracy.txt without the hash
    write(root, runs, force=True)
    rerun = first.replace(b'"seq_id"', b'"seq_id" ', 1)
    (acc / "mlperf_log_accuracy.json").write_bytes(rerun)
    with pytest.raises(UserError, match="already exists with other content"):
        submission.truncate_accuracy_logs(root, backup)
    before = snapshot(root)

    def full(*args, **kw):
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(archive.shutil, "copy2", full)  # the disk fills while backing up the new log
    with pytest.raises(UserError, match=r"failed \(disk full\): the tree is exactly as it was"):
        submission.truncate_accuracy_logs(root, backup, supersede=True)
    monkeypatch.undo()
    assert snapshot(root) == before and kept.read_bytes() == first  # the old backup is back where it was
    assert not [p for p in backup.rglob("*") if p.is_file() and p != kept]
    submission.truncate_accuracy_logs(root, backup, supersede=True)
    moved = backup / ".superseded" / hashlib.sha256(first).hexdigest() / SCEN / "accuracy" / kept.name
    assert [p for p in (backup / ".superseded").rglob("*") if p.is_file()] == [moved]
    assert moved.read_bytes() == first
    assert kept.read_bytes() == rerun
    assert (acc / "accuracy.txt").read_text().splitlines()[-1] == f"hash={hashlib.sha256(rerun).hexdigest()}"
    assert messages(root) == []


def test_truncate_refuses_a_backup_inside_the_tree(tmp_path, runs):
    root = tmp_path / "sub"
    write(root, runs)
    with pytest.raises(UserError, match="must be outside the submission tree"):
        submission.truncate_accuracy_logs(root, root / "open" / "backup")


@pytest.mark.parametrize("big", [True, False])  # a big log (to truncate) and a small one (only hashed)
def test_truncate_refuses_an_accuracy_log_that_is_not_json(tmp_path, runs, big):
    root = tmp_path / "sub"
    write(root, runs)
    log = root / SCEN / "accuracy" / "mlperf_log_accuracy.json"
    full = log.read_bytes()
    assert len(full) > mlperf_rules.MAX_ACCURACY_LOG_SIZE
    log.write_bytes(full.rstrip()[:-1] if big else full[:5000])  # a run that stopped writing it
    before = snapshot(root)
    r = cli("truncate", str(root), "--backup", str(tmp_path / "bk"))
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith(f"error: {log}: not valid JSON (") and "rerun the accuracy run" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert snapshot(root) == before and not (tmp_path / "bk").exists()


def test_check_reports_an_accuracy_log_that_is_not_json(clean, tmp_path, runs):
    log = clean / SCEN / "accuracy" / "mlperf_log_accuracy.json"
    assert messages(clean) == []  # truncated (head ... tail, not JSON itself): fine
    log.write_text('[{"seq_id": 0, "qsl_idx": 1, "data": "00"}')  # small, with the hash line, but cut short
    assert messages(clean) == [f"{SCEN}/accuracy/mlperf_log_accuracy.json: not valid JSON "
                               "(Expecting ',' delimiter: line 1 column 43 (char 42)): the accuracy log cannot be "
                               "scored; rerun the accuracy run"]
    log.write_text("[]\n")
    assert messages(clean) == []


def _edit_system(field, value):
    def edit(root):
        path = root / BASE / "systems" / f"{SYSTEM}.json"
        desc = json.loads(path.read_text())
        desc[field] = value
        path.write_text(json.dumps(desc))
    return edit


def _edit_perf(key, value):
    return lambda root: set_mllog(root / SCEN / "performance" / "run_1" / "mlperf_log_detail.txt", key, value)


def _replace(rel, source_key, name):
    return lambda root, runs: shutil.copy(runs[source_key] / name, root / SCEN / rel / name)


BROKEN = {
    "missing file": (lambda root: (root / SCEN / "performance" / "run_1" / "mlperf_log_summary.txt").unlink(),
                     "performance/run_1/mlperf_log_summary.txt: missing file"),
    "empty system field": (_edit_system("host_memory_configuration", ""),
                           "systems/box_cpu.json: field host_memory_configuration is empty"),
    "division mismatch": (_edit_system("division", "closed"),
                          "division 'closed' does not match the directory 'open'"),
    "invalid status": (_edit_system("status", "soon"), "status 'soon' is invalid"),
    "wrong seed": (_edit_perf("effective_qsl_rng_seed", 1), "qsl_rng_seed is 1, v6.1 requires 2085463073848966840"),
    "invalid result": (_edit_perf("result_validity", "INVALID"), "result_validity is INVALID, expected VALID"),
    "few performance samples": (_edit_perf("effective_performance_sample_count", 64),
                                "performance_sample_count is 64, needs >= 1024"),
    "loadgen error": (lambda root: (root / SCEN / "performance" / "run_1" / "mlperf_log_detail.txt").open("a").write(
        ':::MLLOG {"key": "error_runtime", "value": "boom", "metadata": {"is_error": true}}\n'),
        "LoadGen error: boom"),
    "empty measurement": (lambda root: (root / SCEN / "measurements.json").write_text('{"retraining": ""}'),
                          "measurements.json: field retraining is empty"),
    "no accuracy value": (lambda root: (root / SCEN / "accuracy" / "accuracy.txt").write_text("hash=abc\n"),
                          "accuracy.txt: no acc value found"),
    "empty README": (lambda root: (root / SCEN / "README.md").write_text(""), "README.md: empty file"),
    "no src": (lambda root: shutil.rmtree(root / BASE / "src"), "src: missing source directory"),
    "hidden file": (lambda root: (root / SCEN / ".DS_Store").write_text("x"), ".DS_Store: hidden file"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_each_broken_rule_is_reported(clean, case):
    assert messages(clean) == []
    edit, expected = BROKEN[case]
    edit(clean)
    problems = messages(clean)
    assert any(expected in p for p in problems), problems


def test_dataset_size_check_and_its_switch(clean):
    """An accuracy run on a subset (e.g. demo data) fails the check unless the official
    checker's --skip-dataset-size-check switch is given."""
    detail = clean / SCEN / "accuracy" / "mlperf_log_detail.txt"
    for key in ("qsl_reported_total_count", "effective_accuracy_sample_count"):
        set_mllog(detail, key, 64)
    problems = messages(clean)
    assert len(problems) == 1 and "accuracy run covers 64 samples, the dataset has 50000" in problems[0]
    assert messages(clean, skip_dataset_size_check=True) == []


@pytest.mark.parametrize("case, rel, source, name, expected", [
    ("short min duration", "performance/run_1", "short", "mlperf_log_detail.txt",
     "min_duration is 200 ms, a valid run needs >= 600000 ms"),
    ("untruncated accuracy log", "accuracy", "acc", "mlperf_log_accuracy.json", "is not truncated"),
])
def test_real_logs_that_break_rules(clean, runs, case, rel, source, name, expected):
    _replace(rel, source, name)(clean, runs)
    problems = messages(clean)
    assert len(problems) == 1 and expected in problems[0], problems


def test_closed_division_rules(tmp_path, runs):
    root = tmp_path / "sub"
    write(root, runs, division="closed")
    submission.truncate_accuracy_logs(root, tmp_path / "backup")
    scen = Path("closed", "acme", "results", SYSTEM, "resnet50", "Offline")
    problems = messages(root)
    # accuracy 76.5% >= 75.70 and 26400 samples per query >= 24576 pass; an Offline-only edge
    # resnet50 misses two scenarios and the two compliance tests
    assert problems == [
        f"{scen.parent}: missing required scenario(s) for edge: SingleStream, MultiStream",
        f"{scen}/TEST01: missing compliance test TEST01 (closed division)",
        f"{scen}/TEST04: missing compliance test TEST04 (closed division)",
    ]
    assert len(messages(root, skip_compliance=True)) == 1
    (root / scen / "accuracy" / "accuracy.txt").write_text("accuracy=70.000%, good=1, total=2\nhash=ab\n")
    assert any("acc=70 is below the target 75.6954" in p for p in messages(root, skip_compliance=True))


def test_compliance_dirs_are_placed_per_layout(tmp_path, runs):
    test01 = tmp_path / "TEST01"
    (test01 / "performance" / "run_1").mkdir(parents=True)
    shutil.copy(runs["valid"] / "mlperf_log_detail.txt", test01 / "performance" / "run_1")
    shutil.copy(runs["valid"] / "mlperf_log_summary.txt", test01 / "performance" / "run_1")
    (test01 / "verify_performance.txt").write_text("TEST PASS\n")
    (test01 / "verify_accuracy.txt").write_text("TEST PASS\n")
    write(tmp_path / "v6", runs, compliance={"TEST01": test01})
    write(tmp_path / "v5", runs, version="v5.1", compliance={"TEST01": test01})
    assert (tmp_path / "v6" / SCEN / "TEST01" / "verify_performance.txt").is_file()
    assert (tmp_path / "v5" / BASE / "compliance" / SYSTEM / "resnet50" / "Offline" / "TEST01"
            / "performance" / "run_1" / "mlperf_log_detail.txt").is_file()


def test_existing_result_is_refused_without_force(clean, runs):
    before = snapshot(clean)
    assert write(clean, runs, acc=None) == []  # the same bytes again: nothing to do
    with pytest.raises(UserError, match="performance already exists"):
        write(clean, runs, perf="short", acc=None)
    with pytest.raises(UserError, match="pass --force"):
        submission.refuse_existing(clean, division="open", submitter="acme", system_name=SYSTEM,
                                   model="resnet50", scenarios=["Offline"], rnd=V61)
    submission.refuse_existing(clean, division="open", submitter="acme", system_name=SYSTEM, model="resnet50",
                               scenarios=["Offline"], rnd=V61, force=True)
    assert snapshot(clean) == before


def test_force_replaces_one_mode_and_keeps_the_tree_consistent(clean, runs):
    acc_before = snapshot(clean / SCEN / "accuracy")
    placed = write(clean, runs, perf="short", acc=None, force=True, ledger={"cell": "new", "exit_status": 0})
    assert clean / SCEN / "performance" in placed
    detail = MLLog(clean / SCEN / "performance" / "run_1" / "mlperf_log_detail.txt")
    assert detail.get("effective_min_duration_ms") == 200
    assert snapshot(clean / SCEN / "accuracy") == acc_before  # untouched, still truncated
    ledger = json.loads((clean / SCEN / "run.json").read_text())
    assert ledger["performance"]["cell"] == "new" and ledger["accuracy"]["cell"] == "python-onnxruntime-cpu-resnet50"
    assert not list(clean.glob(".mlperfctl-staging-*"))
    assert [p.split(": ", 1)[1] for p in messages(clean)] == ["min_duration is 200 ms, a valid run needs >= 600000 ms"]


@pytest.mark.parametrize("fail_at", [1, 2, 4, 7])
def test_injected_failure_leaves_the_tree_byte_identical(clean, runs, monkeypatch, fail_at):
    before = snapshot(clean)
    calls = []
    real = submission_transaction._rename

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == fail_at:
            raise OSError("injected failure")
        real(src, dst)

    monkeypatch.setattr(submission_transaction, "_rename", flaky)
    other = json.loads(json.dumps(system_json()))
    other["cooling"] = "liquid"  # the system json, src and both results all get replaced
    rs = result_set(runs["short"], runs["acc"])
    with pytest.raises(OSError, match="injected"):
        submission.write_results(clean, division="open", submitter="acme", system_name=SYSTEM, system_json=other,
                                 results=[rs], src_dir=runs["acc"], rnd=V61, force=True)
    assert len(calls) == fail_at
    assert snapshot(clean) == before


def test_bad_input_writes_nothing(tmp_path, runs):
    root = tmp_path / "new"
    broken = tmp_path / "acc-without-txt"
    shutil.copytree(runs["acc"], broken)
    (broken / "accuracy.txt").unlink()
    with pytest.raises(UserError, match="accuracy.txt is missing"):
        submission.write_results(root, division="open", submitter="acme", system_name=SYSTEM,
                                 system_json=system_json(), results=[result_set(runs["valid"], broken)],
                                 src_dir=None, rnd=V61)
    assert not root.exists()
    with pytest.raises(UserError, match="does not match the directory 'open'"):
        submission.write_results(root, division="open", submitter="acme", system_name=SYSTEM,
                                 system_json=system_json("closed"), results=[result_set(runs["valid"], None)],
                                 src_dir=None, rnd=V61)
    with pytest.raises(UserError, match="unknown division 'network'"):
        write(root, runs, division="network")
    with pytest.raises(UserError, match="invalid system name"):
        submission.write_results(root, division="open", submitter="acme", system_name="my box",
                                 system_json=system_json(), results=[result_set(runs["valid"], None)], src_dir=None,
                                 rnd=V61)


def test_package_is_reproducible(clean, tmp_path):
    first, sha = submission.package(clean, tmp_path / "a.tar.gz")
    for p in clean.rglob("*"):
        p.touch()  # new mtimes must not change the archive
    second, _ = submission.package(clean, tmp_path / "b.tar.gz")
    digest = hashlib.sha256(first.read_bytes()).hexdigest()
    assert digest == hashlib.sha256(second.read_bytes()).hexdigest()
    assert sha.read_text() == f"{digest}  a.tar.gz\n"
    with tarfile.open(first) as tar:
        members = tar.getmembers()
    names = [m.name for m in members]
    assert names[0] == "sub" and f"sub/{SCEN}/accuracy/accuracy.txt" in names
    assert all(m.mtime == 0 and m.uid == 0 and m.uname == "" for m in members)
    with pytest.raises(UserError, match="must be outside the tree"):
        submission.package(clean, clean / "x.tar.gz")


def cli(*args):
    return subprocess.run([sys.executable, "-m", "mlperfctl", "submission", *args], capture_output=True, text=True)


def test_cli_check_truncate_package(tmp_path, runs):
    root = tmp_path / "sub"
    write(root, runs)
    r = cli("check", str(root))
    assert r.returncode == 1
    assert f"{root / SCEN}/accuracy/mlperf_log_accuracy.json: is not truncated" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 2 and "1 results, 2 problems" in r.stdout
    r = cli("truncate", str(root), "--backup", str(tmp_path / "bk"), "--json")
    assert r.returncode == 0 and json.loads(r.stdout)[0]["truncated"] is True
    r = cli("check", str(root), "--json")
    assert r.returncode == 0, r.stdout
    report = json.loads(r.stdout)
    assert report["ok"] is True and report["results"][0]["accuracy"] == "acc=76.5"
    r = cli("package", str(root), "--json")
    assert r.returncode == 0 and Path(json.loads(r.stdout)["archive"]) == tmp_path / "sub.tar.gz"
    r = cli("check", str(root), "--version", "v9.9")
    assert r.returncode == 2 and r.stderr.startswith("error: --version: unknown MLPerf round 'v9.9'")


def test_closed_v51_tree_gets_calibration_md_and_keeps_yours(tmp_path, runs):
    """v5.x checkers require calibration.md in a closed tree: the writer makes it from the measurements
    (never in v6.x or open trees, never over one that is there)."""
    root = tmp_path / "sub"
    write(root, runs, version="v5.1", division="closed")
    cal = root / "closed" / "acme" / "calibration.md"
    text = cal.read_text()
    assert "resnet50 Offline: weights fp32 (transformations: none), inputs fp32" in text
    assert "nothing is quantized" in text
    assert not any("calibration" in p for p in messages(root, "v5.1"))
    cal.write_text("# ours\n")
    write(root, runs, version="v5.1", division="closed", force=True)
    assert cal.read_text() == "# ours\n"
    write(tmp_path / "v6", runs, version="v6.1", division="closed")
    write(tmp_path / "open", runs, version="v5.1")
    assert not list((tmp_path / "v6").rglob("calibration.md")) and not list((tmp_path / "open").rglob("calibration.md"))


def test_every_round_of_the_rulebook_can_be_checked(clean):
    """A v6.1 tree read with the v6.0 rules differs only by the seeds; the v5.x/v4.x rules find their
    layout's pieces missing, and the v4.x ones also want mlperf.conf beside user.conf."""
    v60 = messages(clean, "v6.0")
    assert len(v60) == 3 and all("rng_seed is" in p and "v6.0 requires" in p for p in v60)
    for version in ("v5.1", "v5.0", "v4.1", "v4.0"):
        problems = messages(clean, version)
        assert "open/acme/code/resnet50: missing source directory (the implementation's code)" in problems
        assert sum(f"{version} requires" in p for p in problems) == 3
        assert any("mlperf.conf: missing file" in p for p in problems) == version.startswith("v4")
    r = cli("check", str(clean), "--version", "v4.0")
    assert r.returncode == 1 and "(v4.0)" in r.stdout


def test_a_model_of_an_older_round_names_it(clean):
    """gptj's newest closed round is v5.0: a v6.1 check says so instead of inventing rules."""
    results = clean / BASE / "results" / SYSTEM
    shutil.copytree(results / "resnet50", results / "gptj-99")
    problems = messages(clean)
    assert "open/acme/results/box_cpu/gptj-99: no rules known for model 'gptj-99' in v6.1 " \
           "(its newest round is v5.0 (--version v5.0))" in problems


def _closed_with_compliance(tmp_path, runs, verify_accuracy="TEST PASS\n"):
    test01 = tmp_path / "TEST01"
    (test01 / "performance" / "run_1").mkdir(parents=True)
    shutil.copy(runs["valid"] / "mlperf_log_detail.txt", test01 / "performance" / "run_1")
    shutil.copy(runs["valid"] / "mlperf_log_summary.txt", test01 / "performance" / "run_1")
    (test01 / "verify_performance.txt").write_text("TEST PASS\n")
    (test01 / "verify_accuracy.txt").write_text(verify_accuracy)
    test04 = tmp_path / "TEST04"
    shutil.copytree(test01, test04)
    (test04 / "verify_accuracy.txt").unlink()
    root = tmp_path / "sub"
    write(root, runs, division="closed", compliance={"TEST01": test01, "TEST04": test04})
    submission.truncate_accuracy_logs(root, tmp_path / "backup")
    return root, Path("closed", "acme", "results", SYSTEM, "resnet50", "Offline")


def test_closed_compliance_tests_pass_and_the_test01_fallback(tmp_path, runs):
    root, scen = _closed_with_compliance(tmp_path, runs)
    assert messages(root) == [f"{scen.parent}: missing required scenario(s) for edge: SingleStream, MultiStream"]
    # the performance checks run on TESTxx/performance/run_1 too, and its file list is exact
    run_1 = root / scen / "TEST04" / "performance" / "run_1"
    (run_1 / "mlperf_log_summary.txt").unlink()
    assert any("TEST04/performance/run_1: file list mismatch (mlperf_log_summary.txt)" in p for p in messages(root))
    shutil.copy(runs["short"] / "mlperf_log_summary.txt", run_1)
    shutil.copy(runs["short"] / "mlperf_log_detail.txt", run_1)
    assert any("TEST04/performance/run_1/mlperf_log_detail.txt: min_duration is 200 ms" in p for p in messages(root))
    shutil.copy(runs["valid"] / "mlperf_log_detail.txt", run_1)
    # the first-element comparison failed: the baseline and compliance scores must be within 1 % (resnet)
    (root / scen / "TEST01" / "verify_accuracy.txt").write_text("num_perf_log_data_mismatch = 3\nTEST FAIL\n")
    problems = messages(root)
    assert any("TEST01/accuracy/baseline_accuracy.txt: missing" in p for p in problems), problems
    acc = root / scen / "TEST01" / "accuracy"
    acc.mkdir()
    (acc / "baseline_accuracy.txt").write_text("accuracy=76.500%, good=3060, total=4000\n")
    (acc / "compliance_accuracy.txt").write_text("accuracy=76.000%, good=3040, total=4000\n")
    # the official checker's exact file list of TEST01/accuracy
    assert any("TEST01/accuracy: file list mismatch (accuracy.txt, mlperf_log_accuracy.json)" in p
               for p in messages(root)), messages(root)
    (acc / "accuracy.txt").write_text("")
    shutil.copy(runs["acc"] / "mlperf_log_accuracy.json", acc)
    assert len(messages(root)) == 1
    (acc / "mlperf_log_accuracy.json").write_text("[")  # a compliance log that is not JSON
    assert any(p == f"{scen}/TEST01/accuracy/mlperf_log_accuracy.json: not valid JSON (Expecting value: line 1 "
               "column 2 (char 1)): the accuracy log cannot be scored; rerun the accuracy run" for p in messages(root))
    shutil.copy(runs["acc"] / "mlperf_log_accuracy.json", acc)
    (acc / "notes.txt").write_text("extra")
    assert any("file list mismatch (notes.txt)" in p for p in messages(root))
    (acc / "notes.txt").unlink()
    (acc / "compliance_accuracy.txt").write_text("accuracy=75.000%, good=3000, total=4000\n")
    assert any("TEST01 fallback: acc differs by 2.000% (> 1%)" in p for p in messages(root))


def _context(tmp_path, version="v6.1"):
    from mlperfctl.submission.check import Context, Report

    return Context(tmp_path, mlperf_rules.get_round(version), False, False, Report(tmp_path, version))


def test_test06_needs_all_three_pass_lines(tmp_path):
    from mlperfctl.submission.check import compliance

    verify = tmp_path / "verify_accuracy.txt"
    lines = ["First token check pass: Skipped", "EOS check pass: True", "Sample length check pass: True",
             "TEST06 verification complete"]
    verify.write_text("\n".join(lines) + "\n")
    ctx = _context(tmp_path)
    compliance._test06(ctx, verify)
    assert ctx.report.problems == []
    verify.write_text("\n".join(lines).replace("EOS check pass: True", "EOS check pass: False") + "\n")
    compliance._test06(ctx, verify)
    assert [p.message for p in ctx.report.problems] == [
        "TEST06 did not pass (needs the first-token, EOS and sample-length pass lines)"]


@pytest.mark.parametrize("version, scenario, ttft_ms, expected", [
    ("v6.1", "Server", 1999, []),
    ("v6.1", "Server", 2000, ["p99 TTFT 2000 ms is not below 2000 ms (Server)"]),
    ("v6.1", "Interactive", 449, []),
    ("v6.1", "Interactive", 451, ["p99 TTFT 451 ms is not below 450 ms (Interactive)"]),
    ("v5.0", "Server", 1999, []),  # v5.0: one limit for every non-Offline scenario
    ("v6.1", "Offline", 99999, []),
])
def test_llm_token_latency_limits(tmp_path, version, scenario, ttft_ms, expected):
    from mlperfctl.submission.check import performance

    detail = tmp_path / "mlperf_log_detail.txt"
    detail.write_text("".join(f':::MLLOG {{"key": "{k}", "value": {v}}}\n' for k, v in (
        ("result_first_token_99.00_percentile_latency_ns", ttft_ms * 1e6),
        ("result_time_per_output_token_99.00_percentile_ns", 30e6), ("effective_target_latency_ns", 0))))
    ctx = _context(tmp_path, version)
    bench = ctx.round.benchmark("llama2-70b-99")
    performance._check_latency(ctx, detail, MLLog(detail), scenario, bench or ctx.round.benchmark("llama2-70b-99.9"))
    assert [p.message for p in ctx.report.problems] == expected


@pytest.fixture(scope="module")
def interactive_run(tmp_path_factory):
    """A real tiny-LoadGen run with llama2-70b's Interactive settings (LoadGen's Server scenario under the
    llama2-70b-interactive key: TTFT/TPOT 450/40 ms): 100 queries, as an audit.config sets them."""
    base = tmp_path_factory.mktemp("interactive")
    conf, audit, out = base / "user.conf", base / "audit.config", base / "run"
    conf.write_text("llama2-70b-interactive.Server.target_qps = 200\n")
    audit.write_text("*.*.mode = 2\n*.*.min_query_count = 100\n*.*.min_duration = 0\n"
                     "*.*.sample_concatenate_permutation = 0\n")
    subprocess.run([sys.executable, str(DATA / "tiny_llm_sut.py"), str(out), str(conf), "--scenario", "Server",
                    "--audit-config", str(audit), "--lg-model", "llama2-70b-interactive"], check=True)
    return out


def test_an_interactive_folder_holds_a_server_run(tmp_path, interactive_run):
    """As the official checker: an Interactive folder's run is a LoadGen Server run (effective_scenario Server,
    allowed there only), its result the Server result key's (tokens/s for llama2-70b), its TTFT/TPOT judged
    against the Interactive limits."""
    from mlperfctl.submission.check import performance

    log = MLLog(interactive_run / "mlperf_log_detail.txt")
    assert log.get("effective_scenario") == "Server" and log.get("requested_use_token_latencies") is True
    assert (log.get("requested_server_ttft_latency"), log.get("requested_server_tpot_latency")) == (450e6, 40e6)
    ctx = _context(tmp_path)  # v6.1, whose seeds LoadGen 6.0.17 has
    bench = ctx.round.benchmark("llama2-70b-99.9")
    shown = performance.check(ctx, interactive_run, "closed", "Interactive", bench)
    assert shown == f"{log.get('result_completed_tokens_per_second'):.2f}/s"
    found = [p.message for p in ctx.report.problems]
    # what a 100-query run lacks for a valid result, nothing about its scenario or token latencies
    assert found and all(m.startswith(("result_validity", "min_duration")) for m in found), found
    for scenario in ("Offline", "SingleStream"):  # a Server run belongs to Server and Interactive folders only
        ctx = _context(tmp_path)
        performance.check(ctx, interactive_run, "closed", scenario, bench)
        found = [p.message for p in ctx.report.problems]
        assert f"the run's scenario is Server, the directory says {scenario}" in found
    detail = tmp_path / "slow" / "mlperf_log_detail.txt"
    detail.parent.mkdir()
    shutil.copy(interactive_run / "mlperf_log_detail.txt", detail)
    set_mllog(detail, "result_first_token_99.00_percentile_latency_ns", 600e6)  # within Server's 2000 ms only
    ctx = _context(tmp_path)
    performance.check(ctx, detail.parent, "closed", "Interactive", bench)
    assert "p99 TTFT 600 ms is not below 450 ms (Interactive)" in [p.message for p in ctx.report.problems]
    ctx = _context(tmp_path)
    performance.check(ctx, detail.parent, "closed", "Server", bench)
    assert not any("TTFT" in p.message or "scenario" in p.message for p in ctx.report.problems)


@pytest.mark.parametrize("version, model, scenarios, expected", [
    ("v6.1", "llama2-70b-99.9", ["Interactive", "Offline"], []),
    ("v6.1", "llama2-70b-99.9", ["Interactive", "Offline", "Server"], []),
    ("v6.0", "llama2-70b-99", ["Offline", "Server"], []),
    ("v5.1", "llama2-70b-99", ["Offline"], ["missing required scenario(s) for datacenter: Interactive or Server"]),
    ("v5.0", "llama2-70b-99", ["Interactive", "Offline", "Server"],
     ["Interactive is not a datacenter scenario of llama2-70b-99 in v5.0"]),
])
def test_interactive_in_the_scenario_set(tmp_path, version, model, scenarios, expected):
    from mlperfctl.submission.check import structure

    ctx = _context(tmp_path, version)
    structure.check_scenario_set(ctx, tmp_path, model, "datacenter", scenarios)
    assert [p.message for p in ctx.report.problems] == expected
