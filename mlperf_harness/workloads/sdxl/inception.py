"""The FID Inception-v3 (the TensorFlow 2015-12-05 graph as ported by pytorch-fid) in plain torch.

Module names follow torchvision's Inception3, so pytorch-fid's pt_inception-2015-12-05-6726825d.pth loads
as is. Every channel count is divided by `div`, read from the state dict (32 / first conv's out channels):
div 1 is the real network with 2048 features, a demo file can hold a narrower one of the same structure.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mlperf_harness.errors import UsageError

FEATURES = 2048
WEIGHTS_NAME = "pt_inception-2015-12-05-6726825d.pth"


class Conv(nn.Module):
    """conv (no bias) + batch norm (eps 1e-3) + relu, torchvision's BasicConv2d."""

    def __init__(self, cin: int, cout: int, kernel, stride=1, padding=0):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride=stride, padding=padding, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=0.001)

    def forward(self, x):
        return F.relu(self.bn(self.conv(x)))


def _avg(x):
    """TensorFlow's 3x3 average pool: padded zeros do not count."""
    return F.avg_pool2d(x, 3, stride=1, padding=1, count_include_pad=False)


class BlockA(nn.Module):
    def __init__(self, cin: int, pool: int, d: int):
        super().__init__()
        self.branch1x1 = Conv(cin, 64 // d, 1)
        self.branch5x5_1 = Conv(cin, 48 // d, 1)
        self.branch5x5_2 = Conv(48 // d, 64 // d, 5, padding=2)
        self.branch3x3dbl_1 = Conv(cin, 64 // d, 1)
        self.branch3x3dbl_2 = Conv(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96 // d, 96 // d, 3, padding=1)
        self.branch_pool = Conv(cin, pool, 1)

    def forward(self, x):
        b5 = self.branch5x5_2(self.branch5x5_1(x))
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch1x1(x), b5, b3, self.branch_pool(_avg(x))], 1)


class BlockB(nn.Module):
    def __init__(self, cin: int, d: int):
        super().__init__()
        self.branch3x3 = Conv(cin, 384 // d, 3, stride=2)
        self.branch3x3dbl_1 = Conv(cin, 64 // d, 1)
        self.branch3x3dbl_2 = Conv(64 // d, 96 // d, 3, padding=1)
        self.branch3x3dbl_3 = Conv(96 // d, 96 // d, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3dbl_3(self.branch3x3dbl_2(self.branch3x3dbl_1(x)))
        return torch.cat([self.branch3x3(x), b3, F.max_pool2d(x, 3, stride=2)], 1)


class BlockC(nn.Module):
    def __init__(self, cin: int, c7: int, d: int):
        super().__init__()
        out = 192 // d
        self.branch1x1 = Conv(cin, out, 1)
        self.branch7x7_1 = Conv(cin, c7, 1)
        self.branch7x7_2 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7_3 = Conv(c7, out, (7, 1), padding=(3, 0))
        self.branch7x7dbl_1 = Conv(cin, c7, 1)
        self.branch7x7dbl_2 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_3 = Conv(c7, c7, (1, 7), padding=(0, 3))
        self.branch7x7dbl_4 = Conv(c7, c7, (7, 1), padding=(3, 0))
        self.branch7x7dbl_5 = Conv(c7, out, (1, 7), padding=(0, 3))
        self.branch_pool = Conv(cin, out, 1)

    def forward(self, x):
        b7 = self.branch7x7_3(self.branch7x7_2(self.branch7x7_1(x)))
        bd = self.branch7x7dbl_1(x)
        for layer in (self.branch7x7dbl_2, self.branch7x7dbl_3, self.branch7x7dbl_4, self.branch7x7dbl_5):
            bd = layer(bd)
        return torch.cat([self.branch1x1(x), b7, bd, self.branch_pool(_avg(x))], 1)


class BlockD(nn.Module):
    def __init__(self, cin: int, d: int):
        super().__init__()
        self.branch3x3_1 = Conv(cin, 192 // d, 1)
        self.branch3x3_2 = Conv(192 // d, 320 // d, 3, stride=2)
        self.branch7x7x3_1 = Conv(cin, 192 // d, 1)
        self.branch7x7x3_2 = Conv(192 // d, 192 // d, (1, 7), padding=(0, 3))
        self.branch7x7x3_3 = Conv(192 // d, 192 // d, (7, 1), padding=(3, 0))
        self.branch7x7x3_4 = Conv(192 // d, 192 // d, 3, stride=2)

    def forward(self, x):
        b3 = self.branch3x3_2(self.branch3x3_1(x))
        b7 = self.branch7x7x3_4(self.branch7x7x3_3(self.branch7x7x3_2(self.branch7x7x3_1(x))))
        return torch.cat([b3, b7, F.max_pool2d(x, 3, stride=2)], 1)


class BlockE(nn.Module):
    """The last two blocks; the FID graph pools the final one with a 3x3 max pool instead of an average."""

    def __init__(self, cin: int, d: int, max_pool: bool):
        super().__init__()
        self.max_pool = max_pool
        self.branch1x1 = Conv(cin, 320 // d, 1)
        self.branch3x3_1 = Conv(cin, 384 // d, 1)
        self.branch3x3_2a = Conv(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3_2b = Conv(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch3x3dbl_1 = Conv(cin, 448 // d, 1)
        self.branch3x3dbl_2 = Conv(448 // d, 384 // d, 3, padding=1)
        self.branch3x3dbl_3a = Conv(384 // d, 384 // d, (1, 3), padding=(0, 1))
        self.branch3x3dbl_3b = Conv(384 // d, 384 // d, (3, 1), padding=(1, 0))
        self.branch_pool = Conv(cin, 192 // d, 1)

    def forward(self, x):
        b3 = self.branch3x3_1(x)
        b3 = torch.cat([self.branch3x3_2a(b3), self.branch3x3_2b(b3)], 1)
        bd = self.branch3x3dbl_2(self.branch3x3dbl_1(x))
        bd = torch.cat([self.branch3x3dbl_3a(bd), self.branch3x3dbl_3b(bd)], 1)
        pooled = F.max_pool2d(x, 3, stride=1, padding=1) if self.max_pool else _avg(x)
        return torch.cat([self.branch1x1(x), b3, bd, self.branch_pool(pooled)], 1)


class FIDInception(nn.Module):
    """Images in [0, 1] (N, 3, H, W) -> pool_3 features (N, 2048 // div)."""

    def __init__(self, div: int = 1):
        super().__init__()
        d = div
        self.Conv2d_1a_3x3 = Conv(3, 32 // d, 3, stride=2)
        self.Conv2d_2a_3x3 = Conv(32 // d, 32 // d, 3)
        self.Conv2d_2b_3x3 = Conv(32 // d, 64 // d, 3, padding=1)
        self.Conv2d_3b_1x1 = Conv(64 // d, 80 // d, 1)
        self.Conv2d_4a_3x3 = Conv(80 // d, 192 // d, 3)
        self.Mixed_5b = BlockA(192 // d, 32 // d, d)
        self.Mixed_5c = BlockA(256 // d, 64 // d, d)
        self.Mixed_5d = BlockA(288 // d, 64 // d, d)
        self.Mixed_6a = BlockB(288 // d, d)
        self.Mixed_6b = BlockC(768 // d, 128 // d, d)
        self.Mixed_6c = BlockC(768 // d, 160 // d, d)
        self.Mixed_6d = BlockC(768 // d, 160 // d, d)
        self.Mixed_6e = BlockC(768 // d, 192 // d, d)
        self.Mixed_7a = BlockD(768 // d, d)
        self.Mixed_7b = BlockE(1280 // d, d, max_pool=False)
        self.Mixed_7c = BlockE(2048 // d, d, max_pool=True)
        self.features = FEATURES // d

    def forward(self, x):
        x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
        x = 2 * x - 1
        x = self.Conv2d_2b_3x3(self.Conv2d_2a_3x3(self.Conv2d_1a_3x3(x)))
        x = F.max_pool2d(x, 3, stride=2)
        x = self.Conv2d_4a_3x3(self.Conv2d_3b_1x1(x))
        x = F.max_pool2d(x, 3, stride=2)
        for name in ("5b", "5c", "5d", "6a", "6b", "6c", "6d", "6e", "7a", "7b", "7c"):
            x = getattr(self, f"Mixed_{name}")(x)
        return torch.flatten(F.adaptive_avg_pool2d(x, 1), 1)


def load(path: Path, device: str = "cpu") -> FIDInception:
    """The network from a pytorch-fid state dict file (its classifier `fc` is not needed and is skipped)."""
    if not path.is_file():
        raise UsageError(f"FID Inception weights {path} do not exist", f"put {WEIGHTS_NAME} there")
    state = torch.load(path, map_location="cpu", weights_only=True)
    first = state.get("Conv2d_1a_3x3.conv.weight") if isinstance(state, dict) else None
    if first is None or 32 % first.shape[0]:
        raise UsageError(f"{path} is not an FID Inception-v3 state dict", f"use pytorch-fid's {WEIGHTS_NAME}")
    model = FIDInception(32 // first.shape[0])
    state = {k: v for k, v in state.items() if not k.startswith(("fc.", "AuxLogits."))}
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise UsageError(
            f"{path} does not fit the FID Inception-v3: {str(e).splitlines()[0]}", f"use pytorch-fid's {WEIGHTS_NAME}"
        ) from None
    return model.eval().to(device)
