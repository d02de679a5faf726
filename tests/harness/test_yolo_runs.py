"""`run --model yolo-99|yolo-95` through the one run skeleton on demo data (yolo11l with seeded weights, 2 wide
synthetic images), the `accuracy` command, the declaration against the code, and bad inputs: each a one-line
error naming the file, exit 2."""

import json
import re
import shutil

import pytest

import mlperf_rules
from mlperf_harness import workloads
from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.yolo import ANNOTATIONS, IMAGES, ONNX_FILE, backends, demo

from .conftest import flags, harness
from .test_bad_inputs import assert_bad_input

COUNT = 2


@pytest.fixture(scope="module")
def ydemo(tmp_path_factory):
    root = tmp_path_factory.mktemp("yolo-run-demo")
    proc = harness("demo-data", root, "--model", "yolo-99", "--images", COUNT, "--seed", 5)
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM" in proc.stderr
    return root


def run_args(ydemo, out, **over) -> list[str]:
    d = workloads.get("yolo-99")
    opts = {
        "model": "yolo-99", "backend": "onnxruntime", "device": "cpu", "scenario": "Offline", "mode": "accuracy",
        "execution-mode": "test", "dataset-dir": ydemo / d.demo_dataset_dir,
        "model-path": ydemo / d.demo_model_dir / d.model_file("onnxruntime"), "output-dir": out,
        "cache-dir": out.parent / "cache", "count": COUNT, "test-query-count": 1, "threads": 2,
    }
    return ["run", *flags(opts, over)]


def test_declaration_matches_the_code(ydemo):
    d = workloads.get("yolo-95")
    assert d is workloads.get("yolo-99") and d.family == "yolo" and d.loadgen_model == "yolo"
    assert all(d.backends(dev) == ("onnxruntime",) for dev in workloads.DEVICES)
    assert all(d.precisions(dev, "onnxruntime") == ("fp32",) for dev in workloads.DEVICES)
    assert d.dataset_files == (ANNOTATIONS, IMAGES) and d.model_file("onnxruntime") == ONNX_FILE
    assert all((ydemo / d.demo_dataset_dir / f).exists() for f in d.dataset_files)
    d.check_dataset(ydemo / d.demo_dataset_dir, COUNT)  # the host's check passes on demo data
    for model in d.names:  # the rulebook's scenarios are the ones the workload runs
        rnd = mlperf_rules.rules_round(model)
        assert rnd.version == "v6.1" and set(rnd.required_scenarios(model, "edge")) == set(d.scenarios)
    runner = backends.create("onnxruntime", "cpu", ydemo / "models" / ONNX_FILE, 1)
    assert runner.rect  # the demo model has free height/width: the reference's rectangular letterbox
    with pytest.raises(UsageError, match="fp16"):
        backends.create("onnxruntime", "cpu", ydemo / "models" / ONNX_FILE, 1, "fp16")


def test_demo_references_are_the_models_own_detections(ydemo):
    doc = json.loads((ydemo / demo.DATASET_DIR / ANNOTATIONS).read_text())
    assert len(doc["images"]) == COUNT and len(doc["categories"]) == 80
    assert 1 <= len(doc["annotations"]) <= demo.GT_PER_IMAGE * COUNT
    ids = {c["id"] for c in doc["categories"]}
    assert all(a["category_id"] in ids and a["bbox"][2] > 0 and a["bbox"][3] > 0 for a in doc["annotations"])
    for img in doc["images"]:
        assert 2.5 < img["width"] / img["height"] < 3.2
        assert (ydemo / demo.DATASET_DIR / IMAGES / img["file_name"]).is_file()


