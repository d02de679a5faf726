"""Model and tokenizer from a Hugging Face checkpoint directory, and batched generation with the reference's
settings: prompts left-padded to the longest in the batch, the first generated token handed to a callback as
soon as the model produces it (greedy decoding only: transformers streams no beam search)."""

from collections.abc import Callable
from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.frameworks import torch as framework


def check_model_dir(path: Path) -> None:
    """A transformers checkpoint directory: config.json and a tokenizer next to the weights."""
    if not path.is_dir():
        raise UsageError(f"model directory {path} does not exist", "pass --model-path to the Hugging Face checkpoint")
    if not (path / "config.json").is_file():
        raise UsageError(f"{path} has no config.json", "pass --model-path to a Hugging Face checkpoint directory")
    if not any((path / f).is_file() for f in ("tokenizer.json", "tokenizer.model", "vocab.json")):
        raise UsageError(
            f"{path} has no tokenizer (tokenizer.json, tokenizer.model or vocab.json)",
            "put the model's tokenizer files next to its weights",
        )


def load_tokenizer(model_dir: Path):
    """The checkpoint's tokenizer, left-padding (as the references configure it)."""
    from transformers import AutoTokenizer

    check_model_dir(model_dir)
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir, local_files_only=True, padding_side="left")
    except (OSError, ValueError) as e:
        raise UsageError(f"cannot load the tokenizer in {model_dir} ({e})", "use the model's own tokenizer") from None
    if tokenizer.eos_token_id is None:
        raise UsageError(f"the tokenizer in {model_dir} defines no EOS token", "use the model's own tokenizer")
    return tokenizer


class Generator:
    """One causal LM and its tokenizer; generate() is called from one worker thread at a time."""

    def __init__(self, model_dir: Path, tokenizer, device: str, precision: str, threads: int, generation: dict):
        import torch
        from transformers import AutoModelForCausalLM

        dtype = framework.dtype(precision, "the LLM benchmarks")
        self.device = framework.device(device)
        if device == "cpu":
            torch.set_num_threads(threads)
        self.torch = torch
        self.tokenizer = tokenizer
        self.eos_id = tokenizer.eos_token_id
        # as the references: pad with EOS when the tokenizer has no pad token
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id
        self.model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True, dtype=dtype).to(self.device)
        self.model.eval()
        self.generation = dict(generation)
        self.streams = generation.get("num_beams", 1) == 1

    def generate(self, prompts: list[list[int]], on_first: Callable[[list[int]], None] | None = None) -> list:
        """Generated token ids per prompt (int64 arrays, through the first EOS). on_first gets the first
        generated token of every prompt as soon as they exist."""
        torch = self.torch
        width = max(map(len, prompts))
        ids = torch.full((len(prompts), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(prompts), width), dtype=torch.long)
        for row, p in enumerate(prompts):
            ids[row, width - len(p) :] = torch.tensor(p, dtype=torch.long)
            mask[row, width - len(p) :] = 1
        streamer = _FirstTokens(on_first) if on_first is not None and self.streams else None
        with torch.inference_mode():
            out = self.model.generate(
                input_ids=ids.to(self.device),
                attention_mask=mask.to(self.device),
                pad_token_id=self.pad_id,
                streamer=streamer,
                **self.generation,
            )
        new = out[:, width:].cpu().numpy().astype(np.int64)
        if on_first is not None and streamer is None:
            on_first([int(t) for t in new[:, 0]])
        return [self._through_eos(row) for row in new]

    def _through_eos(self, row: np.ndarray) -> np.ndarray:
        ends = np.flatnonzero(row == self.eos_id)
        return row[: ends[0] + 1].copy() if ends.size else row.copy()


class _FirstTokens:
    """A transformers streamer that passes on the first generated tokens only (the first put() is the prompt)."""

    def __init__(self, callback: Callable[[list[int]], None]):
        self.callback = callback
        self.puts = 0

    def put(self, value) -> None:
        self.puts += 1
        if self.puts == 2:
            self.callback([int(t) for t in value.reshape(-1).tolist()])

    def end(self) -> None:
        """Nothing is buffered."""
