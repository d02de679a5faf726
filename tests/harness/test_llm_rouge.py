"""ROUGE and the LLM accuracy report on hand-made inputs with known answers."""

import json
import re

import numpy as np
import pytest

import mlperf_rules
from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.llm import accuracy, rouge, spec

# the submission checker's patterns for these benchmarks (tools/submission/submission_checker.py ACC_PATTERN)
# the round whose rules apply to each LLM by default (what `run` without --version uses)
RULES = {m: mlperf_rules.resolve(None, m).rules for m in spec.BENCHMARKS}
CHECKER = {
    "ROUGE1": r".*'rouge1':\s([\d.]+).*",
    "ROUGE2": r".*'rouge2':\s([\d.]+).*",
    "ROUGEL": r".*'rougeL':\s([\d.]+).*",
    "GEN_LEN": r".*'gen_len':\s([\d.]+).*",
    "TOKENS_PER_SAMPLE": r".*'tokens_per_sample':\s([\d.]+).*",
}


def test_identical_texts_score_100():
    assert rouge.scores(["The cat sat on the mat."], ["The cat sat on the mat."]) == {
        "rouge1": 100.0,
        "rouge2": 100.0,
        "rougeL": 100.0,
        "rougeLsum": 100.0,
    }


def test_disjoint_texts_score_0():
    assert set(rouge.scores(["alpha beta gamma"], ["delta epsilon zeta"]).values()) == {0.0}


def test_partial_overlap_known_values():
    # unigrams: 3 of 3 predicted in a 6-word reference -> P=1, R=1/2, F=2/3
    # bigrams: 2 of 2 predicted, 5 in the reference -> P=1, R=2/5, F=4/7
    s = rouge.scores(["the cat sat"], ["the cat sat on the mat"])
    assert s["rouge1"] == 66.6667
    assert s["rouge2"] == 57.1429
    assert s["rougeL"] == 66.6667


def test_rougeL_is_the_longest_common_subsequence():
    # LCS of "a b c d" and "a x c y d" is "a c d": P=3/4, R=3/5, F=2/3
    assert rouge.scores(["a b c d"], ["a x c y d"])["rougeL"] == 66.6667


def test_stemming_and_case_as_the_reference():
    # use_stemmer=True: "running" and "runs" both stem to "run"; tokens are lowercased
    assert rouge.scores(["Dogs Running"], ["dog runs"])["rouge1"] == 100.0


def test_mean_over_samples():
    s = rouge.scores(["a b", "c d"], ["a b", "x y"])
    assert s["rouge1"] == 50.0


def test_sentence_split_needs_no_download_and_feeds_rougeLsum():
    assert rouge.sentences_per_line("  One here. Two there! Three?  ") == "One here.\nTwo there!\nThree?"
    # rougeLsum scores sentence by sentence (union LCS); rougeL sees one sequence
    pred, ref = "b a. c", "a b. c"
    s = rouge.scores([pred], [ref])
    assert s["rouge1"] == 100.0
    assert s["rougeL"] == 66.6667
    assert s["rougeLsum"] == 66.6667


def test_length_mismatch_is_an_error():
    with pytest.raises(ValueError):
        rouge.scores(["a"], [])


class _Tokens:
    """A stand-in tokenizer: token id k decodes to word k, 2 is EOS (a special token)."""

    words = {0: "the", 1: "cat", 3: "sat", 4: "mat"}

    def batch_decode(self, rows, skip_special_tokens):
        assert skip_special_tokens
        return [" ".join(self.words[t] for t in row if t != 2) for row in rows]


def _log(path, entries):
    path.write_text(json.dumps([{"qsl_idx": i, "data": np.asarray(t, np.int64).tobytes().hex()} for i, t in entries]))
    return path


def test_llama2_report_matches_the_checker(tmp_path):
    log = _log(tmp_path / "acc.json", [(0, [0, 1, 2]), (1, [3, 4, 3, 2]), (0, [0, 1, 2])])  # qsl 0 logged twice
    tokens = accuracy.read_log(log, 2)
    result = accuracy.evaluate(spec.BENCHMARKS["llama2-70b-99"], tokens, ["the cat", "a dog"], _Tokens())
    assert result["gen_num"] == 2
    assert result["gen_tok_len"] == 7
    assert result["tokens_per_sample"] == 3.5
    assert result["gen_len"] == len("the cat") + len("sat mat sat")
    assert result["rouge1"] == 50.0
    line = accuracy.format_line(result)
    for name in ("ROUGE1", "ROUGE2", "ROUGEL", "TOKENS_PER_SAMPLE", "GEN_LEN"):
        assert re.match(CHECKER[name], line), name
    assert float(re.match(CHECKER["TOKENS_PER_SAMPLE"], line).group(1)) == 3.5
    problems = mlperf_rules.accuracy_check(RULES["llama2-70b-99"], "llama2-70b-99", line)
    assert [p.split("=")[0] for p in problems] == ["TOKENS_PER_SAMPLE"]  # ROUGE means of 50 clear the targets


def test_gptj_report_has_no_token_counts(tmp_path):
    tokens = accuracy.read_log(_log(tmp_path / "acc.json", [(0, [0, 1, 2])]), 1)
    result = accuracy.evaluate(spec.BENCHMARKS["gptj-99"], tokens, ["the cat"], _Tokens())
    assert result == {"rouge1": 100.0, "rouge2": 100.0, "rougeL": 100.0, "rougeLsum": 100.0, "gen_len": 7, "gen_num": 1}
    assert re.match(CHECKER["GEN_LEN"], accuracy.format_line(result)).group(1) == "7"


def test_targets_are_the_checkers():
    """The harness judges accuracy by the rulebook's bounds: the checker's numbers, per the model's round."""
    def bounds(model):
        return {m.key: (m.target, m.upper) for m in RULES[model].accuracy_targets(model)}

    assert bounds("llama2-70b-99.9")["ROUGE1"][0] == pytest.approx(44.4312 * 0.999)
    assert bounds("llama2-70b-99")["TOKENS_PER_SAMPLE"] == pytest.approx((294.45 * 0.9, 294.45 * 1.1))
    assert bounds("gptj-99")["ROUGEL"][0] == pytest.approx(29.9881 * 0.99)
    assert bounds("gptj-99")["GEN_LEN"][0] == pytest.approx(4016878 * 0.9)


def test_accuracy_log_dtype_is_the_rounds():
    """llama2-70b logs int32 token ids (what TEST06 and the reference script decode), gptj int64."""
    assert spec.BENCHMARKS["llama2-70b-99.9"].log_dtype(RULES["llama2-70b-99.9"]) == "int32"
    assert spec.BENCHMARKS["gptj-99"].log_dtype(RULES["gptj-99"]) == "int64"


def test_accuracy_log_beyond_the_dataset(tmp_path):
    with pytest.raises(UsageError, match="beyond"):
        accuracy.read_log(_log(tmp_path / "acc.json", [(5, [1])]), 2)
