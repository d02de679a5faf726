"""CLIP score as the reference computes it: 100 x cosine of the image and caption embeddings.

The model is a Hugging Face CLIPModel directory (the reference's ViT-bigG-14 laion2B-39B-b160k in HF format)
with its tokenizer. Images are preprocessed as open_clip does for it: bicubic resize of the short side, center
crop to the vision tower's size, scale to [0, 1], normalize with the mean/std of preprocessor_config.json.
"""

import json
from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError

OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)


class ClipScorer:
    def __init__(self, model_dir: Path, device: str = "cpu"):
        import torch
        from transformers import CLIPModel, CLIPTokenizer

        if not (model_dir / "config.json").is_file():
            raise UsageError(
                f"no CLIP model at {model_dir} (config.json missing)",
                "put the HF-format CLIP ViT-bigG-14 (config, weights, tokenizer) there",
            )
        try:
            self.tokenizer = CLIPTokenizer.from_pretrained(model_dir, local_files_only=True)
        except (OSError, ValueError, TypeError) as e:
            raise UsageError(
                f"no CLIP tokenizer in {model_dir}: {str(e).splitlines()[0]}",
                "add vocab.json and merges.txt of the CLIP model",
            ) from None
        self.model = CLIPModel.from_pretrained(model_dir, local_files_only=True).eval().to(device)
        self.device = device
        self.size = self.model.config.vision_config.image_size
        mean, std = OPENAI_MEAN, OPENAI_STD
        pre = model_dir / "preprocessor_config.json"
        if pre.is_file():
            cfg = json.loads(pre.read_text())
            mean, std = cfg.get("image_mean", mean), cfg.get("image_std", std)
        self.mean = torch.tensor(mean).view(3, 1, 1)
        self.std = torch.tensor(std).view(3, 1, 1)

    def pixels(self, image: np.ndarray):
        """uint8 HWC RGB -> normalized CHW float tensor at the vision tower's size."""
        import torch
        from PIL import Image

        img = Image.fromarray(image).convert("RGB")
        w, h = img.size
        scale = self.size / min(w, h)
        img = img.resize((max(self.size, round(w * scale)), max(self.size, round(h * scale))), Image.BICUBIC)
        w, h = img.size
        left, top = (w - self.size) // 2, (h - self.size) // 2
        img = img.crop((left, top, left + self.size, top + self.size))
        x = torch.from_numpy(np.asarray(img, np.float32) / 255.0).permute(2, 0, 1)
        return (x - self.mean) / self.std

    @staticmethod
    def _embedding(out):
        """get_*_features give a tensor, or (transformers 5) an output whose pooler_output is the projection."""
        return out if hasattr(out, "norm") else out.pooler_output

    def score(self, caption: str, image: np.ndarray) -> float:
        """100 x cosine similarity of one caption and one image."""
        import torch

        with torch.no_grad():
            return self._score(caption, image)

    def _score(self, caption: str, image: np.ndarray) -> float:
        ids = self.tokenizer(
            [caption],
            padding="max_length",
            truncation=True,
            max_length=min(self.tokenizer.model_max_length, 77),
            return_tensors="pt",
        )
        text = self._embedding(self.model.get_text_features(input_ids=ids.input_ids.to(self.device))).float()
        pix = self.pixels(image).unsqueeze(0).to(self.device)
        img = self._embedding(self.model.get_image_features(pixel_values=pix)).float()
        text = text / text.norm(dim=-1, keepdim=True)
        img = img / img.norm(dim=-1, keepdim=True)
        return 100.0 * float((img * text).sum())
