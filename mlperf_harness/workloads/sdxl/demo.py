"""`demo-data --model sdxl`: a tiny SDXL pipeline from the real diffusers/transformers classes, and a tiny
COCO-2014 captions subset with everything scoring needs, in the reference's on-disk layout.

What is scaled down (the code paths are those of the real checkpoint):
- UNet2DConditionModel: 2 levels of 16/32 channels instead of 3 of 320/640/1280; same text_time conditioning.
- AutoencoderKL: 3 levels (scale factor 4) instead of 4 (scale factor 8), 8/16/16 channels.
- CLIPTextModel + CLIPTextModelWithProjection: 2 layers of width 32 instead of 12 of 768 and 32 of 1280.
- CLIPTokenizer: a byte-level BPE with a few merges learnt from the demo captions instead of 49408 tokens.
- latents.pt: (1, 4, 16, 16) instead of (1, 4, 128, 128): 64x64 images stand where 1024x1024 ones would.
- Scoring: a CLIPModel of width 32 on 32x32 crops; the FID Inception at 1/8 width (256 features, not 2048);
  val2014.npz made by that Inception from the demo's own reference images.
Weights are seeded random: accuracy figures on this data are meaningless.
"""

import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

from . import dataset

MODEL_DIR = "models/stable_diffusion_fp32"
DATASET_DIR = "datasets/coco2014"
LATENT_SIZE = 16
IMAGE_SIZE = 64
INCEPTION_DIV = 8
MERGES = 40
WORDS = (
    "a man woman dog cat red blue small large white black sitting standing riding on in of the with near "
    "street table bench kitchen bus train plate tree field water bike horse clock room"
).split()


def _bytes_to_unicode() -> dict[int, str]:
    """CLIP's reversible byte -> printable character map."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    extra = [b for b in range(256) if b not in keep]
    chars = keep + [256 + i for i in range(len(extra))]
    return dict(zip(keep + extra, map(chr, chars), strict=True))


def _learn_merges(captions: list[str], n: int) -> list[tuple[str, str]]:
    """The n most frequent symbol pairs, merged greedily (plain BPE training on the captions' words)."""
    words = Counter(w for c in captions for w in c.lower().replace(".", " ").split())
    split = {w: [*w[:-1], w[-1] + "</w>"] for w in words}
    merges = []
    for _ in range(n):
        pairs = Counter()
        for w, symbols in split.items():
            for pair in zip(symbols, symbols[1:], strict=False):
                pairs[pair] += words[w]
        if not pairs:
            break
        best = max(pairs, key=lambda p: (pairs[p], p))
        merges.append(best)
        for w, s in split.items():
            out, i = [], 0
            while i < len(s):
                if i + 1 < len(s) and (s[i], s[i + 1]) == best:
                    out.append(s[i] + s[i + 1])
                    i += 2
                else:
                    out.append(s[i])
                    i += 1
            split[w] = out
    return merges


def write_tokenizer(folder: Path, captions: list[str]) -> int:
    """vocab.json, merges.txt and the configs of a small CLIPTokenizer; returns the vocabulary size."""
    from transformers import CLIPTokenizer

    folder.mkdir(parents=True, exist_ok=True)
    chars = list(_bytes_to_unicode().values())
    merges = _learn_merges(captions, MERGES)
    tokens = chars + [c + "</w>" for c in chars] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(tokens))}
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
    (folder / "merges.txt").write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges))
    tok = CLIPTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt"), model_max_length=77)
    tok.save_pretrained(folder)
    return len(vocab)


def _captions(count: int, rng) -> list[str]:
    return [" ".join(["A", *rng.choice(WORDS, size=int(rng.integers(4, 9)))]).capitalize() + "." for _ in range(count)]


def _text_config(vocab: int, projection: bool):
    from transformers import CLIPTextConfig

    return CLIPTextConfig(
        vocab_size=vocab,
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=32 if projection else 512,
        hidden_act="gelu",
        bos_token_id=vocab - 2,
        eos_token_id=vocab - 1,
        pad_token_id=vocab - 1,
    )


def write_pipeline(root: Path, captions: list[str]) -> None:
    """root/checkpoint_pipe (a diffusers StableDiffusionXLPipeline) and root/checkpoint_scheduler/scheduler."""
    from diffusers import AutoencoderKL, EulerDiscreteScheduler, StableDiffusionXLPipeline, UNet2DConditionModel
    from transformers import CLIPTextModel, CLIPTextModelWithProjection, CLIPTokenizer

    tmp = root / "tokenizer-build"
    vocab = write_tokenizer(tmp, captions)
    tokenizer = CLIPTokenizer.from_pretrained(tmp)
    unet = UNet2DConditionModel(
        sample_size=LATENT_SIZE,
        in_channels=4,
        out_channels=4,
        block_out_channels=(16, 32),
        layers_per_block=1,
        down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
        attention_head_dim=(2, 4),
        use_linear_projection=True,
        addition_embed_type="text_time",
        addition_time_embed_dim=8,
        transformer_layers_per_block=(1, 1),
        projection_class_embeddings_input_dim=80,
        cross_attention_dim=64,
        norm_num_groups=8,
    )
    vae = AutoencoderKL(
        in_channels=3,
        out_channels=3,
        latent_channels=4,
        block_out_channels=(8, 16, 16),
        layers_per_block=1,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        norm_num_groups=8,
        sample_size=IMAGE_SIZE,
    )
    # The SDXL base 1.0 scheduler configuration.
    scheduler = EulerDiscreteScheduler(
        num_train_timesteps=1000,
        beta_start=0.00085,
        beta_end=0.012,
        beta_schedule="scaled_linear",
        prediction_type="epsilon",
        timestep_spacing="leading",
        steps_offset=1,
        interpolation_type="linear",
        use_karras_sigmas=False,
    )
    pipe = StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=CLIPTextModel(_text_config(vocab, False)),
        text_encoder_2=CLIPTextModelWithProjection(_text_config(vocab, True)),
        tokenizer=tokenizer,
        tokenizer_2=tokenizer,
        unet=unet,
        scheduler=scheduler,
        force_zeros_for_empty_prompt=True,
    )
    pipe.save_pretrained(root / "checkpoint_pipe")
    scheduler.save_pretrained(root / "checkpoint_scheduler" / "scheduler")
    for f in tmp.iterdir():
        f.unlink()
    tmp.rmdir()


