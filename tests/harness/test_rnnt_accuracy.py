"""rnnt accuracy: word error rate on hand-computed cases, the reference's line read back through the v4.0
checker's pattern, and the accuracy log (int64 label ids) scored against a manifest."""

import json
import re

import numpy as np
import pytest

import mlperf_rules

soundfile = pytest.importorskip("soundfile", reason="soundfile is not installed (the `harness` extra)")

from mlperf_harness.errors import UsageError  # noqa: E402 - after the importorskip above
from mlperf_harness.workloads.rnnt import accuracy, dataset  # noqa: E402 - after the importorskip above

V40 = mlperf_rules.get_round("v4.0")


def test_edit_distance_by_hand():
    assert accuracy.edit_distance([], []) == 0
    assert accuracy.edit_distance(list("kitten"), list("sitting")) == 3  # k->s, e->i, +g
    assert accuracy.edit_distance("a b c".split(), []) == 3
    assert accuracy.edit_distance([], ["x"]) == 1
    assert accuracy.edit_distance("the cat sat".split(), "the cat sat".split()) == 0
    assert accuracy.edit_distance("a b c d".split(), "b c d e".split()) == 2  # -a, +e


def test_word_error_rate_by_hand():
    # utterance 1: "the cat sat on the mat" vs "the cat sit on mat": 1 substitution + 1 deletion = 2 of 6
    # utterance 2: "hello world" vs "hello big world": 1 insertion = 1 of 2
    # total 3 edits over 8 reference words
    wer, edits, words = accuracy.word_error_rate(
        ["the cat sit on mat", "hello big world"], ["the cat sat on the mat", "hello world"]
    )
    assert (edits, words) == (3, 8)
    assert wer == pytest.approx(3 / 8)


def test_word_error_rate_splits_on_any_whitespace():
    wer, edits, words = accuracy.word_error_rate(["  a   b "], ["a b"])
    assert (wer, edits, words) == (0.0, 0, 2)


def test_line_is_the_references_and_the_v40_pattern_reads_it():
    text = accuracy.line(3 / 8)
    assert text == "Word Error Rate: 37.5%, accuracy=62.5%"
    assert re.match(accuracy.CHECKER_PATTERN, text).group(1) == "62.5"
    assert accuracy.CHECKER_PATTERN == V40.acc_patterns["WER"]
    assert mlperf_rules.accuracy_values(V40, "rnnt", text + "\n") == {"WER": 62.5}
    # a full-set figure like the reference model's: float repr, as the reference prints it
    good = accuracy.line(0.07452)
    assert good == f"Word Error Rate: {0.07452 * 100}%, accuracy={(1 - 0.07452) * 100}%"
    assert mlperf_rules.accuracy_values(V40, "rnnt", good)["WER"] == pytest.approx(92.548)
    assert mlperf_rules.accuracy_check(V40, "rnnt", good) == []
    assert mlperf_rules.accuracy_check(V40, "rnnt", accuracy.line(0.1))  # 90% is below the 91.62252 target


def test_perfect_and_empty_hypotheses():
    assert accuracy.line(0.0) == "Word Error Rate: 0.0%, accuracy=100.0%"
    assert mlperf_rules.accuracy_values(V40, "rnnt", accuracy.line(1.0)) == {"WER": 0.0}


def _dataset(root, transcripts):
    entries = []
    for i, text in enumerate(transcripts):
        fname = f"dev-clean-wav/1/2/1-2-{i:04d}.wav"
        (root / fname).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(root / fname, np.zeros(1600, np.int16), 16000, subtype="PCM_16")
        entries.append(
            {"files": [{"fname": fname, "speed": 1, "duration": 0.1}], "original_duration": 0.1, "transcript": text}
        )
    (root / "dev-clean-wav.json").write_text(json.dumps(entries))


def _log(path, records, dtype=np.int64):
    path.write_text(
        json.dumps(
            [
                {"seq_id": n, "qsl_idx": idx, "data": np.asarray(ids, dtype).tobytes().hex().upper()}
                for n, (idx, ids) in enumerate(records)
            ]
        )
    )


def test_score_accuracy_log_against_manifest(tmp_path):
    _dataset(tmp_path, ["The cat sat on the mat.", "hello world"])
    log = tmp_path / "mlperf_log_accuracy.json"
    # logged out of order, as LoadGen may: qsl 1 exact, qsl 0 "the cat sit on mat" (2 edits of 6)
    _log(log, [(1, dataset.encode("hello world")), (0, dataset.encode("the cat sit on mat"))])
    result = accuracy.score(log, tmp_path)
    assert result == {"wer": 2 / 8, "edits": 2, "words": 8, "samples": 2}
    assert accuracy.line(result["wer"]) == "Word Error Rate: 25.0%, accuracy=75.0%"


def test_score_reads_other_dtypes_and_rejects_a_wrong_one(tmp_path):
    _dataset(tmp_path, ["ab"])
    log = tmp_path / "acc.json"
    _log(log, [(0, dataset.encode("ab"))], np.int32)
    assert accuracy.score(log, tmp_path, dtype="int32")["wer"] == 0.0
    _log(log, [(0, dataset.encode("abc"))], np.int8)  # 3 bytes: not int64 ids
    with pytest.raises(UsageError, match="3 bytes are not int64"):
        accuracy.score(log, tmp_path)


def test_bad_logs_are_one_line_errors(tmp_path):
    _dataset(tmp_path, ["ab"])
    log = tmp_path / "acc.json"
    with pytest.raises(UsageError, match="does not exist"):
        accuracy.score(log, tmp_path)
    log.write_text("[{")
    with pytest.raises(UsageError, match="not valid JSON"):
        accuracy.score(log, tmp_path)
    _log(log, [(5, [1])])
    with pytest.raises(UsageError, match="qsl_idx 5 is beyond the 1 utterances"):
        accuracy.score(log, tmp_path)
    _log(log, [(0, [dataset.BLANK])])
    with pytest.raises(UsageError, match="label id 28 is outside"):
        accuracy.score(log, tmp_path)
    _log(log, [])
    with pytest.raises(UsageError, match="holds no responses") as e:
        accuracy.score(log, tmp_path)
    assert "\n" not in str(e.value)


def test_command_prints_and_writes_the_line(tmp_path, capsys):
    from types import SimpleNamespace

    _dataset(tmp_path, ["one two three four"])
    log = tmp_path / "acc.json"
    _log(log, [(0, dataset.encode("one too three"))])  # 1 substitution + 1 deletion of 4
    out = tmp_path / "accuracy.txt"
    args = SimpleNamespace(
        mlperf_accuracy_file=str(log), dataset_dir=str(tmp_path), manifest=None, dtype="int64", output=str(out)
    )
    assert accuracy.command(args) == 0
    assert capsys.readouterr().out.splitlines()[0] == "Word Error Rate: 50.0%, accuracy=50.0%"
    assert out.read_text() == "Word Error Rate: 50.0%, accuracy=50.0%\n"
    assert mlperf_rules.accuracy_values(V40, "rnnt", out.read_text()) == {"WER": 50.0}
