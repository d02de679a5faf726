"""`demo-data --model whisper`: Whisper large-v3's architecture with seeded random weights as a Hugging Face
folder, a small byte-level BPE tokenizer and the processor made here (no download), synthetic 16 kHz audio in
the reference's dev-all-repack layout, and a manifest whose transcripts are the demo model's own (so the
accuracy path can meet the closed target end to end; a check of the pipeline, never of a model's quality).

The model is WhisperForConditionalGeneration with large-v3's shape ratios but tiny dimensions: 128 mel bins,
1500 encoder positions (30 s of audio), 448 decoder positions and 64-wide attention heads as large-v3, 4x
feed-forward, 2+2 layers of width 128 (large-v3: 32+32 of 1280). A random decoder emits a special token or
one byte 200 times; as rnnt's demo scales its weights, three edits make it speak: the word tokens' embeddings
(tied to the output projection) are scaled up so that words are chosen, the end-of-text token gets an
embedding of its own, twice a word's length (its row is the padding row of a fresh model), and the decoder
positions from WORDS_PER_SAMPLE on point at it, so every transcript ends after that many words.
"""

import json
import sys
from pathlib import Path

import numpy as np

from . import dataset, model

MODEL_DIR = "models/whisper-large-v3"
DATASET_DIR = "datasets/whisper"
WORDS_PER_SAMPLE = 8
WORD_GAIN = 20.0
EOT_POSITION_GAIN = 50.0
LONG_S = 31.0  # one sample over dataset.MAX_DURATION_S, which the manifest reader drops
DIMS = {"d_model": 128, "encoder_layers": 2, "decoder_layers": 2, "encoder_attention_heads": 2,
        "decoder_attention_heads": 2, "encoder_ffn_dim": 512, "decoder_ffn_dim": 512}
WORDS = ("the", "and", "of", "to", "in", "that", "he", "was", "his", "with", "mister", "said", "had", "you", "one",
         "upon", "quilter", "apostle", "middle", "classes", "glad", "welcome", "gospel", "manner", "seven", "three")
LANGUAGES = ("en", "zh", "de", "es", "ru", "ko", "fr", "ja")  # the first of large-v3's 100
SPECIALS = ("<|endoftext|>", "<|startoftranscript|>", *(f"<|{c}|>" for c in LANGUAGES), "<|translate|>",
            "<|transcribe|>", "<|startoflm|>", "<|startofprev|>", "<|nospeech|>", "<|notimestamps|>")


def _byte_chars() -> list[str]:
    """GPT-2's byte-level alphabet (what tokenizers' ByteLevel pre-tokenizer maps bytes 0..255 to)."""
    printable = {*range(33, 127), *range(161, 173), *range(174, 256)}
    extra = iter(range(256, 512))
    return [chr(b) if b in printable else chr(next(extra)) for b in range(256)]


def tokenizer():
    """A Whisper tokenizer: the 256 byte tokens, merges spelling WORDS with a leading space, Whisper's special
    tokens (the end of text first, as large-v3's <|endoftext|> follows its BPE vocabulary)."""
    from transformers import WhisperTokenizer

    chars = _byte_chars()
    vocab = {c: i for i, c in enumerate(chars)}
    merges = []
    space = chars[ord(" ")]
    for word in WORDS:
        piece = space
        for ch in word:
            if piece + ch not in vocab:
                vocab[piece + ch] = len(vocab)
                merges.append((piece, ch))
            piece += ch
    return WhisperTokenizer(vocab=vocab, merges=merges, additional_special_tokens=list(SPECIALS[1:]))


def build(tok, seed: int):
    """The demo WhisperForConditionalGeneration (seeded) with its generation config."""
    import torch
    from transformers import GenerationConfig, WhisperConfig, WhisperForConditionalGeneration

    ids = tok.convert_tokens_to_ids
    eot, sot = ids("<|endoftext|>"), ids("<|startoftranscript|>")
    cfg = WhisperConfig(vocab_size=len(tok), num_mel_bins=model.N_MELS, max_source_positions=1500,
                        max_target_positions=448, pad_token_id=eot - 1, bos_token_id=eot, eos_token_id=eot,
                        decoder_start_token_id=sot, begin_suppress_tokens=None, suppress_tokens=None, **DIMS)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = WhisperForConditionalGeneration(cfg).eval()
        direction = torch.randn(cfg.d_model)
    embed = net.model.decoder.embed_tokens.weight
    positions = net.model.decoder.embed_positions.weight
    words = [i for t, i in tok.get_vocab().items() if t[0] == _byte_chars()[ord(" ")] and t[1:] in WORDS]
    with torch.no_grad():
        embed[words] *= WORD_GAIN
        embed[eot] = direction / direction.norm() * 2 * embed[words].norm(dim=1).mean()
        positions[len(model.PROMPT) - 1 + WORDS_PER_SAMPLE:] += EOT_POSITION_GAIN * embed[eot]
    net.generation_config = GenerationConfig(
        decoder_start_token_id=sot, bos_token_id=eot, eos_token_id=eot, pad_token_id=eot - 1, max_length=448,
        is_multilingual=True, lang_to_id={f"<|{c}|>": ids(f"<|{c}|>") for c in LANGUAGES},
        task_to_id={"transcribe": ids("<|transcribe|>"), "translate": ids("<|translate|>")},
        no_timestamps_token_id=ids("<|notimestamps|>"), prev_sot_token_id=ids("<|startofprev|>"),
        return_timestamps=False)
    return net


