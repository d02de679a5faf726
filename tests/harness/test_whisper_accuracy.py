"""whisper's scoring as the reference's speech2text/accuracy_eval.py: Whisper's English normaliser, the
concatenation-aware word alignment and WER (hand-checked cases), the accuracy.txt line the v5.1+ checkers read,
the label ids, and the dev-all-repack manifest reader (layout, dropped long samples, missing files)."""

import json
import re

import numpy as np
import pytest

import mlperf_rules
from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.whisper import dataset, model

pytest.importorskip("transformers", reason="transformers is not installed (the `generative` extra)")

from mlperf_harness.workloads.whisper import accuracy  # noqa: E402 - after the importorskip above


@pytest.mark.parametrize(("text", "normal"), [
    # what openai-whisper 20250625's EnglishTextNormalizer returns for these (checked against it once)
    ("Mr. Smith paid $20.50 for twenty-one apples, uh, in 1999!", "mister smith paid $20.50 for 21 apples in 1999"),
    ("It's the colour of the 3rd hmm place's", "it is the color of the 3rd place is"),
    ("ONE HUNDRED AND TWENTY THREE dollars and fifty cents", "$123.50"),
    ("twenty five percent; first-place; Dr. Who", "25% 1st place doctor who"),
    ("Œuvre naïve café (aside) [noise]", "oeuvre naive cafe"),
    ("  he   gonna\tgo  ", "he going to go"),
])
def test_normaliser_is_whispers_english_normaliser(text, normal):
    assert accuracy.normalize(text) == normal


@pytest.mark.parametrize(("hyp", "ref", "edits", "words"), [
    ("the cat sat on the mat", "the cat sat on the mat", 0, 6),
    ("the cat sat on mat", "the cat sat on the mat", 1, 6),  # one deletion
    ("the dog sat on the mat", "the cat sat on the mat", 1, 6),  # one substitution
    ("x a b c", "a b c", 1, 3),  # one insertion
    ("football game", "foot ball game", 0, 3),  # reference words concatenated = the hypothesis word
    ("news paper", "newspaper", 0, 1),  # hypothesis words concatenated = the reference word
    ("good morning every body", "good morning everybody today", 1, 4),  # a split word matches; "today" is missing
    ("", "a b", 2, 2),
])
def test_word_errors_hand_checked(hyp, ref, edits, words):
    assert accuracy.word_errors(hyp, ref) == (edits, words)


def test_wer_normalises_both_sides_and_sums_over_samples():
    wer, edits, words = accuracy.word_error_rate(
        ["Mister Smith's colour", "the cat sat"], ["mr smith is color", "the cat sat on the mat"])
    assert (edits, words) == (3, 10) and wer == pytest.approx(0.3)
    with pytest.raises(UsageError, match="hold no words"):
        accuracy.word_error_rate(["a"], ["uh"])  # "uh" is a filler word the normaliser drops


def test_line_is_the_references_and_the_checkers_pattern_reads_it():
    assert accuracy.line(0.25) == "Word Error Rate: 25.0%, accuracy=75.0%"
    assert accuracy.CHECKER_PATTERN == mlperf_rules.get_round("v6.1").acc_patterns["ACCURACY"]
    for version in ("v5.1", "v6.0", "v6.1"):
        rnd = mlperf_rules.get_round(version)
        assert mlperf_rules.accuracy_values(rnd, "whisper", accuracy.line(0.02)) == {"ACCURACY": 98.0}
        assert mlperf_rules.accuracy_check(rnd, "whisper", accuracy.line(0.02)) == []
        assert mlperf_rules.accuracy_check(rnd, "whisper", accuracy.line(0.05)) != []
    assert re.match(accuracy.CHECKER_PATTERN, accuracy.line(1 / 3)).group(1) == str((1 - 1 / 3) * 100)


