"""`run --model retinanet` through the one run skeleton on demo data (2 images, one query), the declaration
against the code, and bad inputs: each a one-line error naming the file, exit 2."""

import json
import re
import shutil

import pytest

import mlperf_rules
from mlperf_harness import workloads
from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.retinanet import ANNOTATIONS, IMAGES, accuracy, backends, demo

from .conftest import flags, harness
from .test_bad_inputs import assert_bad_input

COUNT = 2


@pytest.fixture(scope="module")
def rdemo(tmp_path_factory):
    root = tmp_path_factory.mktemp("retinanet-run-demo")
    proc = harness("demo-data", root, "--model", "retinanet", "--images", COUNT, "--seed", 5)
    assert proc.returncode == 0, proc.stderr
    return root


def run_args(rdemo, out, **over) -> list[str]:
    d = workloads.get("retinanet")
    opts = {
        "model": "retinanet",
        "backend": "onnxruntime",
        "device": "cpu",
        "scenario": "Offline",
        "mode": "accuracy",
        "execution-mode": "test",
        "dataset-dir": rdemo / d.demo_dataset_dir,
        "model-path": rdemo / d.demo_model_dir / d.model_file("onnxruntime"),
        "output-dir": out,
        "cache-dir": out.parent / "cache",
        "count": COUNT,
        "test-query-count": 1,
        "threads": 2,
    }
    return ["run", *flags(opts, over)]


def test_declaration_matches_the_code(rdemo):
    d = workloads.get("retinanet")
    assert d.family == "retinanet" and d.loadgen_model == "retinanet"
    assert all(d.backends(dev) == ("onnxruntime", "pytorch") for dev in workloads.DEVICES)
    assert all(d.precisions(dev, b) == ("fp32",) for dev in workloads.DEVICES for b in d.backends(dev))
    assert all(d.model_file(b) == backends.model_file(b) for b in d.backends("cpu"))
    assert all((rdemo / d.demo_dataset_dir / f).exists() for f in d.dataset_files)
    assert all((rdemo / d.demo_model_dir / d.model_file(b)).is_file() for b in d.backends("cpu"))
    assert d.dataset_files == (ANNOTATIONS, IMAGES)
    d.check_dataset(rdemo / d.demo_dataset_dir, COUNT)  # the host's check passes on demo data
    assert mlperf_rules.rules_round("retinanet").version == "v6.0"
    with pytest.raises(UsageError, match="fp16"):
        backends.create("onnxruntime", "cpu", rdemo / "models" / d.model_file("onnxruntime"), 1, "fp16")


def test_host_check_names_a_missing_image(rdemo, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(rdemo / demo.DATASET_DIR, ds)
    name = json.loads((ds / ANNOTATIONS).read_text())["images"][1]["file_name"]
    (ds / IMAGES / name).unlink()
    d = workloads.get("retinanet")
    d.check_dataset(ds, 1)  # only the first image is used
    with pytest.raises(UsageError) as e:
        d.check_dataset(ds, None)
    assert name in str(e.value) and "1 of 2 images" in str(e.value) and "\n" not in str(e.value)


def test_run_refuses_missing_annotations(rdemo, tmp_path):
    ds = tmp_path / "ds"
    shutil.copytree(rdemo / demo.DATASET_DIR, ds)
    (ds / ANNOTATIONS).unlink()
    proc = harness(*run_args(rdemo, tmp_path / "out", dataset_dir=ds))
    assert_bad_input(proc, f"annotations file {ds / ANNOTATIONS} does not exist")
    assert not (tmp_path / "out").exists()


def test_run_refuses_the_pth_on_onnxruntime(rdemo, tmp_path):
    proc = harness(*run_args(rdemo, tmp_path / "out", model_path=rdemo / "models" / "retinanet_model_10.pth"))
    assert_bad_input(proc, "is a PyTorch checkpoint, not an ONNX model")


@pytest.mark.slow
def test_offline_accuracy_run_scores_every_sample_once(rdemo, tmp_path):
    """The skeleton's accuracy run: accuracy.txt holds the `mAP=` line the checker reads and COCOeval's table,
    what `accuracy --model retinanet` prints for its log; result.json carries the mAP and the v6.0
    target."""
    out = tmp_path / "out"
    proc = harness(*run_args(rdemo, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (out / "accuracy.txt").read_text()
    line = text.splitlines()[0]  # first: the line mlperfctl's results table shows
    assert line.startswith("mAP=") and f"images={COUNT}, detections={300 * COUNT}, no_results=0" in line
    rnd = mlperf_rules.get_round("v6.0")
    assert re.match(rnd.acc_patterns["mAP"], line)
    assert mlperf_rules.accuracy_values(rnd, "retinanet", text)["mAP"] == float(line[4:].split("%")[0])
    s = accuracy.score(out / "mlperf_log_accuracy.json", rdemo / demo.DATASET_DIR / ANNOTATIONS)
    assert (s.images, s.detections, s.no_results) == (COUNT, 300 * COUNT, 0)
    result = json.loads((out / "result.json").read_text())
    verdict = result["accuracy_verdict"]
    assert result["metric"]["name"] == "mAP" and verdict["round"] == verdict["rules_round"] == "v6.0"
    assert verdict["targets"][0]["target"] == pytest.approx(37.55 * 0.99) and verdict["pass"] is False
    assert result["sample_count"] == COUNT and result["input_size"] == 800 and result["batch_size"] == 8
    again = harness(
        "accuracy", "--model", "retinanet", "--mlperf-accuracy-file", out / "mlperf_log_accuracy.json",
        "--dataset-dir", rdemo / demo.DATASET_DIR, "--output", tmp_path / "acc.txt",
    )  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[-1] == line  # stdout: the reference script's order, table then line

    def table(t: str) -> list[str]:  # COCOeval's timings ("DONE (t=0.04s)") vary from run to run
        return sorted(x for x in t.splitlines() if "(t=" not in x)

    assert table(again.stdout) == table(text) == table((tmp_path / "acc.txt").read_text())
    assert len(table(text)) >= 13


@pytest.mark.slow
def test_singlestream_performance_run_is_batch_one(rdemo, tmp_path):
    out = tmp_path / "out"
    proc = harness(*run_args(rdemo, out, scenario="SingleStream", mode="performance"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((out / "result.json").read_text())
    assert result["batch_size"] == 1 and result["scenario"] == "SingleStream"
    assert result["metric"]["value"] > 0 and (out / "mlperf_log_summary.txt").is_file()
