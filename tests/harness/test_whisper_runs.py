"""whisper end to end on demo data with the real LoadGen through `python -m mlperf_harness run` (the one run
skeleton and worker pool), Offline, accuracy and performance, in test execution mode; `demo-data --model whisper`,
`accuracy --model whisper`, and a checkpoint of another architecture refused in one line."""

import json
import re
import shutil

import pytest

import mlperf_rules

pytest.importorskip("torch", reason="torch is not installed in this environment")
pytest.importorskip("transformers", reason="transformers is not installed (the `generative` extra)")
pytest.importorskip("soundfile", reason="soundfile is not installed (the `harness` extra)")
pytest.importorskip("mlperf_loadgen", reason="mlcommons-loadgen is not installed (the `harness` extra)")

from mlperf_harness import workloads  # noqa: E402 - after the importorskip above
from mlperf_harness.workloads.whisper import accuracy, dataset, demo  # noqa: E402

from .conftest import flags, harness  # noqa: E402

COUNT = 5


@pytest.fixture(scope="module")
def whisper_demo(tmp_path_factory):
    root = tmp_path_factory.mktemp("whisper-demo")
    proc = harness("demo-data", root, "--model", "whisper", "--images", COUNT, "--seed", 7)
    assert proc.returncode == 0, proc.stderr
    assert "RANDOM" in proc.stderr
    return root


def _run(root, out, **over):
    d = workloads.get("whisper")
    opts = {
        "model": "whisper", "backend": "pytorch", "device": "cpu", "scenario": "Offline", "mode": "performance",
        "execution-mode": "test", "dataset-dir": root / d.demo_dataset_dir, "model-path": root / d.demo_model_dir,
        "output-dir": out, "threads": 2,
    }  # fmt: skip
    return harness("run", *flags(opts, over))


def test_demo_data_has_the_references_layout(whisper_demo):
    d = workloads.get("whisper")
    data = whisper_demo / d.demo_dataset_dir
    assert all((data / f).is_file() for f in d.dataset_files)
    entries = json.loads((data / dataset.MANIFEST).read_text())
    assert len(entries) == COUNT + 1 and entries[1]["original_duration"] > dataset.MAX_DURATION_S
    assert all(e["files"][0]["fname"].startswith("dev-all-repack/") for e in entries)
    assert len(dataset.read_manifest(data)) == COUNT  # the long one is dropped
    # the transcripts are the demo model's own: words, ending after WORDS_PER_SAMPLE tokens
    assert all(len(e["transcript"].split()) == demo.WORDS_PER_SAMPLE for e in entries)
    config = json.loads((whisper_demo / d.demo_model_dir / "config.json").read_text())
    assert config["architectures"] == ["WhisperForConditionalGeneration"] and config["num_mel_bins"] == 128
    assert (config["max_source_positions"], config["max_target_positions"]) == (1500, 448)
    assert config["d_model"] // config["encoder_attention_heads"] == 64  # large-v3's head width


def test_accuracy_run_meets_the_target_with_the_checkers_line(whisper_demo, tmp_path):
    proc = _run(whisper_demo, tmp_path, mode="accuracy")
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = (tmp_path / "accuracy.txt").read_text()
    assert text == "Word Error Rate: 0.0%, accuracy=100.0%\n"  # the references are the demo model's transcripts
    rnd = mlperf_rules.rules_round("whisper")
    assert rnd.version == "v6.1" and re.match(accuracy.CHECKER_PATTERN, text)
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["accuracy"]["samples"] == COUNT and result["accuracy"]["words"] == COUNT * demo.WORDS_PER_SAMPLE
    verdict = result["accuracy_verdict"]
    assert verdict["pass"] is True and verdict["values"]["ACCURACY"] == 100.0
    # the log holds int64 label ids; `accuracy --model whisper` scores it the same, and a manifest whose
    # transcripts differ scores lower
    log = tmp_path / "mlperf_log_accuracy.json"
    data = whisper_demo / "datasets/whisper"
    again = harness("accuracy", "--model", "whisper", "--mlperf-accuracy-file", log, "--dataset-dir", data)
    assert again.returncode == 0, again.stderr
    assert again.stdout.splitlines()[0] == text.strip()
    entries = json.loads((data / dataset.MANIFEST).read_text())
    entries[0]["transcript"] = "something else entirely"
    other = tmp_path / "other.json"
    other.write_text(json.dumps(entries))
    worse = accuracy.score(log, data, other)
    assert worse["edits"] == demo.WORDS_PER_SAMPLE and worse["words"] == (COUNT - 1) * demo.WORDS_PER_SAMPLE + 3


def test_performance_run_reports_tokens_per_second(whisper_demo, tmp_path):
    proc = _run(whisper_demo, tmp_path, max_batchsize=4)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "result.json").read_text())
    assert result["metric"]["name"] == "tokens_per_second" and result["metric"]["value"] > 0
    assert result["batch_size"] == 4 and result["generated_tokens"] > 0
    detail = (tmp_path / "mlperf_log_detail.txt").read_text()
    assert '"key": "result_tokens_per_second"' in detail
    assert "whisper.Offline.use_token_latencies = 1" in (tmp_path / "user.conf").read_text()
    assert "whisper.Offline.min_query_count = 16" in (tmp_path / "user.conf").read_text()


def test_model_of_another_architecture_is_one_line_exit_2(whisper_demo, tmp_path):
    bad = tmp_path / "model"
    shutil.copytree(whisper_demo / "models/whisper-large-v3", bad)
    config = json.loads((bad / "config.json").read_text())
    (bad / "config.json").write_text(json.dumps({**config, "model_type": "wav2vec2",
                                                 "architectures": ["Wav2Vec2ForCTC"]}))
    proc = _run(whisper_demo, tmp_path / "out", model_path=bad)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "wav2vec2" in lines[0] and "config.json" in lines[0], proc.stderr
