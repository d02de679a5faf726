"""The COCO-2014 captions subset as the reference lays it out, plus the files scoring needs.

DATASET_DIR/captions/captions.tsv   id, image_id, caption, height, width, file_name (tab separated, a header)
DATASET_DIR/latents/latents.pt      the benchmark's fixed initial latents, a torch tensor (1, 4, 128, 128)
DATASET_DIR/statistics/val2014.npz  FID statistics (mu, sigma) of the reference images
DATASET_DIR/clip/                   HF-format CLIP ViT-bigG-14 for the CLIP score
DATASET_DIR/inception/pt_inception-2015-12-05-6726825d.pth   FID Inception weights
DATASET_DIR/validation/data/        the COCO images (only to make statistics; not read by runs)
"""

import csv
from pathlib import Path

from mlperf_harness.errors import UsageError

CAPTIONS = Path("captions/captions.tsv")
LATENTS = Path("latents/latents.pt")
STATISTICS = Path("statistics/val2014.npz")
CLIP = Path("clip")
INCEPTION = Path("inception/pt_inception-2015-12-05-6726825d.pth")
IMAGES = Path("validation/data")
COLUMNS = ("id", "image_id", "caption", "height", "width", "file_name")
REQUIRED_COLUMNS = ("id", "caption", "file_name")


def read_captions(path: Path, count: int | None = None) -> list[str]:
    """Captions in file order (qsl_idx order), the first `count` of them."""
    if not path.is_file():
        raise UsageError(f"{path} does not exist", "pass --dataset-dir with the COCO-2014 captions/captions.tsv")
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        missing = [c for c in REQUIRED_COLUMNS if c not in (reader.fieldnames or ())]
        if missing:
            raise UsageError(
                f"{path} lacks the column(s) {', '.join(missing)} (has {reader.fieldnames})",
                f"use the reference captions.tsv: {' '.join(COLUMNS)}",
            )
        captions = [row["caption"] or "" for row in reader]
    if not captions:
        raise UsageError(f"{path} holds no captions", "use the reference captions.tsv")
    if count is not None:
        if count > len(captions):
            raise UsageError(f"--count {count} exceeds the {len(captions)} captions", f"pass at most {len(captions)}")
        captions = captions[:count]
    return captions


def load_latents(path: Path, dtype, device: str):
    """The fixed latents file (1, C, H, W) as dtype on device."""
    import torch

    if not path.is_file():
        raise UsageError(f"latents file {path} does not exist", "put the benchmark's latents.pt there")
    try:
        latents = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same bad input
        raise UsageError(
            f"{path} is not a torch tensor file ({type(e).__name__})", "use the benchmark's latents.pt"
        ) from None
    if not isinstance(latents, torch.Tensor) or latents.dim() != 4 or latents.shape[0] != 1:
        shape = tuple(latents.shape) if isinstance(latents, torch.Tensor) else type(latents).__name__
        raise UsageError(f"{path} holds {shape}, not one (1, C, H, W) latent", "use the benchmark's latents.pt")
    return latents.to(dtype).to(device)


class Prompts:
    """The QSL: every caption tokenized for both text encoders up front; load/unload are LoadGen's callbacks."""

    def __init__(self, captions: list[str], tokenizers):
        self.captions = captions
        self.tokens = [tokenize(tok, captions) for tok in tokenizers]

    def __len__(self) -> int:
        return len(self.captions)

    def load(self, indices) -> None:
        """Everything is tokenized already."""

    def unload(self, indices) -> None:
        """Nothing to free."""

    def batch(self, indices: list[int]):
        return [ids[indices] for ids in self.tokens]


def tokenize(tokenizer, texts: list[str]):
    """input_ids (N, model_max_length), padded and truncated as the reference does."""
    return tokenizer(
        texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True, return_tensors="pt"
    ).input_ids
