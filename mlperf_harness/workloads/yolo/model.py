"""The YOLO11 detection architecture at the reference's scale "l" (yolo11l: depth 1.0, width 1.0, at most 512
channels, the C3k blocks everywhere), in plain torch, for `demo-data` only: the seeded random-weight model is
exported to ONNX exactly as ultralytics exports yolo11l.pt (input "images" [N, 3, H, W] RGB 0..1, output
"output0" [N, 84, anchors]: box centre, size in input pixels, then the 80 class probabilities).

Written from the published architecture (ultralytics/cfg/models/11/yolo11.yaml and its modules: Conv, C3k2, C3k,
SPPF, C2PSA, Detect with DFL); no ultralytics code is used or shipped."""

import torch
from torch import nn

from . import NUM_CLASSES, REG_MAX

BN_EPS, BN_MOMENTUM = 1e-3, 0.03  # ultralytics' BatchNorm2d settings


class Conv(nn.Module):
    """Conv2d (no bias, same padding) + BatchNorm2d + SiLU (or no activation)."""

    def __init__(self, c1, c2, k=1, s=1, g=1, act=True):
        super().__init__()
        self.conv = nn.Conv2d(c1, c2, k, s, k // 2, groups=g, bias=False)
        self.bn = nn.BatchNorm2d(c2, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.SiLU() if act else nn.Identity()

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))


class Bottleneck(nn.Module):
    def __init__(self, c1, c2, shortcut=True, k=(3, 3), e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_, k[0])
        self.cv2 = Conv(c_, c2, k[1])
        self.add = shortcut and c1 == c2

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C3k(nn.Module):
    """C3 with n 3x3 bottlenecks."""

    def __init__(self, c1, c2, n=2, shortcut=True, e=0.5):
        super().__init__()
        c_ = int(c2 * e)
        self.cv1 = Conv(c1, c_)
        self.cv2 = Conv(c1, c_)
        self.cv3 = Conv(2 * c_, c2)
        self.m = nn.Sequential(*(Bottleneck(c_, c_, shortcut, (3, 3), 1.0) for _ in range(n)))

    def forward(self, x):
        return self.cv3(torch.cat((self.m(self.cv1(x)), self.cv2(x)), 1))


class C3k2(nn.Module):
    """C2f whose inner blocks are C3k (c3k, as at the m/l/x scales) or bottlenecks."""

    def __init__(self, c1, c2, n=1, c3k=False, e=0.5, shortcut=True):
        super().__init__()
        self.c = int(c2 * e)
        self.cv1 = Conv(c1, 2 * self.c)
        self.cv2 = Conv((2 + n) * self.c, c2)
        self.m = nn.ModuleList(
            C3k(self.c, self.c, 2, shortcut) if c3k else Bottleneck(self.c, self.c, shortcut) for _ in range(n)
        )

    def forward(self, x):
        y = list(self.cv1(x).chunk(2, 1))
        y.extend(m(y[-1]) for m in self.m)
        return self.cv2(torch.cat(y, 1))


