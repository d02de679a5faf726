"""`--version` picks the round's LoadGen: version -> the rulebook's pin -> the runtime stage's lock, text, hash
and tag (and every stage above it), and the one-line refusals. Pure logic and the committed locks: no engine."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from mlperfctl.builder import lock
from mlperfctl.builder.plan import plan
from mlperfctl.builder.render import render
from mlperfctl.errors import UserError
from mlperfctl.options import RunOptions, build_options, resolve_round, run_options
from mlperfctl.run import rulebook, session
from mlperfctl.run import submission_flow as flow

ROOT = Path(__file__).resolve().parent.parent
CELL = "python-onnxruntime-cpu-resnet50"
PINS = {"v6.1": "6.0.17", "v6.0": "6.0.15", "v5.1": "5.1.1", "v5.0": "5.0.21", "v4.1": "4.1.30"}


def pins(path: Path) -> dict[str, str]:
    return dict(re.findall(r"(?m)^([A-Za-z0-9_.\-]+)==(\S+)", path.read_text()))


def test_each_round_picks_its_pin_and_v40_has_none():
    assert {v: resolve_round(v).pin for v in PINS} == PINS
    assert resolve_round("v4.0").pin is None
    with pytest.raises(UserError, match=r"--version: unknown MLPerf round 'v3.9' \(choose: v6.1"):
        resolve_round("v3.9")
    assert rulebook.build_loadgen(None, "6.0.17") is None
    assert rulebook.build_loadgen(resolve_round("v5.1"), "6.0.17") == "5.1.1"
    with pytest.raises(UserError) as e:
        rulebook.build_loadgen(resolve_round("v4.0"), "6.0.17")
    line = str(e.value)
    assert "\n" not in line and "no LoadGen release carries v4.0's seeds" in line
    assert "drop --version (LoadGen 6.0.17)" in line and "v5.1: 5.1.1" in line


def test_submission_loadgen_refuses_a_round_without_pin_with_what_to_do():
    assert rulebook.submission_loadgen(resolve_round("v5.1", "resnet50"), "resnet50") == "5.1.1"
    assert rulebook.submission_loadgen(resolve_round(None, "resnet50"), "resnet50") == "6.0.17"  # the default round's
    with pytest.raises(UserError) as e:
        rulebook.submission_loadgen(resolve_round("v4.0", "resnet50"), "resnet50")
    assert "\n" not in str(e.value) and "pick --version v6.1 or v6.0 or v5.1 or v5.0 or v4.1" in str(e.value)
    with pytest.raises(UserError) as e:
        rulebook.submission_loadgen(resolve_round("v4.0", "rnnt"), "rnnt")  # rnnt's only round: no LoadGen of its own
    assert "closed benchmark only of rounds without a LoadGen pin, or run without --submission" in str(e.value)


def test_run_options_an_explicit_version_picks_the_loadgen_the_default_keeps_the_matrix():
    assert run_options(model="resnet50").round.loadgen is None
    gptj = run_options(model="gptj-99").round
    assert (gptj.version, gptj.rules_version, gptj.loadgen, gptj.explicit) == ("v5.0", "v5.0", None, False)
    assert run_options(model="gptj-99", version="v6.1").round.rules_version == "v5.0"  # its newest rules
    assert run_options(model="resnet50", version="v5.1").round.loadgen == "5.1.1"
    assert run_options(model="rnnt", version="v4.0").round.loadgen is None  # no pin: the matrix's LoadGen, as before
    with pytest.raises(UserError, match="unknown MLPerf round 'v9.9'"):  # with the options, in one line
        run_options(model="resnet50", version="v9.9")


def test_with_loadgen_selects_the_runtime_lock_and_keeps_the_upper_locks(loaded):
    assert loaded.loadgen == "6.0.17" and loaded.default_loadgen
    assert loaded.with_loadgen(None) == loaded and loaded.with_loadgen("6.0.17") == loaded
    lm = loaded.with_loadgen("5.1.1")
    assert lm.loadgen == "5.1.1" and not lm.default_loadgen and lm.matrix is loaded.matrix
    cell = lm.parse_cell(CELL)
    locks = lock.stage_locks(lm, cell)
    assert locks["runtime"].src == "locks/cpu/runtime-loadgen-5.1.1.txt"
    assert locks["runtime"].dest == "/opt/mlperf/locks/cpu-runtime-loadgen-5.1.1.txt"
    assert ("mlcommons-loadgen", "5.1.1") in locks["runtime"].packages
    assert locks["framework"].src == lock.stage_locks(loaded, cell)["framework"].src == "locks/cpu/onnxruntime.txt"
    assert lock.stage_locks(loaded, cell)["runtime"].src == "locks/cpu/runtime.txt"


@pytest.mark.parametrize("device", ["cpu", "cuda", "rocm"])
@pytest.mark.parametrize("version", ["6.0.15", "5.1.1", "5.0.21", "4.1.30"])
def test_committed_round_locks_differ_from_the_default_only_in_loadgen(device, version):
    path = ROOT / "locks" / device / f"runtime-loadgen-{version}.txt"
    default = pins(ROOT / "locks" / device / "runtime.txt")
    got = pins(path)
    assert got.pop("mlcommons-loadgen") == version and default.pop("mlcommons-loadgen") == "6.0.17"
    assert got == default  # so the framework locks, constrained by runtime.txt, hold on this runtime too
    assert "--hash=sha256:" in path.read_text()


def test_lock_with_another_loadgen_compiles_only_the_runtime_stage(loaded, monkeypatch):
    seen = []
    monkeypatch.setattr(lock, "compile_lock", lambda lm, lk, reachable: seen.append(lk.src) or
                        lock.LockResult(lk, True, "unchanged"))
    cells = [loaded.parse_cell(CELL), loaded.parse_cell("python-onnxruntime-cuda-resnet50")]
    lock.lock_cells(loaded.with_loadgen("5.1.1"), cells)
    assert seen == ["locks/cpu/runtime-loadgen-5.1.1.txt", "locks/cuda/runtime-loadgen-5.1.1.txt"]
    seen.clear()
    lock.lock_cells(loaded, cells[:1])
    assert seen == ["locks/cpu/runtime.txt", "locks/cpu/onnxruntime.txt", "locks/cpu/onnxruntime-resnet50.txt"]


def test_the_loadgen_changes_the_runtime_stage_and_every_stage_above_it(loaded):
    opts = build_options(loaded, environ={})
    cell = loaded.parse_cell(CELL)
    [default] = plan(loaded, [cell], opts)
    [v51] = plan(loaded.with_loadgen("5.1.1"), [cell], opts)
    assert [s.name for s in default.stages] == ["device", "runtime", "framework", "implementation"]
    assert default.stages[0].hash == v51.stages[0].hash  # the base image stage is shared
    for a, b in zip(default.stages[1:], v51.stages[1:], strict=True):
        assert a.hash != b.hash and a.tag != b.tag and "loadgen" not in a.tag
        assert "loadgen-5.1.1" in b.tag and not b.unlocked
    assert v51.tag.startswith(f"mlperfctl/{CELL}:loadgen-5.1.1-")
    assert re.fullmatch(rf"mlperfctl/{CELL}:[0-9a-f]{{16}}", default.tag)
    # the same stages for every cell of the round: two models on cpu/onnxruntime share runtime and framework
    [other] = plan(loaded.with_loadgen("5.1.1"), [loaded.parse_cell("python-onnxruntime-cpu-bert-99")], opts)
    assert other.stages[1] is not None and other.stages[1].hash == v51.stages[1].hash
    assert other.stages[2].hash == v51.stages[2].hash
    text = render(loaded.with_loadgen("5.1.1"), cell)
    assert "--require-hashes -r /opt/mlperf/locks/cpu-runtime-loadgen-5.1.1.txt" in text
    assert 'io.mlperfctl.loadgen="5.1.1"' in text and "MLPerf LoadGen 5.1.1" in text


def test_check_loadgen_still_refuses_an_image_built_otherwise():
    v51 = resolve_round("v5.1").submission
    flow.check_loadgen(v51, "5.1.1", "img")
    with pytest.raises(UserError) as e:
        flow.check_loadgen(v51, "6.0.17", "img")
    assert "\n" not in str(e.value) and "`mlperfctl build --version v5.1`" in str(e.value)


def test_run_submission_with_v40_is_refused_before_any_container(loaded, tmp_path, monkeypatch):
    def no_engine(*a, **kw):
        raise AssertionError("an engine was asked for")

    monkeypatch.setattr(session.engines, "get", no_engine)
    opts = RunOptions(model="resnet50", device="cpu", version="v4.0", scenario="Offline", division="closed",
                      submission_dir=tmp_path / "sub")
    with pytest.raises(UserError, match="no LoadGen release carries v4.0's seeds"):
        flow.execute_submission(loaded, opts, build_options(loaded, environ={}), flow.SubmissionOptions(),
                                console=None, log_line=None)
    assert not (tmp_path / "sub").exists()


def cli(*args):
    return subprocess.run([sys.executable, "-m", "mlperfctl", *args], capture_output=True, text=True, cwd=ROOT)


def test_cli_version_in_matrix_list_build_and_lock():
    r = cli("matrix", "list", "--select", CELL, "--version", "v5.1", "--json")
    assert r.returncode == 0, r.stderr
    assert [row["loadgen"] for row in json.loads(r.stdout)] == ["5.1.1"]
    r = cli("matrix", "list", "--select", CELL, "--json")
    assert [row["loadgen"] for row in json.loads(r.stdout)] == ["6.0.17"]
    r = cli("build", "--help")
    assert "--version" in r.stdout and "v5.1: 5.1.1" in re.sub(r"[\s│]+", " ", r.stdout)
    r = cli("lock", "--device", "cpu", "--version", "v4.0")
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "v4.0" in r.stderr
    assert "Traceback" not in r.stderr
