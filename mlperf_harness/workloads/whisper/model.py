"""Whisper large-v3 from a Hugging Face checkpoint folder, on PyTorch (transformers), decoded as the reference
decodes it: the prompt <|startoftranscript|><|en|><|transcribe|><|notimestamps|>, greedy (the reference's
vLLM SamplingParams: temperature 0, top_p 1), at most MAX_NEW_TOKENS tokens, no suppressed tokens (vLLM applies
none of generation_config's suppress lists), the audio zero-padded to 30 s and turned into 128 log-mel bins
by the checkpoint's own WhisperFeatureExtractor (preprocessor_config.json).

An engine is any class with `Engine(model_dir, device, precision, threads)` and `transcribe(waves) ->
[(text, generated token count)]` (the count through the end-of-text token, as vLLM counts a finished
request's token_ids); runner.ENGINES maps a backend to it, so the vllm backend the reference uses is one
more module and one more line there.

`check_model_dir` is standard library only: the host runs it before any container starts.
"""

import json
from pathlib import Path

from ...errors import UsageError

PROMPT = ("<|startoftranscript|>", "<|en|>", "<|transcribe|>", "<|notimestamps|>")
MAX_NEW_TOKENS = 200  # the reference's SamplingParams(max_tokens=200)
ARCHITECTURE = "WhisperForConditionalGeneration"
N_MELS = 128  # large-v3's num_mel_bins (earlier Whispers have 80)
_FIX = "pass --model-path to the whisper-large-v3 checkpoint folder (config.json, weights, tokenizer, preprocessor)"


def check_model_dir(path: Path, backend: str = "pytorch") -> None:
    """A Whisper large-v3-shaped checkpoint folder: config.json of a WhisperForConditionalGeneration with 128 mel
    bins, a tokenizer and the feature extractor's config (UsageError naming what is wrong)."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"model folder {path} does not exist", _FIX)
    config = path / "config.json"
    if not config.is_file():
        raise UsageError(f"{path} has no config.json", _FIX)
    try:
        cfg = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise UsageError(f"{config} is not valid JSON ({e})", _FIX) from None
    kind = cfg.get("model_type") if isinstance(cfg, dict) else None
    archs = cfg.get("architectures") or [] if isinstance(cfg, dict) else []
    if kind != "whisper" or (archs and ARCHITECTURE not in archs):
        found = f"model_type {kind!r}" + (f" ({', '.join(map(str, archs))})" if archs else "")
        raise UsageError(f"{config} describes {found}, not Whisper ({ARCHITECTURE})", _FIX)
    if cfg.get("num_mel_bins") != N_MELS:
        raise UsageError(f"{config} has num_mel_bins {cfg.get('num_mel_bins')}, not large-v3's {N_MELS}",
                         "use the whisper-large-v3 checkpoint (earlier Whispers take 80 mel bins)")
    for names, what in ((("tokenizer.json", "vocab.json"), "tokenizer (tokenizer.json or vocab.json)"),
                        (("preprocessor_config.json", "processor_config.json"),
                         "feature extractor config (preprocessor_config.json or processor_config.json)")):
        if not any((path / n).is_file() for n in names):
            raise UsageError(f"{path} has no {what}", _FIX)


class Transcriber:
    """The pytorch engine: WhisperForConditionalGeneration and its processor; transcribe() is called from one
    worker thread at a time."""

    def __init__(self, model_dir: Path, device: str, precision: str, threads: int):
        import torch
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        from ...frameworks import torch as framework

        check_model_dir(model_dir)
        self.torch = torch
        self.device = framework.device(device)
        self.dtype = framework.dtype(precision, "whisper")
        if device == "cpu":
            torch.set_num_threads(threads)
        try:
            self.processor = WhisperProcessor.from_pretrained(model_dir, local_files_only=True)
            self.model = WhisperForConditionalGeneration.from_pretrained(model_dir, local_files_only=True,
                                                                         dtype=self.dtype)
        except (OSError, ValueError) as e:
            raise UsageError(f"cannot load the Whisper checkpoint in {model_dir} ({e})", _FIX) from None
        self.model.to(self.device).eval()
        self.tokenizer = self.processor.tokenizer
        ids = self.tokenizer.convert_tokens_to_ids(list(PROMPT))
        unknown = [t for t, i in zip(PROMPT, ids, strict=True) if i is None or i == self.tokenizer.unk_token_id]
        if unknown:
            raise UsageError(f"the tokenizer in {model_dir} lacks {', '.join(unknown)}", _FIX)
        self.prompt = ids
        self.eot = self.tokenizer.convert_tokens_to_ids("<|endoftext|>")

    def features(self, waves: list):
        """(batch, 128, 3000) log-mel features: each wave zero-padded to 30 s."""
        out = self.processor.feature_extractor(waves, sampling_rate=16000, return_tensors="pt")
        return out.input_features.to(self.device, self.dtype)

    def decode_ids(self, features) -> list[list[int]]:
        """Greedy decoding with the KV cache: the generated ids of each row, through its end-of-text token."""
        from transformers.cache_utils import DynamicCache, EncoderDecoderCache

        torch, model = self.torch, self.model
        rows = features.shape[0]
        with torch.inference_mode():
            encoded = model.model.encoder(features).last_hidden_state
            step = torch.tensor([self.prompt] * rows, device=self.device)
            cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
            done = torch.zeros(rows, dtype=torch.bool, device=self.device)
            out = []
            for _ in range(MAX_NEW_TOKENS):
                hidden = model.model.decoder(input_ids=step, encoder_hidden_states=encoded, cache=cache,
                                             use_cache=True).last_hidden_state
                nxt = model.proj_out(hidden[:, -1]).argmax(-1)
                nxt = torch.where(done, torch.full_like(nxt, self.eot), nxt)
                out.append(nxt)
                done |= nxt == self.eot
                if bool(done.all()):
                    break
                step = nxt[:, None]
            tokens = torch.stack(out, 1).cpu().tolist()
        result = []
        for row in tokens:
            end = row.index(self.eot) + 1 if self.eot in row else len(row)
            result.append(row[:end])
        return result

    def transcribe(self, waves: list) -> list[tuple[str, int]]:
        ids = self.decode_ids(self.features(waves))
        texts = self.tokenizer.batch_decode(ids, skip_special_tokens=True)
        return [(t, len(i)) for t, i in zip(texts, ids, strict=True)]


def response(text: str):
    """The reference's response: the text lower-cased and stripped, as label ids (int64), characters outside
    the labels dropped."""
    import numpy as np

    from .dataset import encode

    return np.asarray(encode(text.lower().strip()), dtype=np.int64)
