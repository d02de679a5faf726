"""Synthetic ImageNet-style validation JPEGs and their val_map.txt."""

from pathlib import Path

import cv2
import numpy as np


def file_name(i: int) -> str:
    return f"ILSVRC2012_val_{i:08d}.JPEG"


def write(out_dir: Path, count: int, seed: int) -> None:
    """Varied sizes, orientations and content; labels in 0..999 as the official val_map.txt."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(1, count + 1):
        h, w = int(rng.integers(160, 480)), int(rng.integers(160, 480))
        img = cv2.resize(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), (w, h), interpolation=cv2.INTER_CUBIC)
        centre = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        cv2.circle(img, centre, int(rng.integers(10, min(h, w) // 2)), colour, -1)
        cv2.imwrite(str(out_dir / file_name(i)), img, [cv2.IMWRITE_JPEG_QUALITY, 90])
        lines.append(f"{file_name(i)} {int(rng.integers(0, 1000))}\n")
    (out_dir / "val_map.txt").write_text("".join(lines))
