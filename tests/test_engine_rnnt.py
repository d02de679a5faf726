"""`mlperfctl run --model rnnt` on the real engine: the RNN-T in its pytorch CPU container (torch from the local
CPU wheel) on demo data, Offline, performance and accuracy, results in the v4.0 tree (rnnt's round, the default
when --version is not given) whose accuracy.txt has the line the v4.0 checker's WER pattern reads; and a manifest
naming a missing wav stopped in one line before any container starts."""

import glob
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import mlperf_rules

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
RUN_LABEL = "io.mlperfctl.run"
BASE = Path("open", "lab")
COUNT = 4


def no_rnnt_containers(docker_client) -> bool:
    """No run container of an rnnt image left (other sessions' runs may share the engine)."""
    return not [c for c in docker_client.containers.list(all=True, filters={"label": RUN_LABEL})
                if "-rnnt:" in c.attrs.get("Config", {}).get("Image", "")]


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), "PYTHONPATH": str(ROOT),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200",
            "MLPERFCTL_WHEEL_DIR": "/opt/wheels"}


def mlperfctl_run(data: Path, sub: Path, *extra) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "mlperfctl", "run", "--model", "rnnt", "--scenario", "Offline",
           "--dataset-dir", data / "datasets" / "librispeech", "--model-path", data / "models" / "rnnt",
           "--threads", "1", "--test-query-count", "8", "--submission-dir", sub, "--submitter", "lab",
           "--system-name", "box_cpu", "--cache-dir", data.parent / "cache", *extra]
    return subprocess.run(list(map(str, cmd)), capture_output=True, text=True, cwd=ROOT, env=env())


@pytest.fixture(scope="module")
def demo(tmp_path_factory, local_base) -> Path:
    if not glob.glob("/opt/wheels/torch-2.13.0+cpu-*.whl"):
        pytest.skip("no local torch 2.13.0 CPU wheel in /opt/wheels (download.pytorch.org is unreachable here)")
    data = tmp_path_factory.mktemp("rnnt") / "demo"
    r = subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(data), "--model", "rnnt",
                        "--images", str(COUNT)], capture_output=True, text=True, env=env())
    assert r.returncode == 0, r.stderr
    return data


@pytest.fixture(scope="module")
def offline(demo, tmp_path_factory):
    sub = tmp_path_factory.mktemp("tree") / "submission"
    r = mlperfctl_run(demo, sub, "--json")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return sub, json.loads(r.stdout)


def test_offline_run_writes_a_complete_v40_result(offline, docker_client):
    sub, summary = offline
    assert summary["cell"] == "python-pytorch-cpu-rnnt"
    rows = {x["mode"]: x for x in summary["results"]}
    assert set(rows) == {"performance", "accuracy"}
    assert rows["performance"]["metric"]["value"] > 0 and rows["performance"]["metric"]["unit"]
    rnd = mlperf_rules.rules_round("rnnt")
    assert rnd.version == "v4.0"
    layout = rnd.layout
    base = sub / BASE
    perf = base / layout.mode_dir("box_cpu", "rnnt", "Offline", "performance") / "run_1"
    acc = base / layout.mode_dir("box_cpu", "rnnt", "Offline", "accuracy")
    assert sorted(p.name for p in perf.iterdir()) == sorted(layout.perf_files)
    assert sorted(p.name for p in acc.iterdir()) == sorted(layout.acc_files)
    assert "Samples per second" in (perf / "mlperf_log_summary.txt").read_text()
    text = (acc / "accuracy.txt").read_text()
    wer = mlperf_rules.accuracy_values(rnd, "rnnt", text)["WER"]
    assert wer is not None, text  # the v4.0 checker's pattern reads the line (random weights: a low value)
    # v4.0 wants mlperf.conf beside user.conf and README.md in measurements/
    meta = base / layout.meta_dir("box_cpu", "rnnt", "Offline")
    assert {"user.conf", "README.md", "mlperf.conf"} <= {p.name for p in meta.iterdir()}
    assert "rnnt.*.performance_sample_count_override = 2513" in (meta / "mlperf.conf").read_text()
    assert "rnnt.Offline.min_query_count = 8" in (meta / "user.conf").read_text()
    measurements = json.loads(base.joinpath(layout.measurements_file("box_cpu", "rnnt", "Offline",
                                                                       "python")).read_text())
    assert measurements["starting_weights_filename"] == "DistributedDataParallel_1576581068.9962234-epoch-100.pt"
    assert (base / layout.src_dir("rnnt", "python")).is_dir()
    ledger = json.loads((meta / "run.json").read_text())
    assert ledger["accuracy"]["harness"]["loadgen_version"] == "6.0.17"
    assert no_rnnt_containers(docker_client)


def test_manifest_naming_a_missing_wav_is_one_line_before_any_container(demo, tmp_path, docker_client):
    data = tmp_path / "demo"
    (data / "datasets").mkdir(parents=True)
    (data / "models").symlink_to(demo / "models")
    librispeech = data / "datasets" / "librispeech"
    librispeech.mkdir()
    entries = json.loads((demo / "datasets/librispeech/dev-clean-wav.json").read_text())
    entries[0]["files"][0]["fname"] = "dev-clean-wav/missing.wav"
    (librispeech / "dev-clean-wav.json").write_text(json.dumps(entries))
    (librispeech / "dev-clean-wav").symlink_to(demo / "datasets/librispeech/dev-clean-wav")
    r = mlperfctl_run(data, tmp_path / "submission")
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing.wav" in lines[0] and "dev-clean-wav.json" in lines[0], r.stderr
    assert not (tmp_path / "submission").exists()
    assert no_rnnt_containers(docker_client)
