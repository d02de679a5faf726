"""DGL's RGAT (the reference's dgl_utilities/components.py) on PyTorch Geometric's GATConv.

DGL does not load beside torch 2.13 (its last PyPI wheel, 2.1.0, ships graphbolt and tensoradapter libraries
for torch <= 2.2.1 and imports torchdata.datapipes, which torchdata removed); PyG 2.8 is pure Python on torch.
DGL's GATConv and PyG's compute the same thing: a shared linear map of source and destination features, per
head e = leaky_relu(a_l.Wh_src + a_r.Wh_dst, 0.2), a softmax over each destination's in-edges, the weighted
sum of Wh_src, heads concatenated, plus a bias (a destination without in-edges gets the bias alone, as DGL's
HeteroGraphConv allows). So the checkpoint maps one to one: fc.weight -> lin.weight, attn_l -> att_src,
attn_r -> att_dst, bias -> bias.

Checkpoint (RGAT.pt): torch.save({"model_state_dict": state}) of the reference's RGAT, whose keys read
"model.layers.<l>.mods.<relation>.fc.weight", ..., "model.linear.weight" (and the same under "layers."; the
reference's wrapper registers the layer list twice).
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import UsageError
from ...frameworks import torch as framework
from . import CLASSES, FANOUTS, HEADS, HIDDEN, IN_FEATS, MODEL_FILE
from .graph import Block, relations

# DGL GATConv name -> PyG GATConv name
_NAMES = {"fc.weight": "lin.weight", "attn_l": "att_src", "attn_r": "att_dst", "bias": "bias"}


class RGAT(nn.Module):
    def __init__(
        self,
        num_layers: int = len(FANOUTS),
        in_feats: int = IN_FEATS,
        hidden: int = HIDDEN,
        heads: int = HEADS,
        classes: int = CLASSES,
    ):
        from torch_geometric.nn import GATConv

        super().__init__()
        self.rels = relations()
        self.layers = nn.ModuleList(
            nn.ModuleDict({r: GATConv(in_feats if i == 0 else hidden, hidden // heads, heads=heads,
                                      add_self_loops=False) for _, r, _ in self.rels})
            for i in range(num_layers))  # fmt: skip
        self.linear = nn.Linear(hidden, classes)

    def forward(self, blocks: list[Block], x: dict[str, torch.Tensor]) -> torch.Tensor:
        """Logits of the last block's destination papers, in their order."""
        h = x
        last = len(self.layers) - 1
        for i, (layer, block) in enumerate(zip(self.layers, blocks, strict=True)):
            out: dict[str, torch.Tensor] = {}
            for s, r, d in self.rels:
                if s not in h or d not in h or (i == last and d != "paper"):
                    continue
                ei = torch.from_numpy(block.edges[(s, r, d)]).to(h[s].device)
                y = layer[r]((h[s], h[d][: block.num_dst[d]]), ei)
                out[d] = y if d not in out else out[d] + y
            h = out if i == last else {t: nn.functional.leaky_relu(v) for t, v in out.items()}
        return self.linear(h["paper"])


def to_reference(state: dict) -> dict:
    """Our state dict in the reference checkpoint's names (model.layers.<l>.mods.<rel>.<dgl name>)."""
    back = {v: k for k, v in _NAMES.items()}
    out = {}
    for key, value in state.items():
        if key.startswith("layers."):
            _, layer, rel, rest = key.split(".", 3)
            out[f"model.layers.{layer}.mods.{rel}.{back[rest]}"] = value
        else:
            out[f"model.{key}"] = value
    return out


def from_reference(state: dict, path: Path) -> dict:
    """The reference checkpoint's state dict in our names (UsageError when it is not DGL's RGAT)."""
    out = {}
    for key, value in state.items():
        if not key.startswith("model."):
            continue  # the "layers." duplicates
        key = key[len("model.") :]
        if key.startswith("layers."):
            parts = key.split(".", 4)  # layers, l, mods, rel, name
            if len(parts) != 5 or parts[2] != "mods" or parts[4] not in _NAMES:
                raise UsageError(f"{path}: unexpected parameter model.{key}", "pass the reference's RGAT checkpoint")
            key = f"layers.{parts[1]}.{parts[3]}.{_NAMES[parts[4]]}"
        out[key] = value
    if not out:
        raise UsageError(f"{path} holds no 'model.*' parameters of an RGAT", "pass the reference's RGAT checkpoint")
    return out


def load(path: Path, device: str = "cpu") -> RGAT:
    """The model in RGAT.pt (path, or a folder holding it), on device, in eval mode."""
    path = Path(path)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", f"pass --model-path to the reference's {MODEL_FILE}")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 -- any unreadable file is the same user error
        raise UsageError(
            f"{path} is not a torch checkpoint ({str(e).splitlines()[0][:120]})", f"pass the reference's {MODEL_FILE}"
        ) from None
    state = ckpt.get("model_state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise UsageError(f"{path} has no 'model_state_dict'", f"pass the reference's {MODEL_FILE}")
    net = RGAT()
    try:
        net.load_state_dict({k: v.float() for k, v in from_reference(state, path).items()})
    except RuntimeError as e:
        raise UsageError(
            f"{path} does not fit RGAT ({str(e).splitlines()[0][:160]})",
            "pass the reference's RGAT checkpoint (3 layers, 4 heads, 512 hidden, 2983 classes)",
        ) from None
    return net.to(framework.device(device)).eval()


def seeded(seed: int) -> RGAT:
    """RGAT with seeded random weights (glorot, as the reference's GATPatched initialises them)."""
    torch.manual_seed(seed)
    net = RGAT()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("bias"):
                p.copy_(0.01 * torch.randn(p.shape, generator=gen))
            else:
                fan = p.shape[-2] + p.shape[-1]
                p.copy_((torch.rand(p.shape, generator=gen) * 2 - 1) * float(np.sqrt(6.0 / fan)))
    return net.eval()


def predict(net: RGAT, graph, seeds: np.ndarray, rng, device) -> np.ndarray:
    """Predicted class (int64) per seed paper; seeds may repeat."""
    from .graph import sample

    unique, inverse = np.unique(seeds, return_inverse=True)
    blocks = sample(graph, unique, FANOUTS, rng)
    x = {t: torch.from_numpy(graph.gather(t, ids)).to(device) for t, ids in blocks[0].src.items()}
    with torch.inference_mode():
        logits = net(blocks, x)
    return logits.argmax(1).cpu().numpy().astype(np.int64)[inverse]
