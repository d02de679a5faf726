"""rnnt dataset: the dev-clean-wav.json manifest as the reference reads it, transcripts as label ids, wav
loading, and bad inputs as one-line errors naming the file."""

import json

import numpy as np
import pytest

soundfile = pytest.importorskip("soundfile", reason="soundfile is not installed (the `harness` extra)")

from mlperf_harness.errors import UsageError  # noqa: E402 - after the importorskip above
from mlperf_harness.workloads.rnnt import dataset  # noqa: E402 - after the importorskip above


def _wav(path, samples, rate=16000, subtype="PCM_16"):
    path.parent.mkdir(parents=True, exist_ok=True)
    soundfile.write(path, samples, rate, subtype=subtype)


def _entry(fname, duration, text, speeds=(1,)):
    files = [{"fname": fname if s == 1 else fname.replace(".wav", f"-{s}.wav"), "speed": s} for s in speeds]
    return {
        "files": files,
        "original_duration": duration,
        "original_num_samples": int(duration * 16000),
        "transcript": text,
    }


def _manifest(root, entries):
    (root / "dev-clean-wav.json").write_text(json.dumps(entries))


def test_labels_are_the_references_29_classes():
    assert len(dataset.LABELS) == 28 and dataset.BLANK == 28
    assert dataset.LABELS[0] == " " and dataset.LABELS[1] == "a" and dataset.LABELS[26] == "z"
    assert dataset.LABELS[27] == "'"
    assert dataset.encode("a z'") == [1, 0, 26, 27]
    assert dataset.decode([8, 9, 0, 27]) == "hi '"


def test_normalize_as_the_reference():
    assert dataset.normalize("  Hello,   WORLD! it's  ") == "hello world it's"
    assert dataset.normalize("rock&roll + jazz") == "rock and roll plus jazz"
    assert dataset.normalize("café — naïve") == "cafe naive"
    assert dataset.normalize("x_y-z") == "x y z"


def test_manifest_drops_long_utterances_and_takes_the_speed_1_file(tmp_path):
    for name in ("a", "c"):
        _wav(tmp_path / f"w/{name}.wav", np.zeros(800, np.int16))
    _manifest(
        tmp_path,
        [
            _entry("w/a.wav", 1.0, "First one", speeds=(0.9, 1, 1.1)),
            _entry("w/b.wav", 15.01, "too long: its wav need not exist"),
            _entry("w/c.wav", 15.0, "exactly fifteen"),
        ],
    )
    utts = dataset.read_manifest(tmp_path)
    assert [u.wav for u in utts] == [tmp_path / "w/a.wav", tmp_path / "w/c.wav"]
    assert [u.transcript for u in utts] == ["first one", "exactly fifteen"]
    assert utts[0].label_ids == dataset.encode("first one")
    assert [u.wav.name for u in dataset.read_manifest(tmp_path, count=1)] == ["a.wav"]
    with pytest.raises(UsageError, match="--count 3 exceeds the 2 utterances"):
        dataset.read_manifest(tmp_path, count=3)


def test_load_wav_scales_int16_and_averages_channels(tmp_path):
    _wav(tmp_path / "m.wav", np.array([0, 16384, -32768], np.int16))
    assert dataset.load_wav(tmp_path / "m.wav").tolist() == [0.0, 0.5, -1.0]
    _wav(tmp_path / "s.wav", np.array([[16384, 0], [-16384, -16384]], np.int16))
    wave = dataset.load_wav(tmp_path / "s.wav")
    assert wave.dtype == np.float32 and wave.tolist() == [0.25, -0.5]


def test_utterances_hold_every_waveform(tmp_path):
    _wav(tmp_path / "w/a.wav", np.full(400, 8192, np.int16))
    _wav(tmp_path / "w/b.wav", np.zeros(200, np.int16))
    _manifest(tmp_path, [_entry("w/a.wav", 0.025, "a"), _entry("w/b.wav", 0.0125, "b")])
    qsl = dataset.Utterances(dataset.read_manifest(tmp_path))
    assert len(qsl) == 2
    a, b = qsl.batch([1, 0])
    assert b.shape == (400,) and a.shape == (200,) and b[0] == 0.25


def _one_line(exc, *needles):
    text = str(exc.value)
    assert "\n" not in text
    for n in needles:
        assert str(n) in text


def test_missing_wav_is_a_one_line_error_naming_it(tmp_path):
    _manifest(tmp_path, [_entry("dev-clean-wav/1/2/1-2-0000.wav", 2.0, "x")])
    with pytest.raises(UsageError) as e:
        dataset.read_manifest(tmp_path)
    _one_line(e, tmp_path / "dev-clean-wav/1/2/1-2-0000.wav", "does not exist", "dev-clean-wav.json")


def test_wrong_sample_rate_is_a_one_line_error_naming_it(tmp_path):
    _wav(tmp_path / "w/a.wav", np.zeros(800, np.int16), rate=8000)
    with pytest.raises(UsageError) as e:
        dataset.load_wav(tmp_path / "w/a.wav")
    _one_line(e, tmp_path / "w/a.wav", "8000 Hz, not 16000 Hz")


def test_unreadable_and_empty_wavs(tmp_path):
    (tmp_path / "bad.wav").write_bytes(b"RIFF....not audio")
    with pytest.raises(UsageError) as e:
        dataset.load_wav(tmp_path / "bad.wav")
    _one_line(e, tmp_path / "bad.wav", "not a readable audio file")
    _wav(tmp_path / "empty.wav", np.zeros(0, np.int16))
    with pytest.raises(UsageError, match="holds no samples"):
        dataset.load_wav(tmp_path / "empty.wav")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{not json", "not valid JSON"),
        ('{"files": []}', "not a list of utterances"),
        ('[{"files": []}]', "entry 0 lacks or mangles 'original_duration'"),
        (
            '[{"files": [{"fname": "a.wav", "speed": 1.1}], "original_duration": 1, "transcript": "a"}]',
            "entry 0 has no speed-1 file",
        ),
        ('[{"files": [], "original_duration": 20, "transcript": "a"}]', "holds no utterances of at most 15 s"),
    ],
)
def test_bad_manifests_are_one_line_errors(tmp_path, content, message):
    if content is not None:
        (tmp_path / "dev-clean-wav.json").write_text(content)
    with pytest.raises(UsageError) as e:
        dataset.read_manifest(tmp_path)
    _one_line(e, tmp_path / "dev-clean-wav.json", message)
