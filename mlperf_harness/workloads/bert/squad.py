"""SQuAD v1.1 as users have it (dev-v1.1.json and the model's WordPiece vocab.txt) turned into the
reference's input features: one feature per window of a paragraph, [CLS] question [SEP] window [SEP],
max_seq_length 384, doc_stride 128, max_query_length 64, lower-cased WordPiece.

Features are cached under the writable cache dir, keyed by the content of both input files and the three
lengths, so a changed dataset or vocabulary builds them afresh; nothing is written in the working directory.
The QSL is over features, in the reference's order (question by question, window by window).
"""

import hashlib
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ...cachefile import write_atomic
from ...errors import UsageError
from .layout import DATASET, VOCAB, read_squad

MAX_SEQ_LENGTH = 384
DOC_STRIDE = 128
MAX_QUERY_LENGTH = 64
FIRST_UNIQUE_ID = 1000000000  # the reference numbers features from here
CACHE_FORMAT = 2
SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")


@dataclass
class Example:
    """One question: its id, text, the paragraph split on whitespace, and the accepted answers."""

    qas_id: str
    question: str
    doc_tokens: list[str]
    answers: list[str]


@dataclass
class Feature:
    """One model input. input_ids/segment_ids hold only the real tokens (input_mask is 1 over them); the batcher
    pads. The window's document tokens sit at positions doc_offset.. of `tokens`: orig_index[k] is the paragraph
    word of position doc_offset + k, max_context[k] whether this window gives that token the most context."""

    unique_id: int
    example_index: int
    doc_span_index: int
    tokens: list[str]
    doc_offset: int
    orig_index: np.ndarray
    max_context: np.ndarray
    input_ids: np.ndarray
    segment_ids: np.ndarray

    @property
    def length(self) -> int:
        return len(self.tokens)

    @property
    def token_to_orig_map(self) -> dict[int, int]:
        """The reference's map: position in tokens -> paragraph word, for document positions only."""
        return {self.doc_offset + k: int(w) for k, w in enumerate(self.orig_index)}

    @property
    def token_is_max_context(self) -> dict[int, bool]:
        return {self.doc_offset + k: bool(m) for k, m in enumerate(self.max_context)}

    def padded(self, seq_len: int = MAX_SEQ_LENGTH) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(input_ids, input_mask, segment_ids), int64, zero-padded to seq_len as the reference does."""
        ids, mask, seg = (np.zeros(seq_len, np.int64) for _ in range(3))
        n = self.length
        ids[:n], mask[:n], seg[:n] = self.input_ids, 1, self.segment_ids
        return ids, mask, seg


@dataclass
class Squad:
    examples: list[Example]
    features: list[Feature]
    cache_file: Path | None = None
    built: bool = False
    by_example: dict[int, list[int]] = field(default_factory=dict)

    def __post_init__(self):
        for i, f in enumerate(self.features):
            self.by_example.setdefault(f.example_index, []).append(i)

    def __len__(self) -> int:
        return len(self.features)

    def load(self, indices) -> None:
        """LoadGen's QSL callback: every feature is in memory already."""

    def unload(self, indices) -> None:
        """Nothing to free."""

    def batch(self, indices) -> list[Feature]:
        """The features of these QSL indices, for model.*.run()."""
        features = self.features
        return [features[i] for i in indices]


_WHITESPACE = re.compile("[ \t\r\n\u202f]+")


def split_words(text: str) -> list[str]:
    """The paragraph split into words on whitespace (space, tab, CR, LF, U+202F only), as the reference's
    read_squad_examples does."""
    return [w for w in _WHITESPACE.split(text) if w]


def read_examples(path: Path) -> list[Example]:
    """Every question of a SQuAD v1.1 file, in file order."""
    data = read_squad(path)
    examples = []
    try:
        for article in data["data"]:
            for paragraph in article["paragraphs"]:
                words = split_words(paragraph["context"])
                for qa in paragraph["qas"]:
                    answers = [a["text"] for a in qa["answers"]]
                    examples.append(Example(str(qa["id"]), qa["question"], words, answers))
    except (KeyError, TypeError) as e:
        raise UsageError(f"{path} lacks SQuAD field {e}", f"use the SQuAD v1.1 {DATASET}") from None
    if not examples:
        raise UsageError(f"{path} holds no questions", f"use the SQuAD v1.1 {DATASET}")
    return examples


def read_vocab(path: Path) -> list[str]:
    if not path.is_file():
        raise UsageError(f"{path} does not exist", f"pass the model's WordPiece {VOCAB}")
    words = path.read_text(encoding="utf-8").splitlines()
    missing = [s for s in SPECIALS[:4] if s not in words]
    if missing:
        raise UsageError(
            f"{path} lacks {', '.join(missing)}: not a BERT WordPiece vocabulary", f"use the model's {VOCAB}"
        )
    return words


def check_vocab(path: Path, model_vocab_size: int, model_path: Path) -> None:
    """A vocabulary the model was not trained with gives wrong ids (or out-of-range ones): refuse it."""
    size = len(read_vocab(path))
    if size != model_vocab_size:
        raise UsageError(
            f"{path} has {size} entries but {model_path} embeds {model_vocab_size} tokens",
            f"use the {VOCAB} that belongs to the model",
        )


