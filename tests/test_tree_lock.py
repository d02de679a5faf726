"""The submission tree lock: two writers (two processes) take turns; a stale lock is reported."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import mlperf_rules
from mlperfctl import submission
from mlperfctl.errors import UserError
from mlperfctl.submission import sysinfo, transaction

SYSTEM = "box_cpu"
PROBED = {"host_processor_model_name": "Test CPU", "host_processors_per_node": "1",
          "host_processor_core_count": "2", "host_memory_capacity": "16 GB",
          "host_storage_capacity": "500 GB", "host_storage_type": "SSD", "operating_system": "Debian 12",
          "accelerators_per_node": "0", "accelerator_model_name": "N/A", "accelerator_memory_capacity": "N/A",
          "accelerator_host_interconnect": "N/A"}


def _perf_dir(root: Path, scenario: str) -> Path:
    d = root / f"perf-{scenario}"
    d.mkdir(parents=True)
    layout = mlperf_rules.get_round("v6.1").layout
    for name in (*layout.perf_files, *layout.measurement_files):
        (d / name).write_text(f"{scenario} {name}\n")
    return d


def _writer(tree: str, scenario: str, perf: str, src: str, log: str) -> None:
    """A child process: write one scenario, logging each placement (slowly, to invite interleaving)."""
    place = transaction.Transaction.place

    def slow_place(self, *args):
        with open(log, "a") as f:
            f.write(f"{scenario}\n")
        time.sleep(0.05)
        place(self, *args)

    transaction.Transaction.place = slow_place
    system = sysinfo.system_description(division="open", submitter="acme", system_name=SYSTEM,
                                        framework="onnxruntime 1.32.0", probed=PROBED)
    rs = submission.ResultSet(model="resnet50", scenario=scenario, performance_dir=Path(perf), accuracy_dir=None,
                              measurements=submission.measurements_for("resnet50", "fp32", "resnet50_v1.onnx"),
                              readme=f"# {scenario}\n", ledger={"scenario": scenario})
    submission.write_results(Path(tree), division="open", submitter="acme", system_name=SYSTEM,
                             system_json=system, results=[rs], src_dir=Path(src), rnd=mlperf_rules.get_round("v6.1"))


def test_two_processes_never_interleave(tmp_path):
    tree, log = tmp_path / "tree", tmp_path / "log"
    src = tmp_path / "src" / "mlperf_harness"
    src.mkdir(parents=True)
    (src / "__init__.py").write_text("")
    ctx = multiprocessing.get_context("fork")
    procs = [ctx.Process(target=_writer, args=(str(tree), s, str(_perf_dir(tmp_path, s)), str(src.parent), str(log)))
             for s in ("Offline", "SingleStream")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    order = log.read_text().split()
    assert len(order) > 4
    switches = sum(1 for a, b in zip(order, order[1:], strict=False) if a != b)
    assert switches == 1, order   # one writer's placements, then the other's
    for s in ("Offline", "SingleStream"):
        assert (tree / "open/acme/results" / SYSTEM / "resnet50" / s / "performance/run_1").is_dir()
    assert not (tree / transaction.LOCK_NAME).exists()
    assert not list(tree.glob(f"{transaction.STAGING_PREFIX}*"))


def test_waiting_writer_gets_the_lock_when_the_holder_releases(tmp_path):
    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys,time; from pathlib import Path; from mlperfctl.submission.transaction import tree_lock\n"
        "with tree_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(1)"), str(tmp_path)],
        stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    assert holder.stdout.readline().strip() == "held"
    t0 = time.monotonic()
    with pytest.raises(UserError, match=f"is held by .*:{holder.pid}"):
        with transaction.tree_lock(tmp_path, timeout=0.2):
            pass
    with transaction.tree_lock(tmp_path, timeout=30):
        waited = time.monotonic() - t0
    assert holder.wait() == 0 and waited > 0.5


def test_stale_lock_from_a_killed_run_is_reported_with_the_fix(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = tmp_path / transaction.LOCK_NAME
    lock.write_text(f"{os.uname().nodename}:{dead.pid}\n")
    with pytest.raises(UserError) as e:
        with transaction.tree_lock(tmp_path, timeout=5):
            pass
    msg = str(e.value)
    assert "stale lock" in msg and f"pid {dead.pid}" in msg and f"rm {lock}" in msg and "\n" not in msg
    assert lock.exists()  # never taken over silently