def write_clip(folder: Path, captions: list[str]) -> None:
    from transformers import CLIPConfig, CLIPModel

    vocab = write_tokenizer(folder, captions)
    text = _text_config(vocab, True).to_dict()
    vision = {
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "image_size": 32,
        "patch_size": 8,
        "projection_dim": 32,
    }
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=32)).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(
        json.dumps(
            {
                "crop_size": {"height": 32, "width": 32},
                "do_center_crop": True,
                "do_normalize": True,
                "do_resize": True,
                "image_mean": [0.48145466, 0.4578275, 0.40821073],
                "image_std": [0.26862954, 0.26130258, 0.27577711],
                "resample": 3,
                "size": {"shortest_edge": 32},
            },
            indent=2,
        )
    )


def _reference_images(count: int, rng) -> list[np.ndarray]:
    """Smooth colour fields standing in for the COCO images."""
    yy, xx = np.mgrid[0:IMAGE_SIZE, 0:IMAGE_SIZE] / IMAGE_SIZE
    images = []
    for _ in range(count):
        a = rng.uniform(0, 1, (3, 3))
        img = np.stack([a[c, 0] * 255 * np.sin(3 * xx + a[c, 1] * 6) ** 2 + a[c, 2] * 120 * yy for c in range(3)], -1)
        images.append(np.clip(img, 0, 255).astype(np.uint8))
    return images


def write_dataset(root: Path, count: int, seed: int) -> list[str]:
    """The captions subset, images, latents, CLIP, Inception and statistics; returns the captions."""
    import torch
    from PIL import Image

    from . import inception
    from .accuracy import inception_features, statistics

    rng = np.random.default_rng(seed)
    captions = _captions(count, rng)
    (root / dataset.CAPTIONS).parent.mkdir(parents=True, exist_ok=True)
    rows = ["\t".join(dataset.COLUMNS)]
    images = _reference_images(count, rng)
    (root / dataset.IMAGES).mkdir(parents=True, exist_ok=True)
    for i, (caption, img) in enumerate(zip(captions, images, strict=True)):
        name = f"COCO_val2014_{i + 1:012d}.jpg"
        Image.fromarray(img).save(root / dataset.IMAGES / name, quality=95)
        rows.append(f"{i}\t{i + 1}\t{caption}\t{IMAGE_SIZE}\t{IMAGE_SIZE}\t{name}")
    (root / dataset.CAPTIONS).write_text("\n".join(rows) + "\n")
    torch.manual_seed(seed)
    (root / dataset.LATENTS).parent.mkdir(parents=True, exist_ok=True)
    torch.save(torch.randn(1, 4, LATENT_SIZE, LATENT_SIZE), root / dataset.LATENTS)
    write_clip(root / dataset.CLIP, captions)
    model = inception.FIDInception(INCEPTION_DIV)
    for m in model.modules():  # batch norm statistics of the demo images, so features keep the input's signal
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None
    with torch.no_grad():
        model.train()(torch.from_numpy(np.stack(images + images[:1])).permute(0, 3, 1, 2).float() / 255)
    (root / dataset.INCEPTION).parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), root / dataset.INCEPTION)
    mu, sigma = statistics(inception_features(images, inception.load(root / dataset.INCEPTION)))
    (root / dataset.STATISTICS).parent.mkdir(parents=True, exist_ok=True)
    np.savez(root / dataset.STATISTICS, mu=mu, sigma=sigma)
    return captions


def write(out_dir: Path, count: int, seed: int) -> None:
    from .pipeline import quiet

    quiet()
    import torch

    torch.manual_seed(seed)
    captions = write_dataset(out_dir / DATASET_DIR, count, seed)
    print(f"wrote {count} captions, images, latents, CLIP, Inception and FID statistics to {out_dir / DATASET_DIR}")
    torch.manual_seed(seed)
    write_pipeline(out_dir / MODEL_DIR, captions)
    print(f"wrote a tiny SDXL pipeline to {out_dir / MODEL_DIR}")
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the captions and images synthetic: accuracy figures "
        "(CLIP, FID) on this data are meaningless; it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
