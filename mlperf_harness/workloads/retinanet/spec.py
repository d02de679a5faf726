"""The RetinaNet architecture's figures and its anchors, in numpy only (shared by the torch model, the ONNX
builder and the demo weights)."""

import numpy as np

from . import SIZE

BN_EPS = 1e-5  # torchvision FrozenBatchNorm2d's default
GROUPS, WIDTH_PER_GROUP = 32, 4
STAGES = ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2))  # (planes, blocks, stride) of layer1..layer4
FPN_IN = (512, 1024, 2048)  # layer2..layer4 outputs feed P3..P5
FPN_CH = 256
ANCHOR_BASES = (32, 64, 128, 256, 512)  # P3..P7
ASPECT_RATIOS = (0.5, 1.0, 2.0)  # height / width
ANCHORS_PER_LOCATION = 9


def level_sizes(size: int = SIZE) -> list[int]:
    """Feature map side per level P3..P7 for a size x size input (convolutions with padding round up)."""
    sides, s = [], size
    for _ in range(3):  # stem conv, maxpool, then layer2 -> P3 at stride 8
        s = (s + 1) // 2
    sides.append(s)
    for _ in range(4):
        s = (s + 1) // 2
        sides.append(s)
    return sides


def cell_anchors(base: int) -> np.ndarray:
    """The 9 anchors (x1, y1, x2, y2) centred on 0 for one level: ratios outer, the three scales inner, rounded."""
    scales = np.array([base, int(base * 2 ** (1 / 3)), int(base * 2 ** (2 / 3))], np.float32)
    h_ratio = np.sqrt(np.array(ASPECT_RATIOS, np.float32))
    ws = ((1 / h_ratio)[:, None] * scales[None, :]).reshape(-1)
    hs = (h_ratio[:, None] * scales[None, :]).reshape(-1)
    return np.round(np.stack([-ws, -hs, ws, hs], axis=1) / 2).astype(np.float32)


def anchors(size: int = SIZE) -> list[np.ndarray]:
    """Per level, [side*side*9, 4] float32 anchors in input pixels. The stride is size // side (integer), as
    the reference computes it, so P6/P7 strides are 61 and 114 at 800."""
    out = []
    for base, side in zip(ANCHOR_BASES, level_sizes(size), strict=True):
        stride = size // side
        shifts = np.arange(side, dtype=np.float32) * stride
        sy, sx = np.meshgrid(shifts, shifts, indexing="ij")
        grid = np.stack([sx.ravel(), sy.ravel(), sx.ravel(), sy.ravel()], axis=1)
        out.append((grid[:, None, :] + cell_anchors(base)[None, :, :]).reshape(-1, 4))
    return out
