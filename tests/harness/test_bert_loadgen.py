"""bert through the harness's one run skeleton and worker pool (`python -m mlperf_harness run`, real LoadGen):
the mlperf_log_accuracy.json it writes scores to the answers computed without LoadGen, accuracy.txt holds the
line the round's checker pattern reads, batching follows the scenario, and a partial run says so."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlperf_rules
from mlperf_harness.workloads.bert import demo, evaluate, model, runner

from .conftest import harness
from .test_bad_inputs import assert_bad_input

ROOT = Path(__file__).resolve().parents[2]
lg = pytest.importorskip("mlperf_loadgen")
pytest.importorskip("onnxruntime")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("bert-lg")
    proc = harness("demo-data", root, "--model", "bert-99", "--images", 6, "--seed", 5)
    assert proc.returncode == 0, proc.stderr
    runner_, data = model.prepare(
        "onnxruntime", "cpu", root / demo.MODEL_DIR / "model.onnx", root / demo.DATASET_DIR, root / "cache", 2, "fp32"
    )
    return root, data, runner_


def run_bert(root: Path, out: Path, scenario: str, mode: str, *extra) -> str:
    proc = harness(
        "run", "--model", "bert-99", "--backend", "onnxruntime", "--device", "cpu", "--scenario", scenario,
        "--mode", mode, "--execution-mode", "test", "--dataset-dir", root / demo.DATASET_DIR,
        "--model-path", root / demo.MODEL_DIR / "model.onnx", "--output-dir", out, "--cache-dir", root / "cache",
        "--threads", 2, *extra,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


@pytest.mark.parametrize("scenario, batch", [("Offline", 4), ("SingleStream", 1)])
def test_accuracy_run_scores_like_the_direct_path(setup, tmp_path, scenario, batch):
    root, data, runner_ = setup
    out = tmp_path / "out"
    stdout = run_bert(root, out, scenario, "accuracy", "--max-batchsize", 4)
    assert f"batch={batch} (padded to each batch's longest)" in stdout
    log = out / "mlperf_log_accuracy.json"
    records = json.loads(log.read_text())
    assert sorted(r["qsl_idx"] for r in records) == list(range(len(data)))
    for r in records:  # (positions, 2) float32 per feature: its real token count
        assert len(bytes.fromhex(r["data"])) == 8 * data.features[r["qsl_idx"]].length
    # the same logits without LoadGen, one feature at a time (no padding at all)
    direct = tmp_path / "direct.json"
    direct.write_text(json.dumps([{"qsl_idx": i, "data": runner_.run([f])[0].tobytes().hex()}
                                  for i, f in enumerate(data.features)]))  # fmt: skip
    expected = evaluate.evaluate(direct, data)
    assert evaluate.evaluate(log, data)["predictions"] == expected["predictions"]
    line = (out / "accuracy.txt").read_text().strip()
    assert line == evaluate.line(expected)
    rnd = mlperf_rules.rules_round("bert-99")
    assert rnd.version == "v6.1"
    assert mlperf_rules.accuracy_values(rnd, "bert-99", line)["F1"] == pytest.approx(expected["f1"])
    result = json.loads((out / "result.json").read_text())
    assert result["metric"]["name"] == "f1" and result["accuracy"]["questions"] == 6
    assert result["batch_size"] == batch and result["sample_count"] == len(data)
    # random weights miss the round's F1 target, and result.json says so
    assert result["accuracy_verdict"]["pass"] is False
    assert any("below the bert-99 accuracy target" in n for n in result["validity_notes"])
    assert not any("covers" in n for n in result["validity_notes"])


def test_performance_run_server(setup, tmp_path):
    root, data, _ = setup
    out = tmp_path / "out"
    run_bert(root, out, "Server", "performance", "--target-qps", 20, "--test-query-count", 16)
    result = json.loads((out / "result.json").read_text())
    assert result["result_validity"] in ("VALID", "INVALID") and result["metric"]["value"] > 0
    assert result["framework"]["name"] == "onnxruntime" and result["questions"] == 6
    assert (out / "mlperf_log_summary.txt").is_file() and not (out / "accuracy.txt").exists()


def test_partial_accuracy_run_is_noted(setup, tmp_path):
    root, data, _ = setup
    out = tmp_path / "out"
    run_bert(root, out, "Offline", "accuracy", "--count", 3)
    result = json.loads((out / "result.json").read_text())
    assert result["accuracy"]["questions"] < result["accuracy"]["total_questions"] == 6
    assert any("accuracy log covers" in n and "of the 6 SQuAD questions" in n for n in result["validity_notes"])


def test_accuracy_command_rescores_a_run(setup, tmp_path):
    root, _, _ = setup
    out = tmp_path / "out"
    run_bert(root, out, "Offline", "accuracy")
    argv = ["accuracy", "--model", "bert-99.9", "--mlperf-accuracy-file", out / "mlperf_log_accuracy.json",
            "--dataset-dir", root / demo.DATASET_DIR, "--output", tmp_path / "acc.txt"]
    # from a temporary cwd, with this checkout's harness on the path
    proc = subprocess.run([sys.executable, "-m", "mlperf_harness", *map(str, argv)], capture_output=True, text=True,
                          cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    line = (out / "accuracy.txt").read_text().strip()
    assert proc.stdout.strip() == line == (tmp_path / "acc.txt").read_text().strip()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["acc.txt", "out"]  # no feature cache left in the cwd


def test_squad_of_another_version_is_one_line(setup, tmp_path):
    root, _, _ = setup
    ds = tmp_path / "squad"
    ds.mkdir()
    data = json.loads((root / demo.DATASET_DIR / "dev-v1.1.json").read_text())
    (ds / "dev-v1.1.json").write_text(json.dumps({**data, "version": "v2.0"}))
    (ds / "vocab.txt").write_text((root / demo.DATASET_DIR / "vocab.txt").read_text())
    proc = harness(
        "run", "--model", "bert-99", "--backend", "onnxruntime", "--device", "cpu", "--scenario", "Offline",
        "--mode", "accuracy", "--execution-mode", "test", "--dataset-dir", ds,
        "--model-path", root / demo.MODEL_DIR / "model.onnx", "--output-dir", tmp_path / "out",
    )  # fmt: skip
    assert_bad_input(proc, str(ds / "dev-v1.1.json"), "SQuAD version 'v2.0'", "use the SQuAD v1.1")
    assert not (tmp_path / "out").exists()


def test_length_batches_sort_by_length_and_respect_max_batch():
    lengths = [5, 9, 3, 9, 7]
    split = runner.length_batches(lengths, 2)
    items = split([10, 11, 12, 13, 14], [0, 1, 2, 3, 4])
    assert [len(ids) for ids, _ in items] == [2, 2, 1]
    assert [[lengths[i] for i in idx] for _, idx in items] == [[9, 9], [7, 5], [3]]
    assert all(ids == [10 + i for i in idx] for ids, idx in items)


def test_response_views_point_at_each_features_rows(setup):
    _, data, runner_ = setup
    feats = data.features[:3]
    logits = runner_.run(feats)
    for (address, size), f, i in zip(model.response_views(logits, feats), feats, range(3), strict=True):
        assert size == 8 * f.length
        assert address == logits[i].ctypes.data
    with pytest.raises(ValueError):
        model.response_views(np.asfortranarray(logits), feats)