def test_labels_are_the_references_42_characters():
    assert len(dataset.LABELS) == 42 and dataset.LABELS[:2] == (" ", "a")
    assert dataset.LABELS[-4:] == ("$", "%", "+", "-")
    assert dataset.decode(dataset.encode("it's 20% off-peak")) == "it's 20% off-peak"
    assert dataset.labels_only("Hello, World!") == "ello orld"  # upper case and punctuation dropped, as the reference
    assert model.response(" It's 5 O'Clock.").tolist() == dataset.encode("it's 5 o'clock")
    assert model.response("x").dtype == np.int64
    with pytest.raises(UsageError, match="label id 42 is outside"):
        dataset.decode([1, 42])


def _manifest(root, entries):
    (root / dataset.WAV_DIR).mkdir(parents=True, exist_ok=True)
    for e in entries:
        name = e["files"][0]["fname"]
        if not name.startswith("/") and "missing" not in name:
            (root / name).write_bytes(b"")
    (root / dataset.MANIFEST).write_text(json.dumps(entries))


def _entry(fname, seconds, transcript="a b"):
    return {"transcript": transcript, "files": [{"fname": fname, "speed": 1, "duration": seconds}],
            "original_duration": seconds, "original_num_samples": int(seconds * 16000)}


def test_manifest_reader_keeps_the_references_samples(tmp_path):
    _manifest(tmp_path, [_entry("dev-all-repack/1-2_0.wav", 29.5, "Mister quilter"),
                         _entry("dev-all-repack/1-2_1.wav", 30.5),  # over 30 s: dropped, as the reference
                         _entry("/data/dev-all-repack/1-2_2.wav", 3.0)])  # the reference's docker path
    (tmp_path / dataset.WAV_DIR / "1-2_2.wav").write_bytes(b"")
    samples = dataset.read_manifest(tmp_path)
    assert [s.wav.name for s in samples] == ["1-2_0.wav", "1-2_2.wav"]
    assert samples[0].transcript == "ister quilter" and samples[1].wav == tmp_path / "dev-all-repack/1-2_2.wav"
    assert len(dataset.read_manifest(tmp_path, count=1)) == 1
    with pytest.raises(UsageError, match="--count 3 exceeds the 2 samples"):
        dataset.read_manifest(tmp_path, count=3)


@pytest.mark.parametrize(("content", "message"), [
    (None, "dev-all-repack.json does not exist"),
    ("{not json", "is not valid JSON"),
    ('{"transcript": "a"}', "holds a dict, not a list of samples"),
    ('[{"transcript": "a", "files": []}]', "entry 0 lacks or mangles 'original_duration'"),
    ('[{"transcript": "a", "original_duration": 2, "files": [{"fname": "dev-all-repack/missing.wav", "speed": 1}]}]',
     "entry 0 names dev-all-repack/missing.wav, which is not in"),
])
def test_wrong_layout_is_one_usage_error_naming_the_file(tmp_path, content, message):
    if content is not None:
        (tmp_path / dataset.MANIFEST).write_text(content)
    with pytest.raises(UsageError, match=re.escape(message)) as err:
        dataset.check(tmp_path)
    assert "\n" not in str(err.value)


def test_model_check_refuses_other_architectures_and_incomplete_folders(tmp_path):
    def folder(config, *files):
        path = tmp_path / str(len(list(tmp_path.iterdir())))
        path.mkdir()
        (path / "config.json").write_text(json.dumps(config))
        for f in files:
            (path / f).write_text("{}")
        return path

    good = {"model_type": "whisper", "architectures": ["WhisperForConditionalGeneration"], "num_mel_bins": 128}
    model.check_model_dir(folder(good, "tokenizer.json", "preprocessor_config.json"))
    cases = [
        (folder({"model_type": "llama", "architectures": ["LlamaForCausalLM"]}), "describes model_type 'llama' "
         "(LlamaForCausalLM), not Whisper"),
        (folder({**good, "num_mel_bins": 80}, "tokenizer.json", "preprocessor_config.json"), "num_mel_bins 80, not"),
        (folder(good, "preprocessor_config.json"), "has no tokenizer (tokenizer.json or vocab.json)"),
        (folder(good, "vocab.json"), "has no feature extractor config"),
        (tmp_path / "absent", "does not exist"),
    ]
    for path, message in cases:
        with pytest.raises(UsageError, match=re.escape(message)):
            model.check_model_dir(path)
