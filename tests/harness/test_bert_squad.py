"""bert dataset: SQuAD v1.1 reading, feature windows and maps counted by hand, the feature cache, bad inputs."""

import json
import os

import numpy as np
import pytest

from mlperf_harness import workloads
from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.bert import squad

WORDS = [f"w{i}" for i in range(500)]
VOCAB = [*squad.SPECIALS, "?", "q", "river", "##s", *WORDS]


def _write(tmp_path, context: str, question: str, version: str = "1.1", vocab=VOCAB):
    qa = {"id": "x1", "question": question, "answers": [{"text": "w1", "answer_start": 0}]}
    data = {"version": version, "data": [{"title": "t", "paragraphs": [{"context": context, "qas": [qa]}]}]}
    (tmp_path / "dev-v1.1.json").write_text(json.dumps(data))
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return tmp_path / "dev-v1.1.json", tmp_path / "vocab.txt"


def test_split_words_like_the_reference():
    assert squad.split_words(" a  b\tc\nd\u202fe\u00a0f ") == ["a", "b", "c", "d", "e\u00a0f"]
    assert squad.split_words("") == []


def test_long_paragraph_windows_by_hand(tmp_path):
    dataset, vocab = _write(tmp_path, " ".join(WORDS), "q q?")
    s = squad.load(dataset, vocab, tmp_path / "cache")
    # question: q q ? = 3 tokens; room for document tokens: 384 - 3 - 3 = 378.
    # windows over 500 tokens: (0, 378), then start += min(378, 128) = 128: (128, 372) reaches 500.
    assert [(f.doc_span_index, f.length) for f in s.features] == [(0, 3 + 3 + 378), (1, 3 + 3 + 372)]
    f0, f1 = s.features
    assert f0.tokens[:6] == ["[CLS]", "q", "q", "?", "[SEP]", "w0"] and f0.tokens[-1] == "[SEP]"
    assert f1.tokens[5] == "w128" and f1.tokens[-2] == "w499"
    assert f0.unique_id == squad.FIRST_UNIQUE_ID and f1.unique_id == squad.FIRST_UNIQUE_ID + 1
    # maps: document token k of the window sits at position 5 + k
    assert f0.token_to_orig_map[5] == 0 and f0.token_to_orig_map[5 + 377] == 377 and len(f0.token_to_orig_map) == 378
    assert f1.token_to_orig_map[5] == 128 and f1.token_to_orig_map[5 + 371] == 499
    assert 4 not in f0.token_to_orig_map  # [SEP] after the question
    # word 200: window 0 min(200, 177) + 3.78 = 180.78; window 1 min(72, 299) + 3.72: window 0 has max context
    assert f0.token_is_max_context[5 + 200] and not f1.token_is_max_context[5 + 200 - 128]
    # word 300: window 0 min(300, 77); window 1 min(172, 199): window 1
    assert not f0.token_is_max_context[5 + 300] and f1.token_is_max_context[5 + 300 - 128]
    ids, mask, seg = f1.padded()
    assert ids.dtype == np.int64 and len(ids) == squad.MAX_SEQ_LENGTH
    assert list(ids[:3]) == [VOCAB.index("[CLS]"), VOCAB.index("q"), VOCAB.index("q")]
    assert ids[5] == VOCAB.index("w128") and ids[f1.length - 1] == VOCAB.index("[SEP]") and not ids[f1.length :].any()
    assert mask.sum() == f1.length and not mask[f1.length :].any()
    assert list(seg[:5]) == [0] * 5 and seg[5 : f1.length].all() and not seg[f1.length :].any()
    assert s.by_example == {0: [0, 1]}


def test_wordpieces_map_to_their_word_and_query_is_cut_to_64(tmp_path):
    dataset, vocab = _write(tmp_path, "w1 Rivers w2 unknownword", " ".join(["q"] * 70))
    (f,) = squad.load(dataset, vocab, tmp_path / "cache").features
    assert f.tokens[1 : 1 + 64] == ["q"] * 64 and f.tokens[65] == "[SEP]"
    doc = f.tokens[66:-1]
    assert doc == ["w1", "river", "##s", "w2", "[UNK]"]
    assert [f.token_to_orig_map[66 + i] for i in range(5)] == [0, 1, 1, 2, 3]


def test_cache_reused_then_rebuilt_when_vocab_or_dataset_changes(tmp_path, monkeypatch):
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    dataset, vocab = _write(tmp_path, "w1 w2 river", "q?")
    cache = tmp_path / "cache"
    first = squad.load(dataset, vocab, cache)
    assert first.built and first.cache_file.parent == cache
    again = squad.load(dataset, vocab, cache)
    assert not again.built and again.cache_file == first.cache_file
    assert again.features[0].tokens == first.features[0].tokens
    # same words, other ids: a changed vocabulary must not reuse the old features
    vocab.write_text("\n".join([*squad.SPECIALS, "extra", *VOCAB[5:]]) + "\n")
    changed = squad.load(dataset, vocab, cache)
    assert changed.built and changed.cache_file != first.cache_file
    assert list(changed.features[0].input_ids[1:3]) == [v + 1 for v in first.features[0].input_ids[1:3]]
    _write(tmp_path, "w3 w4", "q?", vocab=vocab.read_text().splitlines())
    assert squad.load(dataset, vocab, cache).built
    assert os.listdir(work) == []  # nothing in the working directory
    assert len(list(cache.glob("squad-features-*.pickle"))) == 3


