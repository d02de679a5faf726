"""The KiTS19 3D-UNet of the MLPerf reference (from MLPerf Training's image_segmentation), in plain PyTorch.

Five resolution levels with 32, 64, 128, 256, 320 filters and a 320-filter bottleneck; every block is two
3x3x3 convolutions (no bias) each followed by an affine InstanceNorm and ReLU, downsampling by a stride-2
first convolution and upsampling by a 2x2x2 transposed convolution (with bias) whose output is concatenated
with the skip connection; a 1x1x1 convolution (with bias) gives 3 class logits. The module and parameter
names match the reference checkpoint's `best_model_state_dict` (input_block.conv1.0.weight, ...).
"""

import torch
from torch import nn

FILTERS = (32, 64, 128, 256, 320)


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv3d(cin, cout, kernel_size=3, stride=stride, padding=1, bias=False),
        nn.InstanceNorm3d(cout, affine=True),
        nn.ReLU(),
    )


class _Down(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = _conv(cin, cout, stride)
        self.conv2 = _conv(cout, cout)

    def forward(self, x):
        return self.conv2(self.conv1(x))


class _Up(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.upsample_conv = nn.Sequential(
            nn.ConvTranspose3d(cin, cout, kernel_size=2, stride=2, padding=0, bias=True), nn.Identity(), nn.Identity()
        )
        self.conv1 = _conv(2 * cout, cout)
        self.conv2 = _conv(cout, cout)

    def forward(self, x, skip):
        return self.conv2(self.conv1(torch.cat((self.upsample_conv(x), skip), dim=1)))


class _Output(nn.Module):
    def __init__(self, cin: int, classes: int):
        super().__init__()
        self.conv = nn.Sequential(nn.Conv3d(cin, classes, kernel_size=1, bias=True), nn.Identity(), nn.Identity())

    def forward(self, x):
        return self.conv(x)


class Unet3D(nn.Module):
    def __init__(self, in_channels: int = 1, classes: int = 3):
        super().__init__()
        f = FILTERS
        self.input_block = _Down(in_channels, f[0], stride=1)
        self.downsample = nn.ModuleList(_Down(i, o, stride=2) for i, o in zip(f[:-1], f[1:], strict=True))
        self.bottleneck = _Down(f[-1], f[-1], stride=2)
        ups = [_Up(f[-1], f[-1])] + [_Up(i, o) for i, o in zip(reversed(f[1:]), reversed(f[:-1]), strict=True)]
        self.upsample = nn.ModuleList(ups)
        self.output = _Output(f[0], classes)

    def forward(self, x):
        x = self.input_block(x)
        skips = [x]
        for down in self.downsample:
            x = down(x)
            skips.append(x)
        x = self.bottleneck(x)
        n = len(skips)
        for i, up in enumerate(self.upsample):  # indexed, not zip(reversed(...)), so torch.jit.script takes it
            x = up(x, skips[n - 1 - i])
        return self.output(x)


def seeded(seed: int) -> Unet3D:
    """The architecture with seeded random weights (InstanceNorm affine parameters randomised too)."""
    gen = torch.Generator().manual_seed(seed)
    model = Unet3D()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() > 1:
                fan_in = p[0].numel() if "upsample_conv" not in name else p.shape[0] * p[0, 0].numel()
                p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / fan_in) ** 0.5)
            elif name.endswith(".weight"):
                p.copy_(1.0 + 0.1 * torch.randn(p.shape, generator=gen))
            else:
                p.copy_(0.1 * torch.randn(p.shape, generator=gen))
    return model.eval()