def write_model(path: Path, seed: int) -> None:
    from transformers import WhisperFeatureExtractor, WhisperProcessor

    tok = tokenizer()
    path.mkdir(parents=True, exist_ok=True)
    build(tok, seed).save_pretrained(path)
    WhisperProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=model.N_MELS), tokenizer=tok
                     ).save_pretrained(path)


def waveform(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Speech-like sound, int16: voiced bursts (a few harmonics of a wandering pitch under a raised-cosine
    envelope) separated by short pauses, over a little noise."""
    n = int(seconds * dataset.SAMPLE_RATE)
    out = 0.003 * rng.standard_normal(n)
    pos = int(0.1 * dataset.SAMPLE_RATE)
    while pos < n:
        length = min(int(rng.uniform(0.12, 0.3) * dataset.SAMPLE_RATE), n - pos)
        t = np.arange(length) / dataset.SAMPLE_RATE
        phase = 2 * np.pi * np.cumsum(rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * 3 * t)))
        phase /= dataset.SAMPLE_RATE
        voiced = sum(rng.uniform(0.1, 1) / k * np.sin(k * phase) for k in range(1, 5))
        envelope = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(length) / max(length - 1, 1))
        out[pos : pos + length] += rng.uniform(0.1, 0.3) * envelope * voiced
        pos += length + int(rng.uniform(0.02, 0.15) * dataset.SAMPLE_RATE)
    return (np.clip(out, -1, 1) * 32767).astype(np.int16)


def _entry(fname: str, samples: int, transcript: str) -> dict:
    """One manifest entry as repackage_librispeech.py writes it."""
    duration = samples / dataset.SAMPLE_RATE
    return {"transcript": transcript,
            "files": [{"channels": 1, "sample_rate": float(dataset.SAMPLE_RATE), "bitdepth": 16,
                       "bitrate": 256000.0, "duration": duration, "num_samples": samples,
                       "encoding": "Signed Integer PCM", "silent": False, "fname": fname, "speed": 1}],
            "original_duration": duration, "original_num_samples": samples}


def write_dataset(root: Path, count: int, seed: int, model_dir: Path) -> list[dict]:
    """`count` samples of 2 to 8 s plus one of LONG_S s (second in the manifest), root/dev-all-repack/*.wav and
    root/dev-all-repack.json whose transcripts are the demo model's transcripts of the audio."""
    import soundfile

    rng = np.random.default_rng(seed)
    (root / dataset.WAV_DIR).mkdir(parents=True, exist_ok=True)
    names, waves = [], []
    for i in range(count + 1):
        seconds = LONG_S if i == 1 else float(rng.uniform(2.0, 8.0))
        speaker, chapter = 1272 + i % 3, 128104 + i % 2
        names.append(f"{dataset.WAV_DIR}/{speaker}-{chapter}_{i}.wav")
        waves.append(waveform(rng, seconds))
        soundfile.write(root / names[-1], waves[-1], dataset.SAMPLE_RATE, subtype="PCM_16")
    engine = model.Transcriber(model_dir, "cpu", "fp32", 1)
    floats = [w.astype(np.float32) / 32768 for w in waves]
    texts = [engine.transcribe([f])[0][0].lower().strip() for f in floats]
    entries = [_entry(n, w.size, t) for n, w, t in zip(names, waves, texts, strict=True)]
    (root / dataset.MANIFEST).write_text(json.dumps(entries, indent=2) + "\n")
    return entries


def write(out_dir: Path, count: int, seed: int) -> None:
    """Everything below out_dir: MODEL_DIR and DATASET_DIR."""
    write_model(out_dir / MODEL_DIR, seed)
    print(f"wrote {out_dir / MODEL_DIR}")
    write_dataset(out_dir / DATASET_DIR, count, seed, out_dir / MODEL_DIR)
    print(f"wrote {count} wav files (+1 over {dataset.MAX_DURATION_S:g} s) and {dataset.MANIFEST} "
          f"to {out_dir / DATASET_DIR}")
    print(f"NOTE: the model weights are RANDOM (seed {seed}), the audio synthetic and the transcripts the demo "
          "model's own: accuracy figures on this data are meaningless; it exists to exercise the pipeline end to "
          "end.", file=sys.stderr)
