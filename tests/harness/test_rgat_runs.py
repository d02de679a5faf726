"""rgat end to end on the demo graph (LoadGen in a subprocess, as the container runs it), the accuracy script's
semantics, and each bad input as one line with exit 2."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

import mlperf_rules
from mlperf_harness.workloads.rgat import LABEL_FILE, PROCESSED, accuracy, demo

from .conftest import flags, harness
from .test_bad_inputs import assert_bad_input

COUNT = 24


@pytest.fixture(scope="module")
def rgat_demo(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("rgat-demo")
    proc = harness("demo-data", root, "--model", "rgat", "--images", COUNT, "--seed", 2)
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM" in proc.stderr
    return root


def args(root: Path, out: Path, **over) -> list[str]:
    opts = {"model": "rgat", "backend": "pytorch", "device": "cpu", "scenario": "Offline", "mode": "accuracy",
            "execution-mode": "test", "dataset-dir": root / demo.DATASET_DIR, "model-path": root / demo.MODEL_DIR,
            "output-dir": out, "threads": 2}  # fmt: skip
    return ["run", *flags(opts, over)]


def test_accuracy_run_writes_the_reference_line_every_round_reads(rgat_demo, tmp_path):
    out = tmp_path / "out"
    proc = harness(*args(rgat_demo, out, max_batchsize=8))
    assert proc.returncode == 0, proc.stderr
    line = (out / "accuracy.txt").read_text().splitlines()[0]
    assert line == f"accuracy=100.000%, good={COUNT}, total={COUNT}"  # the demo labels are the model's answers
    for version in ("v5.0", "v5.1", "v6.0", "v6.1"):
        rules = mlperf_rules.get_round(version)
        (metric,) = rules.accuracy_targets("rgat")
        assert float(re.match(rules.acc_patterns[metric.key], line).group(1)) == 100.0
    result = json.loads((out / "result.json").read_text())
    assert result["sample_count"] == COUNT and result["accuracy"]["good"] == COUNT
    assert result["accuracy_verdict"]["pass"] is True
    logged = json.loads((out / "mlperf_log_accuracy.json").read_text())
    assert len(logged) == COUNT and all(len(e["data"]) == 16 for e in logged)  # one int64 class per paper
    # `accuracy` scores the log as the run did
    again = harness("accuracy", "--model", "rgat", "--mlperf-accuracy-file", out / "mlperf_log_accuracy.json",
                    "--dataset-dir", rgat_demo / demo.DATASET_DIR)  # fmt: skip
    assert again.returncode == 0 and again.stdout.strip() == line


def test_accuracy_counts_each_paper_once_and_reads_the_first_value(rgat_demo, tmp_path):
    ds = rgat_demo / demo.DATASET_DIR
    labels = np.load(ds / PROCESSED / LABEL_FILE)
    from mlperf_harness.workloads.rgat.graph import read_val_idx

    val = read_val_idx(ds)
    right, wrong = int(labels[val[0]]), (int(labels[val[1]]) + 1) % 2983
    entries = [(0, np.int64(right)), (1, np.int64(wrong)), (0, np.int64(wrong)), (2, np.int64(labels[val[2]]))]
    log = tmp_path / "mlperf_log_accuracy.json"
    log.write_text(json.dumps([{"seq_id": i, "qsl_idx": q, "data": np.array([c]).tobytes().hex().upper()}
                               for i, (q, c) in enumerate(entries)]))  # fmt: skip
    s = accuracy.score(log, ds)
    assert s == {"accuracy": 2 / 3, "good": 2, "total": 3}
    assert accuracy.format_line(s) == "accuracy=66.667%, good=2, total=3"
    # the reference's default reading: the first byte (the class modulo 256) against the whole label
    u8 = accuracy.score(log, ds, "uint8")
    assert u8["good"] == sum(int(labels[val[q]]) == int(c) % 256 for q, c in (entries[0], entries[1], entries[3]))
    log.write_text(json.dumps([{"seq_id": 0, "qsl_idx": 0, "data": np.array([300], np.int64).tobytes().hex()}]))
    assert accuracy.score(log, ds, "uint8")["good"] == int(labels[val[0]] == 300 % 256)


def test_performance_run(rgat_demo, tmp_path):
    out = tmp_path / "out"
    proc = harness(*args(rgat_demo, out, mode="performance"))
    assert proc.returncode == 0, proc.stderr
    result = json.loads((out / "result.json").read_text())
    assert result["metric"]["name"] == "samples_per_second" and result["metric"]["value"] > 0, result["metric"]
    assert result["graph_nodes"] > 2 * COUNT and result["fanouts"] == [5, 10, 15]
    assert not (out / "accuracy.txt").exists()


@pytest.mark.parametrize("case", ["igbh root", "missing edge file", "feature shape", "resnet checkpoint"])
def test_bad_inputs_are_one_line_exit_2(rgat_demo, tmp_path, case):
    ds = tmp_path / "tiny"
    shutil.copytree(rgat_demo / demo.DATASET_DIR, ds)
    if case == "igbh root":
        over, needles = {"dataset_dir": tmp_path}, (f"{tmp_path} has no processed/ folder", f"--dataset-dir {ds}")
    elif case == "missing edge file":
        (ds / PROCESSED / "paper__topic__fos" / "edge_index.npy").unlink()
        over, needles = {"dataset_dir": ds}, ("paper__topic__fos/edge_index.npy is missing",)
    elif case == "feature shape":
        np.save(ds / PROCESSED / "journal" / "node_feat.npy", np.zeros((3, 7), np.float32))
        over, needles = {"dataset_dir": ds}, ("journal/node_feat.npy has shape (3, 7)",)
    else:
        import torch

        (tmp_path / "m").mkdir()
        torch.save({"model_state_dict": {"model.conv1.weight": torch.zeros(64, 3, 7, 7)}}, tmp_path / "m" / "RGAT.pt")
        over, needles = {"dataset_dir": ds, "model_path": tmp_path / "m"}, ("does not fit RGAT",)
    proc = harness(*args(rgat_demo, tmp_path / "out", **over))
    assert_bad_input(proc, *needles)
    assert not (tmp_path / "out" / "mlperf_log_summary.txt").exists()
