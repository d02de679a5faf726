"""accuracy-imagenet on hand-made LoadGen accuracy logs with known answers."""

import json

import numpy as np
import pytest

from .conftest import harness


def entry(qsl_idx: int, value, dtype=np.float32) -> dict:
    return {"seq_id": qsl_idx, "qsl_idx": qsl_idx, "data": np.array([value], dtype).tobytes().hex().upper()}


@pytest.fixture
def val_map(tmp_path):
    path = tmp_path / "val_map.txt"
    path.write_text("".join(f"ILSVRC2012_val_{i + 1:08d}.JPEG {label}\n" for i, label in enumerate([65, 970, 0, 999])))
    return path


def test_three_of_four(tmp_path, val_map):
    log = tmp_path / "mlperf_log_accuracy.json"
    # idx 1 is wrong; idx 0 appears twice (LoadGen may repeat a sample) and counts once
    log.write_text(json.dumps([entry(0, 65), entry(1, 971), entry(2, 0), entry(3, 999), entry(0, 65)]))
    out = tmp_path / "accuracy.txt"
    proc = harness("accuracy-imagenet", "--mlperf-accuracy-file", log, "--imagenet-val-file", val_map, "--output", out)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "accuracy=75.000%, good=3, total=4"
    assert out.read_text().strip() == "accuracy=75.000%, good=3, total=4"


def test_int64_dtype(tmp_path, val_map):
    log = tmp_path / "acc.json"
    log.write_text(json.dumps([entry(0, 65, np.int64), entry(3, 1, np.int64)]))
    proc = harness(
        "accuracy-imagenet", "--mlperf-accuracy-file", log, "--imagenet-val-file", val_map, "--dtype", "int64"
    )
    assert proc.stdout.strip() == "accuracy=50.000%, good=1, total=2"


def test_missing_log_is_bad_input(tmp_path, val_map):
    proc = harness(
        "accuracy-imagenet", "--mlperf-accuracy-file", tmp_path / "nope.json", "--imagenet-val-file", val_map
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and proc.stderr.count("\n") == 1
