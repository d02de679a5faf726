"""bert accuracy: SQuAD v1.1 normalisation and scoring, answer extraction from hand-made logits, the log
reader, and the accuracy line against the submission checker's F1 pattern."""

import json
import re

import numpy as np
import pytest

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.bert import evaluate, squad

# tools/submission/submission_checker/constants.py, ACC_PATTERN["F1"]
CHECKER_F1 = r"^{[\"\']exact_match[\"\']\:\s*[\d\.]+,\s*[\"\']f1[\"\']\:\s*([\d\.]+)}"

VOCAB = [*squad.SPECIALS, ".", ",", "?", "'", "1", "##8", "##5", "##2", "the", "zelvo", "river", "##s", "flows",
         "through", "marden", "town", "of", "it", "was", "named", "in", "by", "anna", "berg", "what", "who", "when",
         "which", "s"]  # fmt: skip
CONTEXT = "The Zelvo river flows through Marden town. It was named in 1852. by Anna Berg's rivers."
QUESTIONS = [
    ("q-river", "What river flows through Marden?", ["Zelvo river", "the Zelvo"]),
    ("q-year", "When was it named?", ["1852"]),
    ("q-who", "Who named it?", ["Anna Berg"]),
]


@pytest.fixture
def small(tmp_path):
    qas = [{"id": i, "question": q, "answers": [{"text": t, "answer_start": CONTEXT.find(t)} for t in a]}
           for i, q, a in QUESTIONS]  # fmt: skip
    data = {"version": "1.1", "data": [{"title": "t", "paragraphs": [{"context": CONTEXT, "qas": qas}]}]}
    (tmp_path / "dev-v1.1.json").write_text(json.dumps(data))
    (tmp_path / "vocab.txt").write_text("\n".join(VOCAB) + "\n")
    return squad.load(tmp_path / "dev-v1.1.json", tmp_path / "vocab.txt", tmp_path / "cache")


def _logits(feature, start: int, end: int) -> np.ndarray:
    """(positions, 2) float32 with a clear best start and end; everything else small."""
    out = np.linspace(-1.0, -2.0, feature.length * 2, dtype=np.float32).reshape(-1, 2)
    out[start, 0], out[end, 1] = 8.0, 7.0
    return out


def _position(feature, token: str, nth: int = 0) -> int:
    positions = [i for i, t in enumerate(feature.tokens) if t == token and i in feature.token_to_orig_map]
    return positions[nth]


def _log(path, entries) -> None:
    path.write_text(json.dumps([{"seq_id": k, "qsl_idx": i, "data": a.tobytes().hex()} for k, (i, a) in
                                enumerate(entries)]))  # fmt: skip


def test_normalisation():
    assert evaluate.normalize_answer("The  Cat's, hat!") == "cats hat"
    assert evaluate.normalize_answer("An apple a day; THE end.") == "apple day end"
    assert evaluate.normalize_answer("theatre anthem") == "theatre anthem"  # articles only as whole words
    assert evaluate.exact_match("the Zelvo River.", "Zelvo river")
    assert not evaluate.exact_match("Zelvo", "Zelvo river")


def test_f1_partial_overlap_by_hand():
    # prediction {big, red, fox}, truth {red, fox, jumps}: 2 shared, precision = recall = 2/3
    assert evaluate.f1("the big red fox", "red fox jumps") == pytest.approx(2 / 3)
    # repeated tokens count once per occurrence: pred {a1, a1, b}, truth {a1, b}: 2 shared, p 2/3, r 1 -> 0.8
    assert evaluate.f1("x x y", "x y") == pytest.approx(0.8)
    assert evaluate.f1("nothing", "else") == 0.0


def test_score_counts_unanswered_as_zero():
    answers = {"a": ["Zelvo river"], "b": ["red fox jumps"], "c": ["gone"]}
    out = evaluate.score({"a": "the zelvo river", "b": "big red fox"}, answers)
    assert out["exact_match"] == pytest.approx(100 / 3)
    assert out["f1"] == pytest.approx(100 * (1 + 2 / 3 + 0) / 3)


def test_line_is_what_the_checker_reads():
    for result in ({"exact_match": 83.5, "f1": 90.87412}, {"exact_match": 0.0, "f1": 0.0},
                   {"exact_match": 100.0, "f1": 100.0}, {"exact_match": 100 / 3, "f1": 500 / 9}):  # fmt: skip
        text = evaluate.line(result)
        m = re.match(CHECKER_F1, text)
        assert m, text
        assert float(m.group(1)) == pytest.approx(result["f1"])
        assert json.loads(text) == result
    assert evaluate.CHECKER_F1 == CHECKER_F1


