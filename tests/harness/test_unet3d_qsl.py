"""3d-unet under the real LoadGen with a stand-in model: only the performance-sample-count cases are in memory."""

import argparse
import json
import pickle

import numpy as np

from mlperf_harness import run
from mlperf_harness.workloads.unet3d import CLASSES, dataset, inference


class ConstantModel:
    """Stands in for the 3D-UNet (seconds per window on a CPU): class 1 everywhere."""

    name, version = "stand-in", "0"

    def predict(self, x):
        out = np.zeros((len(x), CLASSES, *x.shape[2:]), np.float32)
        out[:, 1] = 1.0
        return out


def test_only_the_performance_samples_are_loaded(tmp_path, monkeypatch):
    pre = tmp_path / "pre"
    pre.mkdir()
    names = [f"case_{k:05d}" for k in range(3)]
    for n in names:
        with open(pre / f"{n}.pkl", "wb") as f:
            pickle.dump([np.zeros((1, 128, 128, 128), np.float32), np.ones((1, 128, 128, 128), np.uint8)], f)
    with open(pre / "preprocessed_files.pkl", "wb") as f:
        pickle.dump({"file_list": names, "cases": {n: {"image_shape": (1, 128, 128, 128)} for n in names}}, f)
    peak = []
    load = dataset.Cases.load

    def counting_load(self, indices):
        load(self, indices)
        peak.append(len(self.loaded))

    monkeypatch.setattr(dataset.Cases, "load", counting_load)
    monkeypatch.setattr(inference, "create", lambda *a: ConstantModel())
    a = argparse.Namespace(
        model="3d-unet-99", backend="onnxruntime", device="cpu", scenario="Offline", mode="performance",
        execution_mode="test", dataset_dir=str(pre), model_path="unused", output_dir=str(tmp_path / "out"),
        precision="fp32", target_qps=None, target_latency=None, threads=1, max_batchsize=None, count=None,
        performance_sample_count=1, test_query_count=None, audit_config=None, cache_dir=None, version=None,
    )  # fmt: skip
    assert run.run(a) == 0
    result = json.loads((tmp_path / "out" / "result.json").read_text())
    assert result["sample_count"] == 3 and result["performance_sample_count"] == 1
    assert peak and max(peak) == 1  # LoadGen asked for one case at a time, never the whole set
    assert result["metric"]["value"] > 0


def test_single_stream_test_run_takes_the_test_query_count(tmp_path, monkeypatch):
    """SingleStream in test mode runs --test-query-count queries (at least; LoadGen also waits out its 1 s min
    duration), and without --performance-sample-count the rules' 43 cases are asked for (capped by the QSL)."""
    pre = tmp_path / "pre"
    pre.mkdir()
    names = [f"case_{k:05d}" for k in range(2)]
    for n in names:
        with open(pre / f"{n}.pkl", "wb") as f:
            pickle.dump([np.zeros((1, 128, 128, 128), np.float32), np.ones((1, 128, 128, 128), np.uint8)], f)
    with open(pre / "preprocessed_files.pkl", "wb") as f:
        pickle.dump({"file_list": names, "cases": {n: {"image_shape": (1, 128, 128, 128)} for n in names}}, f)
    monkeypatch.setattr(inference, "create", lambda *a: ConstantModel())
    out = tmp_path / "out"
    a = argparse.Namespace(
        model="3d-unet-99.9", backend="pytorch", device="cpu", scenario="SingleStream", mode="performance",
        execution_mode="test", dataset_dir=str(pre), model_path="unused", output_dir=str(out),
        precision="fp32", target_qps=None, target_latency=None, threads=1, max_batchsize=None, count=None,
        performance_sample_count=None, test_query_count=3, audit_config=None, cache_dir=None, version=None,
    )  # fmt: skip
    assert run.run(a) == 0
    conf = (out / "user.conf").read_text()
    assert "3d-unet.SingleStream.min_query_count = 3" in conf
    assert "3d-unet.*.performance_sample_count_override = 43" in conf
    result = json.loads((out / "result.json").read_text())
    assert result["performance_sample_count"] == 2 and result["peak_rss_mib"] > 0
    detail = (out / "mlperf_log_detail.txt").read_text()
    assert '"key": "effective_min_query_count", "value": 3' in detail
