"""`demo-data --model bert-99`: a small BERT (2 layers, hidden 64) with seeded random weights, built by the
same code that builds BERT-Large and saved in the reference's formats, a tiny WordPiece vocabulary and a
handful of SQuAD v1.1 questions over synthetic paragraphs (the first long enough to need two windows).

DIR/models/bert/model.onnx         exported with the reference's input and output names, batch and seq dynamic
DIR/models/bert/model.pytorch      torch.save'd BertForQuestionAnswering state_dict
DIR/models/bert/bert_config.json   the small config (the reference's keys)
DIR/datasets/squad/dev-v1.1.json   version "1.1"
DIR/datasets/squad/vocab.txt       [PAD] [UNK] [CLS] [SEP] [MASK], punctuation, the words (some as word + ##piece)
"""

import json
import random
import sys
from pathlib import Path

from . import model
from .squad import DATASET, SPECIALS, VOCAB

MODEL_DIR = Path("models/bert")
DATASET_DIR = Path("datasets/squad")
TINY = {"hidden_size": 64, "num_hidden_layers": 2, "num_attention_heads": 1, "intermediate_size": 256}
NAMES = ("anna", "boris", "clara", "david", "elena", "felix", "greta", "hugo", "irene", "jonas")
TOWNS = ("marden", "velby", "ostrava", "kelton", "brisk", "lundby", "tarvik", "solvay")
THINGS = ("river", "bridge", "tower", "market", "garden", "harbour", "library", "mill")
FILLER = ("old", "small", "green", "quiet", "busy", "famous", "long", "stone", "wooden", "new", "near", "by")
PIECES = {"rivers": ("river", "##s"), "bridges": ("bridge", "##s"), "towers": ("tower", "##s")}
PUNCT = (".", ",", "?", "'")


def _sentence(rng: random.Random, town: str) -> str:
    return (
        f"The {rng.choice(FILLER)} {rng.choice(THINGS)} of {town.capitalize()} was built by "
        f"{rng.choice(NAMES).capitalize()} in {rng.randint(1500, 1999)}."
    )


def _paragraphs(rng: random.Random, count: int) -> list[dict]:
    paragraphs = []
    for i in range(count):
        town, thing, name = rng.choice(TOWNS), rng.choice(THINGS), rng.choice(NAMES)
        year = str(rng.randint(1500, 1999))
        fact = f"The {thing} of {town.capitalize()} was opened by {name.capitalize()} in {year}."
        before = [_sentence(rng, town) for _ in range(28 if i == 0 else rng.randint(1, 3))]
        after = [_sentence(rng, town) for _ in range(rng.randint(1, 3))]
        extra = f"Its {rng.choice(list(PIECES))} are {rng.choice(FILLER)}."
        context = " ".join([*before, fact, extra, *after])
        start = context.index(fact)
        if i % 2:
            question, text = f"Who opened the {thing} of {town.capitalize()}?", name.capitalize()
        else:
            question, text = f"In which year was the {thing} of {town.capitalize()} opened?", year
        answer_start = context.index(text, start)
        qa = {"id": f"demo{i:04d}", "question": question, "answers": [{"answer_start": answer_start, "text": text}]}
        paragraphs.append({"context": context, "qas": [qa]})
    return paragraphs


def vocabulary(texts: list[str]) -> list[str]:
    """Specials, punctuation, digits, then every lower-cased word of texts (PIECES split into word + ##piece)."""
    words: set[str] = set()
    for text in texts:
        for word in text.lower().replace("?", " ").replace(".", " ").replace(",", " ").replace("'", " ").split():
            if word in PIECES:
                words.update(PIECES[word])
            elif not word.isdigit():
                words.add(word)
    digits = [str(d) for d in range(10)] + [f"##{d}" for d in range(10)]
    return [*SPECIALS, *PUNCT, *digits, *sorted(words)]


def _export_onnx(net, path: Path) -> None:
    import torch

    class Wrapped(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, input_mask, segment_ids):
            out = self.inner(input_ids=input_ids, attention_mask=input_mask, token_type_ids=segment_ids)
            return out.start_logits, out.end_logits

    dummy = torch.ones((1, 16), dtype=torch.int64)
    outputs = ["output_start_logits", "output_end_logits"]
    axes = {name: {0: "batch_size", 1: "seq_len"} for name in (*model.ONNX_INPUTS, *outputs)}
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Wrapped(net).eval(),
            (dummy, dummy, dummy),
            str(path),
            input_names=list(model.ONNX_INPUTS),
            output_names=outputs,
            opset_version=14,
            dynamic_axes=axes,
            dynamo=False,
        )


def write(out_dir: Path, count: int, seed: int) -> None:
    import torch

    rng = random.Random(seed)
    paragraphs = _paragraphs(rng, count)
    data = {"version": "1.1", "data": [{"title": "Demo_towns", "paragraphs": paragraphs}]}
    texts = [p["context"] for p in paragraphs] + [qa["question"] for p in paragraphs for qa in p["qas"]]
    vocab = vocabulary(texts)
    ds = out_dir / DATASET_DIR
    ds.mkdir(parents=True, exist_ok=True)
    (ds / DATASET).write_text(json.dumps(data, indent=1) + "\n")
    (ds / VOCAB).write_text("\n".join(vocab) + "\n")
    config = {**model.REFERENCE_CONFIG, **TINY, "vocab_size": len(vocab)}
    md = out_dir / MODEL_DIR
    md.mkdir(parents=True, exist_ok=True)
    (md / model.CONFIG_FILE).write_text(json.dumps(config, indent=2) + "\n")
    torch.manual_seed(seed)
    net = model.build_torch_model(config).eval()
    torch.save(net.state_dict(), md / "model.pytorch")
    _export_onnx(net, md / "model.onnx")
    print(f"wrote {md / 'model.onnx'}, {md / 'model.pytorch'} and {md / model.CONFIG_FILE}")
    print(f"wrote {count} questions to {ds / DATASET} and {len(vocab)} tokens to {ds / VOCAB}")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the questions synthetic: accuracy figures on this "
        "data are meaningless; it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
