"""mobilenet/efficientnet are open-division models: the submission tree carries the model_mapping.json the official
checker reads (<division>/<submitter>/model_mapping.json, our name -> its benchmark), and `run --division closed`
refuses them before anything runs."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules
from mlperfctl import submission
from mlperfctl.errors import UserError
from mlperfctl.options import RunOptions
from mlperfctl.run import plan as run_plan
from mlperfctl.submission import sysinfo

DATA = Path(__file__).resolve().parent.parent / "data"


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("tiny")
    conf = base / "user.conf"
    conf.write_text("resnet50.Offline.target_qps = 120000\nresnet50.Offline.min_duration = 200\n")
    out = {}
    for mode in ("performance", "accuracy"):
        subprocess.run([sys.executable, str(DATA / "tiny_sut.py"), str(base / mode), mode, str(conf)], check=True)
        out[mode] = base / mode
    return out


def write(root, runs, model, division="open"):
    probed = {"host_processor_model_name": "cpu", "host_processors_per_node": "1", "host_processor_core_count": "2",
              "host_memory_capacity": "24 GB", "operating_system": "Debian 12", "accelerators_per_node": "0",
              "accelerator_model_name": "N/A", "accelerator_memory_capacity": "N/A",
              "accelerator_host_interconnect": "N/A", "host_storage_capacity": "1 TB", "host_storage_type": "SSD"}
    system = sysinfo.system_description(division=division, submitter="acme", system_name="box",
                                        framework="ai-edge-litert 2.3.0", probed=probed)
    rs = submission.ResultSet(
        model=model, scenario="Offline", performance_dir=runs["performance"], accuracy_dir=runs["accuracy"],
        measurements=submission.measurements_for(model, "fp32", f"{model}.tflite"),
        readme=f"# {model} Offline\n\n    mlperfctl run --model {model}\n", ledger={"exit_status": 0}, compliance={})
    return submission.write_results(root, division=division, submitter="acme", system_name="box",
                                    system_json=system, results=[rs], src_dir=None,
                                    rnd=mlperf_rules.get_round("v6.1"))


def test_open_tree_carries_model_mapping(tmp_path, runs):
    write(tmp_path, runs, "mobilenet")
    mapping = tmp_path / "open" / "acme" / "model_mapping.json"
    assert json.loads(mapping.read_text()) == {"mobilenet": "resnet"}
    write(tmp_path, runs, "efficientnet")  # a second model adds to the file
    assert json.loads(mapping.read_text()) == {"mobilenet": "resnet", "efficientnet": "resnet"}


def test_no_mapping_for_benchmark_models(tmp_path, runs):
    write(tmp_path, runs, "resnet50")
    assert not (tmp_path / "open" / "acme" / "model_mapping.json").exists()


@pytest.mark.parametrize("model", ["mobilenet", "efficientnet"])
def test_closed_division_refuses_open_only_models(loaded, model):
    with pytest.raises(UserError, match=f"{model} is an open-division model.*use --division open"):
        run_plan.plan(loaded, RunOptions(model=model, device="cpu", division="closed"))
    assert run_plan.plan(loaded, RunOptions(model=model, device="cpu", backend="tflite")).cell.backend == "tflite"
