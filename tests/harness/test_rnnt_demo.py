"""rnnt demo data: the official layout, the reference checkpoint format through the loading path, a
deterministic result, and a WER line the v4.0 checker reads."""

import json
import re

import numpy as np
import pytest

import mlperf_rules

torch = pytest.importorskip("torch", reason="torch is not installed in this environment")
soundfile = pytest.importorskip("soundfile", reason="soundfile is not installed (the `harness` extra)")

from mlperf_harness.workloads.rnnt import accuracy, dataset, demo, model  # noqa: E402 - after the importorskip above


def test_demo_layout_and_pipeline(tmp_path):
    demo.write(tmp_path, 4, seed=7)
    ckpt = tmp_path / "models/rnnt/DistributedDataParallel_1576581068.9962234-epoch-100.pt"
    root = tmp_path / "datasets/librispeech"
    assert ckpt.is_file() and (root / "dev-clean-wav.json").is_file()
    entries = json.loads((root / "dev-clean-wav.json").read_text())
    assert len(entries) == 5 and entries[1]["original_duration"] == demo.LONG_S
    first = entries[0]
    assert set(first) == {"files", "original_duration", "original_num_samples", "transcript"}
    assert first["files"][0]["fname"].startswith("dev-clean-wav/") and first["files"][0]["speed"] == 1
    info = soundfile.info(root / first["files"][0]["fname"])
    assert (info.samplerate, info.channels, info.subtype) == (16000, 1, "PCM_16")
    assert info.frames == first["original_num_samples"] and 1.0 <= info.duration <= 3.0

    utts = dataset.read_manifest(root)
    assert len(utts) == 4  # the 16 s one is dropped
    assert all(u.duration <= 15 for u in utts)
    rec = model.Recognizer(ckpt)
    assert model.config_of(model.read_state(ckpt), ckpt) == demo.DEMO
    hyps = [dataset.decode(ids) for ids in rec.transcribe(dataset.Utterances(utts).batch(list(range(4))))]
    wer, edits, words = accuracy.word_error_rate(hyps, [u.transcript for u in utts])
    assert words == sum(len(u.transcript.split()) for u in utts)
    text = accuracy.line(wer)
    assert re.match(accuracy.CHECKER_PATTERN, text)
    assert mlperf_rules.accuracy_values(mlperf_rules.get_round("v4.0"), "rnnt", text)["WER"] >= 0.0


def test_demo_is_deterministic(tmp_path):
    demo.write(tmp_path / "a", 2, seed=3)
    demo.write(tmp_path / "b", 2, seed=3)
    demo.write(tmp_path / "c", 2, seed=4)
    for rel in (
        "datasets/librispeech/dev-clean-wav.json",
        "datasets/librispeech/dev-clean-wav/1000/100/1000-100-0000.wav",
    ):
        assert (tmp_path / "a" / rel).read_bytes() == (tmp_path / "b" / rel).read_bytes()
        assert (tmp_path / "a" / rel).read_bytes() != (tmp_path / "c" / rel).read_bytes()
    a = torch.load(tmp_path / "a" / demo.MODEL_FILE, weights_only=True)["state_dict"]
    b = torch.load(tmp_path / "b" / demo.MODEL_FILE, weights_only=True)["state_dict"]
    c = torch.load(tmp_path / "c" / demo.MODEL_FILE, weights_only=True)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not torch.equal(a["encoder.pre_rnn.lstm.weight_ih_l0"], c["encoder.pre_rnn.lstm.weight_ih_l0"])


def test_waveform_is_speech_like_int16():
    wave = demo.waveform(np.random.default_rng(0), 1.5)
    assert wave.dtype == np.int16 and wave.size == 24000
    assert 300 < np.abs(wave).max() < 32767