class SPPF(nn.Module):
    def __init__(self, c1, c2, k=5):
        super().__init__()
        c_ = c1 // 2
        self.cv1 = Conv(c1, c_)
        self.cv2 = Conv(c_ * 4, c2)
        self.m = nn.MaxPool2d(k, 1, k // 2)

    def forward(self, x):
        y = [self.cv1(x)]
        y.extend(self.m(y[-1]) for _ in range(3))
        return self.cv2(torch.cat(y, 1))


class Attention(nn.Module):
    def __init__(self, dim, num_heads=8, attn_ratio=0.5):
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.key_dim = int(self.head_dim * attn_ratio)
        self.scale = self.key_dim**-0.5
        self.qkv = Conv(dim, dim + self.key_dim * num_heads * 2, act=False)
        self.proj = Conv(dim, dim, act=False)
        self.pe = Conv(dim, dim, 3, 1, g=dim, act=False)

    def forward(self, x):
        b, c, h, w = x.shape
        n = h * w
        q, k, v = self.qkv(x).view(b, self.num_heads, self.key_dim * 2 + self.head_dim, n).split(
            [self.key_dim, self.key_dim, self.head_dim], dim=2
        )
        attn = ((q.transpose(-2, -1) @ k) * self.scale).softmax(dim=-1)
        x = (v @ attn.transpose(-2, -1)).view(b, c, h, w) + self.pe(v.reshape(b, c, h, w))
        return self.proj(x)


class PSABlock(nn.Module):
    def __init__(self, c, attn_ratio=0.5, num_heads=4):
        super().__init__()
        self.attn = Attention(c, num_heads, attn_ratio)
        self.ffn = nn.Sequential(Conv(c, c * 2), Conv(c * 2, c, act=False))

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.ffn(x)


class C2PSA(nn.Module):
    def __init__(self, c1, c2, n=1, e=0.5):
        super().__init__()
        assert c1 == c2
        self.c = int(c1 * e)
        self.cv1 = Conv(c1, 2 * self.c)
        self.cv2 = Conv(2 * self.c, c1)
        self.m = nn.Sequential(*(PSABlock(self.c, 0.5, self.c // 64) for _ in range(n)))

    def forward(self, x):
        a, b = self.cv1(x).split((self.c, self.c), dim=1)
        return self.cv2(torch.cat((a, self.m(b)), 1))


class DFL(nn.Module):
    """The expected value of each side's distance over REG_MAX bins (a fixed 1x1 conv of weights 0..15)."""

    def __init__(self, c1=REG_MAX):
        super().__init__()
        self.conv = nn.Conv2d(c1, 1, 1, bias=False).requires_grad_(False)
        self.conv.weight.data[:] = torch.arange(c1, dtype=torch.float).view(1, c1, 1, 1)
        self.c1 = c1

    def forward(self, x):
        b, _, a = x.shape
        return self.conv(x.view(b, 4, self.c1, a).transpose(2, 1).softmax(1)).view(b, 4, a)


class Detect(nn.Module):
    """Decoupled head over P3..P5: DFL box distances and class logits per cell; at inference the boxes decoded
    around the cell centres (x+0.5, y+0.5) times the stride, as (cx, cy, w, h), and sigmoid class scores."""

    strides = (8, 16, 32)

    def __init__(self, nc=NUM_CLASSES, ch=(256, 512, 512)):
        super().__init__()
        self.nc, self.no = nc, nc + REG_MAX * 4
        c2, c3 = max(16, ch[0] // 4, REG_MAX * 4), max(ch[0], min(nc, 100))
        self.cv2 = nn.ModuleList(nn.Sequential(Conv(x, c2, 3), Conv(c2, c2, 3), nn.Conv2d(c2, 4 * REG_MAX, 1))
                                 for x in ch)
        self.cv3 = nn.ModuleList(
            nn.Sequential(nn.Sequential(Conv(x, x, 3, g=x), Conv(x, c3, 1)),
                          nn.Sequential(Conv(c3, c3, 3, g=c3), Conv(c3, c3, 1)), nn.Conv2d(c3, nc, 1))
            for x in ch
        )
        self.dfl = DFL(REG_MAX)

    def forward(self, feats):
        b = feats[0].shape[0]
        outs, anchors, strides = [], [], []
        for i, (x, s) in enumerate(zip(feats, self.strides, strict=True)):
            h, w = x.shape[2], x.shape[3]
            outs.append(torch.cat((self.cv2[i](x), self.cv3[i](x)), 1).view(b, self.no, -1))
            sy, sx = torch.meshgrid(torch.arange(h, dtype=x.dtype) + 0.5, torch.arange(w, dtype=x.dtype) + 0.5,
                                    indexing="ij")
            anchors.append(torch.stack((sx, sy), -1).view(-1, 2))
            strides.append(torch.full((h * w, 1), s, dtype=x.dtype))
        anchor_points = torch.cat(anchors).transpose(0, 1).unsqueeze(0)
        stride = torch.cat(strides).transpose(0, 1)
        box, cls = torch.cat(outs, 2).split((REG_MAX * 4, self.nc), 1)
        lt, rb = self.dfl(box).chunk(2, 1)
        x1y1, x2y2 = anchor_points - lt, anchor_points + rb
        dbox = torch.cat(((x1y1 + x2y2) / 2, x2y2 - x1y1), 1) * stride
        return torch.cat((dbox, cls.sigmoid()), 1)


class YOLO11(nn.Module):
    """yolo11.yaml at scale l: backbone layers 0..10, head 11..23 (the indices of the ultralytics state dict)."""

    def __init__(self, nc=NUM_CLASSES):
        super().__init__()
        self.model = nn.ModuleList([
            Conv(3, 64, 3, 2), Conv(64, 128, 3, 2), C3k2(128, 256, 2, True, 0.25),  # 0-2
            Conv(256, 256, 3, 2), C3k2(256, 512, 2, True, 0.25),  # 3-4: P3/8
            Conv(512, 512, 3, 2), C3k2(512, 512, 2, True),  # 5-6: P4/16
            Conv(512, 512, 3, 2), C3k2(512, 512, 2, True),  # 7-8: P5/32
            SPPF(512, 512, 5), C2PSA(512, 512, 2),  # 9-10
            nn.Upsample(None, 2, "nearest"), nn.Identity(), C3k2(1024, 512, 2, True),  # 11-13 (12: concat P4)
            nn.Upsample(None, 2, "nearest"), nn.Identity(), C3k2(1024, 256, 2, True),  # 14-16 (15: concat P3)
            Conv(256, 256, 3, 2), nn.Identity(), C3k2(768, 512, 2, True),  # 17-19 (18: concat 13)
            Conv(512, 512, 3, 2), nn.Identity(), C3k2(1024, 512, 2, True),  # 20-22 (21: concat 10)
            Detect(nc, (256, 512, 512)),  # 23
        ])

    def forward(self, x):
        m = self.model
        y = []
        for i in range(11):
            x = m[i](x)
            y.append(x)
        p4 = m[13](torch.cat((m[11](y[10]), y[6]), 1))
        p3 = m[16](torch.cat((m[14](p4), y[4]), 1))
        n4 = m[19](torch.cat((m[17](p3), p4), 1))
        n5 = m[22](torch.cat((m[20](n4), y[10]), 1))
        return m[23]([p3, n4, n5])


def build(seed: int) -> YOLO11:
    """yolo11l with seeded random weights (torch's default initialisation, BatchNorm at identity but for random
    running statistics near 0 / 1), in eval mode."""
    torch.manual_seed(seed)
    model = YOLO11()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, nn.BatchNorm2d):
                mod.running_mean.copy_(torch.randn(mod.num_features, generator=g) * 0.01)
                mod.running_var.copy_(1 + torch.rand(mod.num_features, generator=g) * 0.1)
    return model.eval()


def export_onnx(model: YOLO11, path, dynamic: bool = True) -> None:
    """ONNX as ultralytics exports it (opset 17, input "images", output "output0"); `dynamic`: batch, height and
    width free (export dynamic=True), else [1, 3, 640, 640]."""
    import warnings

    from . import ONNX_INPUT, ONNX_OUTPUT, OUTPUT_ROWS, SIZE

    axes = {ONNX_INPUT: {0: "batch", 2: "height", 3: "width"}, ONNX_OUTPUT: {0: "batch", 2: "anchors"}}
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.zeros(1, 3, SIZE, SIZE),), str(path), dynamo=False, opset_version=17,
                          input_names=[ONNX_INPUT], output_names=[ONNX_OUTPUT],
                          dynamic_axes=axes if dynamic else None, do_constant_folding=True)
    import onnx

    # the tracer leaves the concatenated row count symbolic: state it (ultralytics' file has 84 there)
    proto = onnx.load(str(path))
    dim = proto.graph.output[0].type.tensor_type.shape.dim[1]
    dim.ClearField("dim_param")
    dim.dim_value = OUTPUT_ROWS
    onnx.save(proto, str(path))
