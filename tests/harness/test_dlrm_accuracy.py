"""dlrm-v2 AUC scoring on hand-made predictions."""

import json
import re

import numpy as np
import pytest

from mlperf_harness import cli
from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.dlrm import accuracy

CHECKER_AUC = r"^AUC=([\d\.]+).*"


def write_log(path, queries, dup=False):
    entries = [
        {"seq_id": i, "qsl_idx": i, "data": np.array(q, np.float32).tobytes().hex().upper()}
        for i, q in enumerate(queries)
    ]
    if dup:
        entries.append({"seq_id": 9, "qsl_idx": 0, "data": np.array([[0.99, 0.0]], np.float32).tobytes().hex()})
    path.write_text(json.dumps(entries))


def test_known_auc(tmp_path, capsys):
    """labels 0,0,1,1 with scores 0.1,0.4,0.35,0.8: 3 of the 4 (positive, negative) pairs ordered -> AUC 0.75;
    rounded predictions 0,0,0,1 -> 3 of 4 right."""
    write_log(tmp_path / "acc.json", [[[0.1, 0], [0.4, 0]], [[0.35, 1], [0.8, 1]]], dup=True)
    rc = cli.main(
        ["accuracy", "--model", "dlrm-v2-99", "--mlperf-accuracy-file", str(tmp_path / "acc.json"),
         "--output", str(tmp_path / "a.txt")]
    )  # fmt: skip
    assert rc == 0
    line = capsys.readouterr().out.strip()
    assert line == "AUC=75.000%, accuracy=75.000%, good=3, total=4, queries=2"
    assert float(re.match(CHECKER_AUC, line).group(1)) == 75.0
    assert (tmp_path / "a.txt").read_text().strip() == line


def test_auc_matches_a_pairwise_count(tmp_path):
    rng = np.random.default_rng(0)
    label = (rng.random(300) < 0.3).astype(np.float32)
    pred = np.clip(rng.normal(0.4 + 0.2 * label, 0.2), 0, 1).astype(np.float32)
    pos, neg = pred[label == 1], pred[label == 0]
    want = ((pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()) / (len(pos) * len(neg))
    pairs = np.stack([pred, label], axis=1)
    write_log(tmp_path / "acc.json", [pairs[:100], pairs[100:250], pairs[250:]])
    s = accuracy.score(tmp_path / "acc.json")
    assert s["auc"] == pytest.approx(want, abs=1e-9) and s["total"] == 300 and s["queries"] == 3


def test_odd_payload_is_rejected(tmp_path):
    (tmp_path / "acc.json").write_text(json.dumps([{"qsl_idx": 0, "data": np.zeros(3, np.float32).tobytes().hex()}]))
    with pytest.raises(UsageError, match=r"acc\.json: qsl_idx 0 holds 3 values"):
        accuracy.score(tmp_path / "acc.json")


def test_single_class_is_rejected(tmp_path):
    write_log(tmp_path / "acc.json", [[[0.1, 0], [0.4, 0]]])
    with pytest.raises(UsageError, match="AUC is undefined"):
        accuracy.score(tmp_path / "acc.json")