def test_torn_cache_file_is_rebuilt(tmp_path):
    dataset, vocab = _write(tmp_path, "w1 w2", "q?")
    first = squad.load(dataset, vocab, tmp_path / "cache")
    first.cache_file.write_bytes(b"not a pickle")
    again = squad.load(dataset, vocab, tmp_path / "cache")
    assert again.built and again.features[0].tokens == first.features[0].tokens


def test_count_keeps_the_first_features(tmp_path):
    dataset, vocab = _write(tmp_path, " ".join(WORDS), "q?")
    assert len(squad.load(dataset, vocab, tmp_path / "c", count=1).features) == 1
    with pytest.raises(UsageError, match="--count 3 exceeds the 2 features"):
        squad.load(dataset, vocab, tmp_path / "c", count=3)


def _one_line(exc) -> str:
    text = str(exc.value)
    assert "\n" not in text
    return text


def test_other_squad_version_is_one_line_naming_the_file(tmp_path):
    dataset, vocab = _write(tmp_path, "w1", "q?", version="v2.0")
    with pytest.raises(UsageError) as e:
        squad.load(dataset, vocab, tmp_path / "cache")
    text = _one_line(e)
    assert str(dataset) in text and "'v2.0'" in text and "1.1" in text
    assert not (tmp_path / "cache").exists()


def test_vocab_not_matching_the_model_is_one_line_naming_the_file(tmp_path):
    _, vocab = _write(tmp_path, "w1", "q?")
    squad.check_vocab(vocab, len(VOCAB), tmp_path / "model.onnx")
    with pytest.raises(UsageError) as e:
        squad.check_vocab(vocab, 30522, tmp_path / "model.onnx")
    text = _one_line(e)
    assert str(vocab) in text and f"{len(VOCAB)} entries" in text and "30522" in text


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not valid JSON"),
        ('{"version": "1.1", "data": [{"title": "t"}]}', "lacks SQuAD field 'paragraphs'"),
        ('{"version": "1.1", "data": []}', "holds no questions"),
    ],
)
def test_broken_dataset_files(tmp_path, content, message):
    _, vocab = _write(tmp_path, "w1", "q?")
    (tmp_path / "dev-v1.1.json").write_text(content)
    with pytest.raises(UsageError) as e:
        squad.load(tmp_path / "dev-v1.1.json", vocab, tmp_path / "cache")
    assert message in _one_line(e) and str(tmp_path / "dev-v1.1.json") in str(e.value)


def test_missing_files_and_non_bert_vocab(tmp_path):
    dataset, vocab = _write(tmp_path, "w1", "q?")
    with pytest.raises(UsageError, match="does not exist"):
        squad.load(tmp_path / "none.json", vocab, tmp_path / "cache")
    with pytest.raises(UsageError, match="does not exist"):
        squad.load(dataset, tmp_path / "none.txt", tmp_path / "cache")
    vocab.write_text("a\nb\n")
    with pytest.raises(UsageError) as e:
        squad.load(dataset, vocab, tmp_path / "cache")
    assert "not a BERT WordPiece vocabulary" in _one_line(e) and str(vocab) in str(e.value)


def test_host_dataset_check_uses_the_standard_library_only(tmp_path):
    """What the host runs before any container (Workload.dataset_check): a SQuAD file of another version is
    one UsageError naming it, and nothing heavy is imported to find out."""
    import subprocess
    import sys

    (tmp_path / squad.DATASET).write_text(json.dumps({"version": "v2.0", "data": []}))
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from mlperf_harness import workloads\n"
        "from mlperf_harness.errors import UsageError\n"
        "try:\n"
        f"    workloads.get('bert-99.9').check_dataset(Path({str(tmp_path)!r}))\n"
        "except UsageError as e:\n"
        "    print(e)\n"
        "print(sorted(m for m in ('numpy', 'tokenizers', 'torch', 'onnxruntime') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    error, imported = proc.stdout.strip().splitlines()
    assert str(tmp_path / squad.DATASET) in error and "SQuAD version 'v2.0', not '1.1'" in error
    assert imported == "[]"
    (tmp_path / squad.DATASET).write_text(json.dumps({"version": "1.1", "data": []}))
    workloads.get("bert-99").check_dataset(tmp_path)  # a v1.1 file passes the host's check
