"""bert through the real LoadGen: a minimal synchronous SUT (a stand-in until the shared worker pool drives bert)
answers with model.response_views; the mlperf_log_accuracy.json LoadGen writes is what evaluate reads, and its
answers equal the ones computed without LoadGen."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlperf_harness.workloads.bert import demo, evaluate, model

lg = pytest.importorskip("mlperf_loadgen")
pytest.importorskip("onnxruntime")
pytest.importorskip("torch")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("bert-lg")
    demo.write(root, 6, 5)
    runner, data = model.prepare(
        "onnxruntime", "cpu", root / demo.MODEL_DIR / "model.onnx", root / demo.DATASET_DIR, root / "cache", 2, "fp32"
    )
    return root, data, runner


# LoadGen runs in a child process: a test run leaves LoadGen state behind that changes what later
# TestSettings.FromConfig calls in the same process return (seen in tests/harness/test_settings.py).
CHILD = """
import json, sys
from pathlib import Path
import mlperf_loadgen as lg
from mlperf_harness import settings
from mlperf_harness.workloads.bert import CONF_MODEL, demo, model

root, out, scenario, batch = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
runner, data = model.prepare("onnxruntime", "cpu", root / demo.MODEL_DIR / "model.onnx", root / demo.DATASET_DIR,
                             root / "cache", 2, "fp32")
sizes = []

def issue(samples):
    for k in range(0, len(samples), batch):
        part = samples[k : k + batch]
        feats = data.batch([s.index for s in part])
        logits = runner.run(feats)
        sizes.append(len(feats))
        views = model.response_views(logits, feats)
        lg.QuerySamplesComplete([lg.QuerySampleResponse(s.id, a, n) for s, (a, n) in zip(part, views)])

out.mkdir()
rs = settings.RunSettings(CONF_MODEL, scenario, "accuracy", "test", None, None, None)
(out / "user.conf").write_text(settings.user_conf(rs))
log = lg.LogSettings()
log.log_output.outdir = str(out)
log.enable_trace = False
sut = lg.ConstructSUT(issue, lambda: None)
qsl = lg.ConstructQSL(len(data), len(data), data.load, data.unload)
lg.StartTestWithLogSettings(sut, qsl, settings.test_settings(rs, out / "user.conf"), log)
lg.DestroyQSL(qsl)
lg.DestroySUT(sut)
(out / "sizes.json").write_text(json.dumps(sizes))
"""


def _loadgen(root, out, scenario: str, batch: int) -> list[int]:
    """Runs one accuracy-mode test with a minimal synchronous SUT; returns the batch sizes it ran."""
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), str(out), scenario, str(batch)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],  # this checkout's mlperf_harness
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads((out / "sizes.json").read_text())


@pytest.mark.parametrize("scenario, batch", [("Offline", 4), ("SingleStream", 1)])
def test_loadgen_accuracy_log_scores_like_the_direct_path(setup, tmp_path, scenario, batch):
    root, data, runner = setup
    sizes = _loadgen(root, tmp_path / "out", scenario, batch)
    assert max(sizes) == min(batch, len(data)) and sum(sizes) == len(data)
    log = tmp_path / "out" / "mlperf_log_accuracy.json"
    records = json.loads(log.read_text())
    assert sorted(r["qsl_idx"] for r in records) == list(range(len(data)))
    for r in records:  # (positions, 2) float32 per feature: its real token count
        assert len(bytes.fromhex(r["data"])) == 8 * data.features[r["qsl_idx"]].length
    scored = evaluate.evaluate(log, data)
    # the same logits without LoadGen, one feature at a time (no padding at all)
    direct = tmp_path / "direct.json"
    direct.write_text(json.dumps([{"qsl_idx": i, "data": runner.run([f])[0].tobytes().hex()}
                                  for i, f in enumerate(data.features)]))  # fmt: skip
    expected = evaluate.evaluate(direct, data)
    assert scored["predictions"] == expected["predictions"]
    assert scored["questions"] == 6 and evaluate.line(scored) == evaluate.line(expected)


def test_response_views_point_at_each_features_rows(setup):
    _, data, runner = setup
    feats = data.features[:3]
    logits = runner.run(feats)
    for (address, size), f, i in zip(model.response_views(logits, feats), feats, range(3), strict=True):
        assert size == 8 * f.length
        assert address == logits[i].ctypes.data
    with pytest.raises(ValueError):
        model.response_views(np.asfortranarray(logits), feats)