def test_accuracy_run_meets_the_target_and_writes_the_checkers_line(ydemo, tmp_path):
    out = tmp_path / "out"
    proc = harness(*run_args(ydemo, out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "rectangular letterbox to 640" in proc.stdout
    text = (out / "accuracy.txt").read_text()
    line = text.splitlines()[0]
    assert line.startswith("mAP=") and f"images={COUNT}," in line and "Average Precision" in text
    for version in ("v6.0", "v6.1"):
        rnd = mlperf_rules.get_round(version)
        assert re.match(rnd.acc_patterns["mAP"], line)
        assert mlperf_rules.accuracy_values(rnd, "yolo-99", text) == {"mAP": 100.0}  # references = its detections
        assert mlperf_rules.accuracy_check(rnd, "yolo-99", text) == []
    result = json.loads((out / "result.json").read_text())
    assert result["metric"] == {"name": "mAP", "value": 100.0, "unit": "%"}
    assert result["accuracy_verdict"]["pass"] is True
    # the `accuracy` command on the same log prints the same line (what mlperfctl's tree check reruns)
    again = harness("accuracy", "--model", "yolo-99", "--mlperf-accuracy-file", out / "mlperf_log_accuracy.json",
                    "--dataset-dir", ydemo / demo.DATASET_DIR)
    assert again.returncode == 0 and again.stdout.strip().splitlines()[-1] == line, again.stderr


def test_multistream_performance_run(ydemo, tmp_path):
    out = tmp_path / "out"
    proc = harness(*run_args(ydemo, out, scenario="MultiStream", mode="performance"))
    assert proc.returncode == 0, proc.stderr[-3000:]
    detail = (out / "mlperf_log_detail.txt").read_text()
    # LoadGen's mlperf.conf gives MultiStream 8 samples per query; each was answered
    assert re.search(r'"key": "effective_samples_per_query", "value": 8\b', detail)
    result = json.loads((out / "result.json").read_text())
    assert result["metric"]["name"] and result["metric"]["value"] > 0


@pytest.mark.parametrize("broken", ["openimages layout", "no annotations file", "an image missing"])
def test_bad_dataset_is_one_line_exit_2(ydemo, tmp_path, broken):
    ds = tmp_path / "coco_safe"
    shutil.copytree(ydemo / demo.DATASET_DIR, ds)
    annotations = ds / ANNOTATIONS
    if broken == "openimages layout":  # RetinaNet's dataset passed to yolo
        (ds / IMAGES).rename(ds / "validation")
        needle = IMAGES
    elif broken == "no annotations file":
        annotations.unlink()
        needle = ANNOTATIONS
    else:
        name = json.loads(annotations.read_text())["images"][1]["file_name"]
        (ds / IMAGES / name).unlink()
        needle = name
    assert_bad_input(harness(*run_args(ydemo, tmp_path / "out", dataset_dir=ds)), needle)
    with pytest.raises(UsageError, match=re.escape(needle)):
        workloads.get("yolo-99").check_dataset(ds, None)  # the host's preflight says the same


def _onnx_of_another_architecture(path):
    """A model with RetinaNet's interface (images [1,3,800,800] -> boxes, scores, labels)."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 800, 800])
    outs = [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 3, 800, 800]) for n in ("boxes", "scores")]
    nodes = [helper.make_node("Identity", ["images"], [n]) for n in ("boxes", "scores")]
    graph = helper.make_graph(nodes, "retinanet-like", [x], outs)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))


@pytest.mark.parametrize("kind", ["another architecture", "a torch checkpoint", "missing"])
def test_bad_model_is_one_line_exit_2(ydemo, tmp_path, kind):
    model = tmp_path / ("yolo11l.pt" if kind == "a torch checkpoint" else ONNX_FILE)
    if kind == "another architecture":
        _onnx_of_another_architecture(model)
        needles = (str(model), "is not a YOLO detection model", "boxes")
    elif kind == "a torch checkpoint":
        model.write_bytes(b"PK\x03\x04" + b"\0" * 64)
        needles = (str(model), "PyTorch checkpoint", "format=onnx")
    else:
        needles = (str(model), "does not exist")
    assert_bad_input(harness(*run_args(ydemo, tmp_path / "out", model_path=model)), *needles)