class WordPiece:
    """The reference's tokenizer (lower-casing basic tokenizer + WordPiece) from vocab.txt, on `tokenizers`."""

    def __init__(self, vocab: Path):
        from tokenizers import BertWordPieceTokenizer

        words = read_vocab(vocab)
        self.ids = {w: i for i, w in enumerate(words)}
        self.tok = BertWordPieceTokenizer(
            str(vocab), lowercase=True, strip_accents=None, clean_text=True, handle_chinese_chars=True
        )

    def tokenize(self, text: str) -> list[str]:
        return self.tok.encode(text, add_special_tokens=False).tokens

    def tokenize_words(self, words: list[str]) -> list[list[str]]:
        if not words:
            return []
        return [e.tokens for e in self.tok.encode_batch(words, add_special_tokens=False)]

    def convert(self, tokens: list[str]) -> list[int]:
        unk = self.ids["[UNK]"]
        return [self.ids.get(t, unk) for t in tokens]


def _max_context(spans: list[tuple[int, int]], span_index: int, position: int) -> bool:
    """Whether span span_index gives `position` the most context (min of left and right, ties to the longer)."""
    best, best_index = None, None
    for i, (start, length) in enumerate(spans):
        end = start + length - 1
        if position < start or position > end:
            continue
        score = min(position - start, end - position) + 0.01 * length
        if best is None or score > best:
            best, best_index = score, i
    return best_index == span_index


def doc_spans(n_tokens: int, max_tokens: int, stride: int) -> list[tuple[int, int]]:
    """(start, length) windows over n_tokens document tokens, each at most max_tokens long."""
    spans = []
    start = 0
    while start < n_tokens:
        length = min(n_tokens - start, max_tokens)
        spans.append((start, length))
        if start + length == n_tokens:
            break
        start += min(length, stride)
    return spans


def make_features(
    examples: list[Example],
    tokenizer: WordPiece,
    max_seq_length: int = MAX_SEQ_LENGTH,
    doc_stride: int = DOC_STRIDE,
    max_query_length: int = MAX_QUERY_LENGTH,
) -> list[Feature]:
    features = []
    unique_id = FIRST_UNIQUE_ID
    words_cache: dict[int, tuple[list[str], list[int]]] = {}
    for example_index, ex in enumerate(examples):
        query = tokenizer.tokenize(ex.question)[:max_query_length]
        key = id(ex.doc_tokens)  # the questions of one paragraph share its word list
        if key not in words_cache:
            doc, tok_to_orig = [], []
            for i, pieces in enumerate(tokenizer.tokenize_words(ex.doc_tokens)):
                doc.extend(pieces)
                tok_to_orig.extend([i] * len(pieces))
            words_cache = {key: (doc, tok_to_orig)}
        doc, tok_to_orig = words_cache[key]
        spans = doc_spans(len(doc), max_seq_length - len(query) - 3, doc_stride)
        for span_index, (start, length) in enumerate(spans):
            tokens = ["[CLS]", *query, "[SEP]", *doc[start : start + length], "[SEP]"]
            offset = len(query) + 2
            max_ctx = np.fromiter((_max_context(spans, span_index, start + i) for i in range(length)), bool, length)
            segment = np.zeros(len(tokens), np.int64)
            segment[offset:] = 1
            features.append(
                Feature(
                    unique_id,
                    example_index,
                    span_index,
                    tokens,
                    offset,
                    np.asarray(tok_to_orig[start : start + length], np.int32),
                    max_ctx,
                    np.asarray(tokenizer.convert(tokens), np.int64),
                    segment,
                )
            )
            unique_id += 1
    return features


def _digest(*paths: Path) -> str:
    h = hashlib.sha256(f"squad-features/{CACHE_FORMAT}/{MAX_SEQ_LENGTH}/{DOC_STRIDE}/{MAX_QUERY_LENGTH}".encode())
    for p in paths:
        h.update(b"\0")
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:24]


def load(dataset: Path, vocab: Path, cache_dir: Path, count: int | None = None) -> Squad:
    """Examples and features of dataset tokenized with vocab, from the cache when both files are unchanged.
    count keeps the first `count` features (the QSL's total count)."""
    examples = read_examples(dataset)
    read_vocab(vocab)
    cache = Path(cache_dir) / f"squad-features-{_digest(dataset, vocab)}.pickle"
    built = False
    features = None
    if cache.is_file():
        try:
            with cache.open("rb") as f:
                features = pickle.load(f)
        except Exception:  # noqa: BLE001 - a torn or stale cache file is rebuilt
            features = None
    if features is None:
        features = make_features(examples, WordPiece(vocab))
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(cache, lambda f: pickle.dump(features, f, protocol=pickle.HIGHEST_PROTOCOL))
        built = True
    if count is not None:
        if count > len(features):
            raise UsageError(
                f"--count {count} exceeds the {len(features)} features of {dataset}", f"pass at most {len(features)}"
            )
        features = features[:count]
    return Squad(examples, features, cache, built)
