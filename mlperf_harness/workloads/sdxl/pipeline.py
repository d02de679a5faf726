"""Stable Diffusion XL base 1.0 with the reference's settings: EulerDiscreteScheduler, 20 steps, guidance 8.0,
the reference's negative prompt, the fixed latents, images returned as uint8 HWC RGB.

The model path is either the reference's layout (checkpoint_pipe/ and checkpoint_scheduler/scheduler/) or a
plain diffusers StableDiffusionXLPipeline directory (model_index.json); nothing is fetched from a hub.
"""

from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError
from mlperf_harness.frameworks import torch as framework

from .dataset import tokenize

STEPS = 20
GUIDANCE = 8.0
NEGATIVE_PROMPT = "normal quality, low quality, worst quality, low res, blurry, nsfw, nude"
DTYPES = ("fp32", "fp16", "bf16")
PIPELINE_PARTS = ("unet", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2", "scheduler")


def quiet() -> None:
    """No hub access and no progress bars or notices from the Hugging Face libraries (errors still show)."""
    import os

    for key, value in (
        ("HF_HUB_OFFLINE", "1"),
        ("HF_HUB_DISABLE_PROGRESS_BARS", "1"),
        ("TRANSFORMERS_VERBOSITY", "error"),
        ("DIFFUSERS_VERBOSITY", "error"),
    ):
        os.environ.setdefault(key, value)


def locate(model_path: Path) -> tuple[Path, Path]:
    """(pipeline dir, dir holding scheduler/) of a model path in either layout."""
    if not model_path.is_dir():
        raise UsageError(
            f"model path {model_path} is not a directory",
            "pass --model-path to the SDXL checkpoint (stable_diffusion_fp32/)",
        )
    pipe = model_path / "checkpoint_pipe" if (model_path / "checkpoint_pipe").is_dir() else model_path
    if not (pipe / "model_index.json").is_file():
        raise UsageError(
            f"{pipe} has no model_index.json",
            "pass a diffusers SDXL pipeline dir or the reference's stable_diffusion_fp32/",
        )
    missing = [p for p in PIPELINE_PARTS if not (pipe / p).is_dir()]
    if missing:
        raise UsageError(f"{pipe} lacks {', '.join(missing)}/", "use a complete diffusers SDXL pipeline")
    for name in ("tokenizer", "tokenizer_2"):
        if not any((pipe / name / f).is_file() for f in ("vocab.json", "tokenizer.json")):
            raise UsageError(
                f"tokenizer files missing in {pipe / name} (no vocab.json or tokenizer.json)",
                "copy the checkpoint's tokenizer folders completely",
            )
    sched = model_path / "checkpoint_scheduler"
    return pipe, sched if (sched / "scheduler").is_dir() else pipe


class Generator:
    """The loaded pipeline, with the negative prompt encoded once (it is the same for every sample)."""

    def __init__(self, model_path: Path, precision: str, device: str):
        import torch
        from diffusers import EulerDiscreteScheduler, StableDiffusionXLPipeline
        from diffusers.utils import logging as diffusers_logging

        diffusers_logging.disable_progress_bar()

        pipe_dir, sched_dir = locate(model_path)
        self.dtype = framework.dtype(precision, "sdxl", DTYPES)
        self.device = framework.device(device)
        scheduler = EulerDiscreteScheduler.from_pretrained(sched_dir, subfolder="scheduler", local_files_only=True)
        self.pipe = StableDiffusionXLPipeline.from_pretrained(
            pipe_dir, scheduler=scheduler, dtype=self.dtype, local_files_only=True, add_watermarker=False
        ).to(self.device)
        self.pipe.set_progress_bar_config(disable=True)
        self.tokenizers = (self.pipe.tokenizer, self.pipe.tokenizer_2)
        self.scale = self.pipe.vae_scale_factor
        with torch.no_grad():
            self.negative = self.encode([tokenize(t, [NEGATIVE_PROMPT]) for t in self.tokenizers])

    def encode(self, tokens):
        """(embeddings, pooled) of token ids for both encoders: penultimate hidden states side by side, and the
        second encoder's projected output, as SDXL conditions on."""
        import torch

        hidden, pooled = [], None
        for ids, encoder in zip(tokens, (self.pipe.text_encoder, self.pipe.text_encoder_2), strict=True):
            out = encoder(ids.to(self.device), output_hidden_states=True)
            pooled = out[0]
            hidden.append(out.hidden_states[-2])
        return torch.cat(hidden, dim=-1).to(self.dtype), pooled.to(self.dtype)

    def image_size(self, latents) -> int:
        return int(latents.shape[-1]) * self.scale

    def check_latents(self, latents) -> None:
        channels = self.pipe.unet.config.in_channels
        if latents.shape[1] != channels or latents.shape[2] != latents.shape[3]:
            raise UsageError(
                f"latents of shape {tuple(latents.shape)} do not fit this UNet ({channels} channels, square)",
                "use the latents.pt made for this model",
            )

    def generate(self, tokens, latents) -> np.ndarray:
        """(N, S, S, 3) uint8 images for a batch of token ids, every sample starting from the same latents."""
        import torch

        n = tokens[0].shape[0]
        with torch.no_grad():
            embeds, pooled = self.encode(tokens)
            neg, neg_pooled = self.negative
            size = self.image_size(latents)
            images = self.pipe(
                prompt_embeds=embeds,
                pooled_prompt_embeds=pooled,
                negative_prompt_embeds=neg.expand(n, -1, -1),
                negative_pooled_prompt_embeds=neg_pooled.expand(n, -1),
                guidance_scale=GUIDANCE,
                num_inference_steps=STEPS,
                latents=latents.expand(n, -1, -1, -1).clone(),
                height=size,
                width=size,
                output_type="pt",
            ).images
        return (images.float().permute(0, 2, 3, 1).cpu().numpy() * 255).round().clip(0, 255).astype(np.uint8)
