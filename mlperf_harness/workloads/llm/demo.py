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


# -- llama3.1-8b: the Llama 3.1 architecture (grouped-query attention, llama3 RoPE scaling, untied embeddings) at
# toy size, head_dim 64 (vLLM's CPU attention kernels refuse smaller heads), and a byte-level BPE tokenizer with
# Llama 3's special tokens, trained here
LLAMA31_SPECIALS = ("<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>")
LLAMA31_TINY = {"hidden": 256, "layers": 2, "heads": 4, "kv_heads": 2, "intermediate": 512, "vocab": 512,
                "positions": 16384, "original_positions": 2048}
# <|eot_id|>'s output row points along the mean final hidden state, scaled so that its logit there is about the
# largest random logit: a random-weight generation then ends after a few to 128 tokens, as trained ones do,
# instead of always running to max_new_tokens (scaling the random row does not: its sign is random)
LLAMA31_EOS_LOGIT = 0.9
# download_cnndm.py's instruction_template["llama"]
LLAMA31_TEMPLATE = ("Summarize the following news article in 128 tokens. Please output the summary only, without any "
                    "other text.\n\nArticle:\n{input}\n\nSummary:")


def _llama31_tokenizer(corpus: list[str]):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=LLAMA31_TINY["vocab"], special_tokens=list(LLAMA31_SPECIALS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    bos = LLAMA31_SPECIALS[0]
    tok.post_processor = processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B",
                                                       special_tokens=[(bos, tok.token_to_id(bos))])
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=bos, eos_token="<|eot_id|>")


def _llama31_model(tokenizer, seed: int, corpus: list[str]):
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    t = LLAMA31_TINY
    eos = [tokenizer.convert_tokens_to_ids(s) for s in ("<|end_of_text|>", "<|eot_id|>")]
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=t["hidden"], intermediate_size=t["intermediate"],
        num_hidden_layers=t["layers"], num_attention_heads=t["heads"], num_key_value_heads=t["kv_heads"],
        head_dim=t["hidden"] // t["heads"], max_position_embeddings=t["positions"], rms_norm_eps=1e-5,
        rope_theta=500000.0, tie_word_embeddings=False, hidden_act="silu",
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                      "original_max_position_embeddings": t["original_positions"]},
        bos_token_id=tokenizer.bos_token_id, eos_token_id=eos, pad_token_id=None,
    )  # fmt: skip
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=eos,
                                               do_sample=False)
    model.eval()
    with torch.no_grad():
        hidden = torch.cat([model.model(torch.tensor([tokenizer.encode(t)])).last_hidden_state[0]
                            for t in corpus[:16]])
        mean = hidden.mean(0)
        model.get_output_embeddings().weight[eos[1]] = mean * (LLAMA31_EOS_LOGIT / mean.dot(mean))
    return model


def _greedy(model, prompts: list[list[int]], generation: dict, batch: int = 16) -> list[list[int]]:
    """The model's greedy continuation of each prompt (the reference's decoding), through its first EOS; prompts
    left-padded in batches."""
    import torch

    eos = model.generation_config.eos_token_id
    out = []
    with torch.inference_mode():
        for start in range(0, len(prompts), batch):
            chunk = prompts[start:start + batch]
            width = max(map(len, chunk))
            ids = torch.full((len(chunk), width), eos[0], dtype=torch.long)
            mask = torch.zeros((len(chunk), width), dtype=torch.long)
            for row, p in enumerate(chunk):
                ids[row, width - len(p):] = torch.tensor(p)
                mask[row, width - len(p):] = 1
            new = model.generate(ids, attention_mask=mask, do_sample=False, num_beams=1,
                                 max_new_tokens=generation["max_new_tokens"],
                                 min_new_tokens=generation["min_new_tokens"], eos_token_id=eos,
                                 pad_token_id=eos[0])[:, width:].tolist()
            for row in new:
                ends = [k for k, t in enumerate(row) if t in eos]
                out.append(row[:ends[0] + 1] if ends else row)
    return out


def write_llama31(out_dir: Path, count: int, seed: int) -> None:
    """A tiny Llama 3.1 checkpoint and datasets/cnn-dailymail-llama3/{cnn_eval.json, sample_cnn_eval_5000.json}
    (the same synthetic articles in the reference's layout) whose reference summaries are the checkpoint's own
    greedy summaries, so the accuracy path can meet the closed targets end to end (ROUGE near 100)."""
    bench = spec.BENCHMARKS["llama3.1-8b"]
    rng = random.Random(seed)
    words = _words(rng, 120)
    corpus = _corpus(rng, words) + [LLAMA31_TEMPLATE]
    tokenizer = _llama31_tokenizer(corpus)
    model = _llama31_model(tokenizer, seed, corpus)
    model_dir = out_dir / "models" / bench.model_dir
    model.save_pretrained(model_dir, safe_serialization=True)
    tokenizer.save_pretrained(model_dir)
    print(f"wrote a tiny Llama 3.1 checkpoint and tokenizer to {model_dir}")
    articles = [_text(rng, words, rng.randint(3, 8)) for _ in range(count)]
    prompts = [tokenizer.encode(LLAMA31_TEMPLATE.format(input=a)) for a in articles]
    summaries = tokenizer.batch_decode(_greedy(model, prompts, bench.generation), skip_special_tokens=True)
    records = [{"instruction": {"llama": LLAMA31_TEMPLATE}, "input": a, "tok_input": p, "output": s}
               for a, p, s in zip(articles, prompts, summaries, strict=True)]
    data_dir = out_dir / "datasets" / "cnn-dailymail-llama3"
    data_dir.mkdir(parents=True, exist_ok=True)
    for name in {bench.dataset_file, spec.BENCHMARKS["llama3.1-8b-edge"].dataset_file}:
        (data_dir / name).write_text(json.dumps(records, indent=1) + "\n")
        print(f"wrote {count} samples to {data_dir / name}")
    print(f"NOTE: the model weights are RANDOM (seed {seed}) and the text synthetic; the reference summaries are the "
          "model's own greedy outputs: accuracy figures on this data only check the harness", file=sys.stderr)
