"""`mlperfctl prepare` on the host: the cell, the one-line refusals before any container, the hardened container
spec, and the atomic placement (a failed or interrupted prepare leaves --dest as it was). The container itself
runs in tests/test_engine_prepare.py."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlperfctl import prepare as prep
from mlperfctl.builder import executor
from mlperfctl.engines.base import ContainerResult
from mlperfctl.errors import UserError
from mlperfctl.options import build_options

ROOT = Path(__file__).resolve().parent.parent


def opts(tmp_path, **kw):
    raw = tmp_path / "raw"
    raw.mkdir(exist_ok=True)
    return prep.PrepareOptions(**{"model": "resnet50", "raw": raw, "dest": tmp_path / "out", "device": "cpu", **kw})


def one_line(e, *parts):
    assert "\n" not in str(e.value)
    for part in parts:
        assert part in str(e.value), str(e.value)


def test_cell_is_runs_default_and_a_model_without_preparer_is_refused(loaded, tmp_path):
    cell, w, hook = prep.resolve(loaded, opts(tmp_path))
    assert (cell.model, cell.device, cell.backend) == ("resnet50", "cpu", "onnxruntime")
    assert hook == w.dataset_preparer
    with pytest.raises(UserError) as e:
        prep.resolve(loaded, opts(tmp_path, model="bert-99"))
    one_line(e, "bert-99 declares no dataset preparer")
    with pytest.raises(UserError) as e:
        prep.resolve(loaded, opts(tmp_path, checkpoint=True))
    one_line(e, "resnet50 declares no checkpoint preparer", "used as it is")


def test_host_refusals_are_one_line(loaded, tmp_path):
    _, w, _ = prep.resolve(loaded, opts(tmp_path))
    o = opts(tmp_path)
    with pytest.raises(UserError) as e:
        prep.check_host(prep.PrepareOptions("resnet50", tmp_path / "nope", tmp_path / "out"), w)
    one_line(e, "--raw", "does not exist", "mlperfctl get --model resnet50 --dataset")
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError) as e:
        prep.check_host(prep.PrepareOptions("resnet50", tmp_path / "file", tmp_path / "out"), w)
    one_line(e, "is a file, not a folder")
    with pytest.raises(UserError) as e:
        prep.check_host(prep.PrepareOptions("resnet50", o.raw, o.raw / "inside"), w)
    one_line(e, "inside --raw")
    with pytest.raises(UserError) as e:
        prep.check_host(prep.PrepareOptions("resnet50", o.raw, tmp_path / "out", count=0), w)
    one_line(e, "--count 0")
    # a --dest holding a prepared layout, or anything else, is refused without --force
    o.dest.mkdir()
    (o.dest / "val_map.txt").write_text("a.JPEG 1\n")
    with pytest.raises(UserError) as e:
        prep.check_host(o, w)
    one_line(e, "already holds a prepared ImageNet 2012 validation layout", "--force")
    (o.dest / "val_map.txt").unlink()
    (o.dest / "notes.txt").write_text("mine")
    with pytest.raises(UserError) as e:
        prep.check_host(o, w)
    one_line(e, "already holds other files")
    assert prep.check_host(prep.PrepareOptions(**{**o.__dict__, "force": True}), w) is None


def test_the_same_preparation_is_kept_and_another_refused(loaded, tmp_path):
    _, w, _ = prep.resolve(loaded, opts(tmp_path))
    o = opts(tmp_path, count=8)
    o.dest.mkdir()
    (o.dest / prep.MARKER).write_text(json.dumps({"model": "resnet50", "kind": "dataset", "count": 8,
                                                  "summary": {"samples": 8}}))
    assert prep.check_host(o, w)["summary"] == {"samples": 8}
    with pytest.raises(UserError) as e:
        prep.check_host(prep.PrepareOptions(**{**o.__dict__, "count": None}), w)
    one_line(e, "already holds a prepared resnet50 dataset (count 8)")


def test_a_killed_prepares_partial_folder_goes_and_a_live_ones_is_refused(loaded, tmp_path):
    _, w, _ = prep.resolve(loaded, opts(tmp_path))
    o = opts(tmp_path)
    partial = prep.partial_dir(o.dest)
    partial.mkdir()
    (partial / prep.OWNER).write_text(f"{os.uname().nodename}:{os.getpid()}\n")
    with pytest.raises(UserError) as e:
        prep.check_host(o, w)
    one_line(e, f"another prepare (pid {os.getpid()})")
    (partial / prep.OWNER).write_text(f"{os.uname().nodename}:999999999\n")
    (partial / "half.JPEG").write_text("x")
    assert prep.check_host(o, w) is None and not partial.exists()


def test_container_is_hardened_without_network_raw_read_only(loaded, tmp_path):
    cell, _, _ = prep.resolve(loaded, opts(tmp_path))
    o = opts(tmp_path, count=3)
    s = prep.spec("img:tag", cell, o, prep.partial_dir(o.dest), (1000, 1000), "host:1")
    assert s.network == "none" and s.read_only_root and s.cap_drop == ("ALL",) and s.user == "1000:1000"
    assert "no-new-privileges" in s.security_opt
    assert {(m.target, m.read_only) for m in s.mounts} == {("/raw", True), ("/dest", False)}
    assert s.argv == ("prepare", "--model", "resnet50", "--raw", "/raw", "--dest", "/dest", "--count", "3")
    assert prep.run_command(o, prep.resolve(loaded, o)[1], "onnxruntime") == (
        f"mlperfctl run --model resnet50 --backend onnxruntime --dataset-dir {o.dest} --model-path MODEL_PATH "
        "--count 3")


class Engine:
    """Stands in for the engine (pure host logic: what happens around the container); `behave` is what the
    'container' does to the partial folder it got mounted."""

    def __init__(self, behave):
        self.behave, self.removed = behave, []

    def run(self, spec, on_line=None, tail_lines=30):
        dest = Path(next(m.source for m in spec.mounts if m.target == "/dest"))
        return self.behave(dest, on_line)

    def remove_containers(self, label):
        self.removed.append(label)
        return 0


@pytest.fixture
def fake(monkeypatch, loaded):
    def use(behave):
        engine = Engine(behave)
        monkeypatch.setattr(prep.engines, "get", lambda *a: engine)
        monkeypatch.setattr(executor, "ensure_image",
                            lambda *a, **k: executor.ImageInfo(cell="c", tag="img:1", content_hash="h", state="cached"))
        return engine
    return use


def write_layout(dest, on_line):
    (dest / "ILSVRC2012_val_00000001.JPEG").write_bytes(b"jpeg")
    (dest / "val_map.txt").write_text("ILSVRC2012_val_00000001.JPEG 7\n")
    on_line("progress: 1/1 images")
    on_line('summary: {"samples": 1}')
    return ContainerResult(0, "")


def test_success_renames_the_partial_folder_with_its_marker(loaded, tmp_path, fake):
    engine = fake(write_layout)
    o = opts(tmp_path)
    o.dest.mkdir()  # an empty --dest is taken
    seen = []
    s = prep.execute(loaded, o, build_options(loaded), on_progress=lambda *a: seen.append(a), notice=lambda s: None)
    assert s["status"] == "prepared" and s["summary"] == {"samples": 1} and seen == [(1, 1, "images")]
    assert sorted(p.name for p in o.dest.iterdir()) == ["ILSVRC2012_val_00000001.JPEG", prep.MARKER, "val_map.txt"]
    assert not prep.partial_dir(o.dest).exists() and engine.removed
    again = prep.execute(loaded, o, build_options(loaded), notice=lambda s: None)
    assert again["status"] == "kept" and again["summary"] == {"samples": 1}


@pytest.mark.parametrize("how", ["bad-raw", "crash", "interrupt", "wrong-output"])
def test_failure_or_interrupt_leaves_dest_as_it_was(loaded, tmp_path, fake, how):
    def behave(dest, on_line):
        (dest / "half.JPEG").write_bytes(b"x")
        if how == "interrupt":
            raise KeyboardInterrupt
        if how == "wrong-output":
            (dest / "val_map.txt").write_text("missing.JPEG 1\n")
            return ContainerResult(0, "")
        return ContainerResult(2, "error: /raw/val.txt:3: expected ...") if how == "bad-raw" else \
            ContainerResult(1, "Traceback\nBoom")

    fake(behave)
    o = opts(tmp_path, force=True)
    o.dest.mkdir()
    (o.dest / "old.txt").write_text("before")
    with pytest.raises(UserError) as e:
        prep.execute(loaded, o, build_options(loaded), notice=lambda s: None)
    assert {"bad-raw": "/raw/val.txt:3", "crash": "exit code 1", "interrupt": "interrupted",
            "wrong-output": "not what `run` reads"}[how] in str(e.value)
    assert "unchanged" in str(e.value)
    assert [p.name for p in o.dest.iterdir()] == ["old.txt"] and not prep.partial_dir(o.dest).exists()


def test_cli_refuses_a_missing_raw_in_one_line_before_any_container(tmp_path):
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "prepare", "--model", "rnnt", "--raw",
                        str(tmp_path / "nope"), "--dest", str(tmp_path / "out"), "--device", "cpu"],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, "MLPERFCTL_ENGINE_URL": "unix:///nonexistent.sock"})
    assert r.returncode == 2, r.stderr
    assert r.stderr.strip().count("\n") == 0 and "mlperfctl get --model rnnt --dataset" in r.stderr


def test_readme_names_prepare_for_every_model_with_a_preparer():
    from mlperf_harness import workloads

    readme = (ROOT / "README.md").read_text()
    assert "## Preparing data: `mlperfctl prepare`" in readme
    for w in workloads.declarations():
        if w.dataset_preparer:
            assert any(f"mlperfctl prepare --model {name} " in readme for name in w.names), w.names
        if w.checkpoint_preparer:
            assert any(f"mlperfctl prepare --model {name} --checkpoint " in readme for name in w.names), w.names
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "prepare", "--help"], capture_output=True, text=True,
                       cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    section = readme[readme.index("## Preparing data"):readme.index("## Running benchmarks")]
    for option in ("--model", "--raw", "--dest", "--checkpoint", "--count", "--force", "--json"):
        assert option in r.stdout and option in section, option