def test_known_spans_give_known_em_and_f1(small, tmp_path):
    assert len(small.features) == 3  # one short window per question
    f_river, f_year, f_who = small.features
    entries = [
        # "zelvo river" -> exact match with the first answer
        (0, _logits(f_river, _position(f_river, "zelvo"), _position(f_river, "river"))),
        # "1 ##8 ##5 ##2" -> "1852", mapped back onto the word "1852." without its period
        (1, _logits(f_year, _position(f_year, "1"), _position(f_year, "##2"))),
        # "anna berg ' s rivers" -> "Anna Berg's rivers", normalised {anna, bergs, rivers} against {anna, berg}:
        # 1 shared, precision 1/3, recall 1/2, F1 = 2 * (1/6) / (5/6) = 0.4
        (2, _logits(f_who, _position(f_who, "anna"), _position(f_who, "##s"))),
    ]
    _log(tmp_path / "acc.json", entries)
    out = evaluate.evaluate(tmp_path / "acc.json", small)
    assert out["predictions"] == {"q-river": "Zelvo river", "q-year": "1852", "q-who": "Anna Berg's rivers"}
    assert out["exact_match"] == pytest.approx(100 * 2 / 3)
    assert out["f1"] == pytest.approx(100 * (1 + 1 + 0.4) / 3)
    assert out["questions"] == out["total_questions"] == 3


def test_invalid_spans_are_skipped(small, tmp_path):
    f = small.features[0]
    logits = _logits(f, _position(f, "zelvo"), _position(f, "river"))
    logits[1, 0] = 50.0  # best start on a question token: not in the document, skipped
    logits[f.length - 1, 1] = 50.0  # best end on the final [SEP]: skipped
    logits[_position(f, "flows"), 1] = 40.0  # end before "marden" start: end < start skipped below
    logits[_position(f, "marden"), 0] = 30.0
    _log(tmp_path / "acc.json", [(0, logits)])
    preds = evaluate.evaluate(tmp_path / "acc.json", small)["predictions"]
    # best valid pair: start "marden" (30) with end "river"? end < start, skipped; start "zelvo" (8) + end "flows"
    # (40) = 48 beats "marden".."town" and everything else
    assert preds == {"q-river": "Zelvo river flows"}


def test_log_reader(small, tmp_path):
    f = small.features[0]
    first = _logits(f, _position(f, "zelvo"), _position(f, "zelvo"))
    last = _logits(f, _position(f, "marden"), _position(f, "marden"))
    _log(tmp_path / "acc.json", [(0, first), (0, last)])  # logged twice: the last one counts, as the reference
    results = evaluate.read_log(tmp_path / "acc.json", len(small.features))
    start, end = results[0]
    assert len(start) == len(end) == squad.MAX_SEQ_LENGTH
    assert start[f.length :] == [evaluate.PAD_LOGIT] * (squad.MAX_SEQ_LENGTH - f.length)
    assert start[_position(f, "marden")] == 8.0
    assert evaluate.evaluate(tmp_path / "acc.json", small)["questions"] == 1


@pytest.mark.parametrize(
    "entries, message",
    [
        ([(7, np.zeros((4, 2), np.float32))], "qsl_idx 7 is beyond the 3 SQuAD features"),
        ([(0, np.zeros(3, np.float32))], "3 float32 values"),
        ([(0, np.zeros((400, 2), np.float32))], "800 float32 values"),
    ],
)
def test_bad_logs(small, tmp_path, entries, message):
    _log(tmp_path / "acc.json", entries)
    with pytest.raises(UsageError) as e:
        evaluate.evaluate(tmp_path / "acc.json", small)
    assert message in str(e.value) and str(tmp_path / "acc.json") in str(e.value)
    assert "\n" not in str(e.value)


def test_missing_or_broken_log(small, tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        evaluate.evaluate(tmp_path / "none.json", small)
    (tmp_path / "acc.json").write_text("[{")
    with pytest.raises(UsageError, match="not valid JSON"):
        evaluate.evaluate(tmp_path / "acc.json", small)
    (tmp_path / "acc.json").write_text("[]")
    with pytest.raises(UsageError, match="holds no responses"):
        evaluate.evaluate(tmp_path / "acc.json", small)
    for record in ({"qsl_idx": 0}, {"qsl_idx": 0, "data": "zz"}, [1, 2]):
        (tmp_path / "acc.json").write_text(json.dumps([record]))
        with pytest.raises(UsageError, match="not a LoadGen response"):
            evaluate.evaluate(tmp_path / "acc.json", small)


def test_accuracy_command_reads_the_dataset_dir_and_float16_logs(small, tmp_path):
    f = small.features[0]
    logits = _logits(f, _position(f, "zelvo"), _position(f, "river")).astype(np.float16)
    _log(tmp_path / "acc16.json", [(0, logits)])
    out = evaluate.accuracy(tmp_path / "acc16.json", tmp_path, tmp_path / "cache", "float16")
    assert out["predictions"] == {"q-river": "Zelvo river"} and out["exact_match"] == 100.0
    assert out["questions"] == 1 and out["total_questions"] == 3
    with pytest.raises(UsageError, match="--dtype int8"):
        evaluate.accuracy(tmp_path / "acc16.json", tmp_path, tmp_path / "cache", "int8")
