"""`demo-data` for the LLM benchmarks: tiny Llama 2 and GPT-J checkpoints built from the real transformers
classes with seeded random weights (safetensors), tokenizers trained here on synthetic text and saved as the
real tokenizer classes, and small datasets in the official formats."""

import json
import random
import sys
from pathlib import Path

from . import spec

SYLLABLES = ("ka", "lo", "mi", "ne", "ru", "ta", "vo", "shi", "pe", "da", "go", "zu", "ri", "an", "el", "or")
LLAMA_SPECIALS = ("<unk>", "<s>", "</s>")
GPT2_EOS = "<|endoftext|>"
VOCAB = 384
TINY = {"hidden": 64, "layers": 2, "heads": 4, "intermediate": 128}
# The EOS row of the output layer is scaled up so that random-weight generations end after a few tokens, as
# trained ones do, instead of running to max_new_tokens; nothing else is tuned.
EOS_GAIN = 3.0
CNNDM_INSTRUCTION = "Summarize the following news article:"
ORIGINS = ("cot", "flan", "niv", "t0")


def _words(rng: random.Random, n: int) -> list[str]:
    return ["".join(rng.choice(SYLLABLES) for _ in range(rng.randint(1, 3))) for _ in range(n)]


def _sentence(rng: random.Random, words: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.choice(words) for _ in range(rng.randint(lo, hi))).capitalize() + "."


def _text(rng: random.Random, words: list[str], sentences: int) -> str:
    return " ".join(_sentence(rng, words, 4, 10) for _ in range(sentences))


def _corpus(rng: random.Random, words: list[str]) -> list[str]:
    return [_text(rng, words, 3) for _ in range(400)]


def _llama_tokenizer(corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import LlamaTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    tok.decoder = decoders.Metaspace()
    chars = sorted(set("".join(corpus)) | set("[]<>/:.,?!\n#'-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    tok.train_from_iterator(
        corpus, trainers.BpeTrainer(vocab_size=VOCAB, special_tokens=list(LLAMA_SPECIALS), initial_alphabet=chars)
    )
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)]
    )
    return LlamaTokenizerFast(tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>")


def _gpt2_tokenizer(corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2TokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(
        corpus,
        trainers.BpeTrainer(
            vocab_size=VOCAB, special_tokens=[GPT2_EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
        ),
    )
    return GPT2TokenizerFast(tokenizer_object=tok, bos_token=GPT2_EOS, eos_token=GPT2_EOS, unk_token=GPT2_EOS)


def _model(family: str, tokenizer, seed: int):
    import torch
    from transformers import GPTJConfig, GPTJForCausalLM, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    if family == "llama2":
        config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=TINY["hidden"],
            intermediate_size=TINY["intermediate"],
            num_hidden_layers=TINY["layers"],
            num_attention_heads=TINY["heads"],
            num_key_value_heads=TINY["heads"],
            max_position_embeddings=4096,
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=None,
        )
        model = LlamaForCausalLM(config)
    else:
        config = GPTJConfig(
            vocab_size=len(tokenizer),
            n_positions=2048,
            n_embd=TINY["hidden"],
            n_layer=TINY["layers"],
            n_head=TINY["heads"],
            rotary_dim=8,
            n_inner=TINY["intermediate"],
            bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
            tie_word_embeddings=False,
        )
        model = GPTJForCausalLM(config)
    with torch.no_grad():
        model.get_output_embeddings().weight[tokenizer.eos_token_id] *= EOS_GAIN
    return model


def _openorca(rng: random.Random, words: list[str], tokenizer, count: int):
    import pandas as pd

    rows = []
    for i in range(count):
        origin = ORIGINS[i % len(ORIGINS)]
        system = "" if i % 3 == 0 else _sentence(rng, words, 5, 9)
        question = _text(rng, words, rng.randint(1, 4)) + " " + _sentence(rng, words, 3, 6)[:-1] + "?"
        answer = _text(rng, words, rng.randint(1, 3))
        prompt = (
            f"<s>[INST] <<SYS>>\n{system}\n<</SYS>>\n\n{question} [/INST]"
            if system
            else f"<s>[INST] {question} [/INST]"
        )
        tok_input = tokenizer(prompt, add_special_tokens=False)["input_ids"]
        tok_output = tokenizer(answer)["input_ids"]
        rows.append(
            {
                "id": f"{origin}.{i}",
                "system_prompt": system,
                "question": question,
                "output": answer,
                "input": prompt,
                "tok_input": tok_input,
                "tok_output": tok_output,
                "origin": origin,
                "tok_input_length": len(tok_input),
                "tok_output_length": len(tok_output),
            }
        )
    return pd.DataFrame(rows)


def _cnndm(rng: random.Random, words: list[str], count: int) -> list[dict]:
    out = []
    for _ in range(count):
        article = _text(rng, words, rng.randint(3, 8))
        highlights = "\n".join(_sentence(rng, words, 4, 8) for _ in range(rng.randint(2, 3)))
        out.append({"instruction": CNNDM_INSTRUCTION, "input": article, "output": highlights})
    return out


def _write(family: str, out_dir: Path, count: int, seed: int) -> None:
    bench = next(b for b in spec.BENCHMARKS.values() if b.family == family)
    rng = random.Random(seed)
    words = _words(rng, 120)
    corpus = _corpus(rng, words)
    tokenizer = _llama_tokenizer(corpus) if family == "llama2" else _gpt2_tokenizer(corpus)
    model_dir = out_dir / "models" / bench.model_dir
    _model(family, tokenizer, seed).save_pretrained(model_dir, safe_serialization=True)
    tokenizer.save_pretrained(model_dir)
    print(f"wrote a tiny {family} checkpoint and tokenizer to {model_dir}")
    data_dir = out_dir / "datasets" / ("open-orca" if family == "llama2" else "cnn-dailymail")
    data_dir.mkdir(parents=True, exist_ok=True)
    if family == "llama2":
        _openorca(rng, words, tokenizer, count).to_pickle(data_dir / bench.dataset_file)
    else:
        (data_dir / bench.dataset_file).write_text(json.dumps(_cnndm(rng, words, count), indent=1) + "\n")
    print(f"wrote {count} samples to {data_dir / bench.dataset_file}")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the text synthetic: accuracy figures on this data are "
        "meaningless; use it to exercise the harness only",
        file=sys.stderr,
    )


def write_llama2(out_dir: Path, count: int, seed: int) -> None:
    _write("llama2", out_dir, count, seed)


def write_gptj(out_dir: Path, count: int, seed: int) -> None:
    _write("gptj", out_dir, count, seed)
