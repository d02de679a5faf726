"""DLRM-DCNv2 in plain PyTorch with torchrec's module names, so state dicts map one to one onto the reference's
DLRMTrain(DLRM_DCN) checkpoint ("model.dense_arch.model._mlp.0._linear.weight", "model.inter_arch.crossnet.
V_kernels.0", "model.over_arch.model.1.weight", "model.sparse_arch.embedding_bag_collection.embedding_bags.
t_cat_0.weight", ...).

The embedding tables are not module parameters: Tables holds each as a tensor in memory or as a read-only
numpy memmap of a .npy file (the real model's ~100 GB of tables), and looks up only the rows a batch uses.

Checkpoint layout read by load(): a directory with dense.pt (the state dict without the tables, reference
names) and embedding_bags/t_cat_<k>.npy (float32 (rows, 128)); or one .pt state dict holding everything.
"""

from pathlib import Path

import numpy as np
import torch
from torch import nn

from ...errors import UsageError
from ...frameworks import torch as framework
from . import DCN_LAYERS, DCN_RANK, DENSE_FEATURES, DENSE_LAYERS, EMBEDDING_DIM, OVER_LAYERS, TABLE_SIZES

PREFIX = "model."
TABLE_KEY = "model.sparse_arch.embedding_bag_collection.embedding_bags.t_cat_{}.weight"
DENSE_FILE = "dense.pt"
TABLE_DIR = "embedding_bags"


class _Perceptron(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self._linear = nn.Linear(cin, cout)

    def forward(self, x):
        return torch.relu(self._linear(x))


class _MLP(nn.Module):
    def __init__(self, cin: int, sizes):
        super().__init__()
        self._mlp = nn.Sequential(*(_Perceptron(i, o) for i, o in zip((cin, *sizes[:-1]), sizes, strict=True)))

    def forward(self, x):
        return self._mlp(x)


class _Arch(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x):
        return self.model(x)


class LowRankCrossNet(nn.Module):
    """x_{l+1} = x_0 * (W_l (V_l x_l) + b_l) + x_l, W_l (N, r), V_l (r, N)."""

    def __init__(self, n: int, layers: int, rank: int):
        super().__init__()
        self.W_kernels = nn.ParameterList(nn.Parameter(torch.empty(n, rank)) for _ in range(layers))
        self.V_kernels = nn.ParameterList(nn.Parameter(torch.empty(rank, n)) for _ in range(layers))
        self.bias = nn.ParameterList(nn.Parameter(torch.zeros(n)) for _ in range(layers))

    def forward(self, x0):
        x = x0
        for w, v, b in zip(self.W_kernels, self.V_kernels, self.bias, strict=True):
            x = x0 * (nn.functional.linear(nn.functional.linear(x, v), w) + b) + x
        return x


class _Inter(nn.Module):
    def __init__(self, crossnet: nn.Module):
        super().__init__()
        self.crossnet = crossnet


class DenseDCN(nn.Module):
    """Everything but the tables: bottom MLP, cross network, top MLP."""

    def __init__(self, tables: int = len(TABLE_SIZES), dim: int = EMBEDDING_DIM):
        super().__init__()
        n = (tables + 1) * dim
        self.dense_arch = _Arch(_MLP(DENSE_FEATURES, DENSE_LAYERS))
        self.inter_arch = _Inter(LowRankCrossNet(n, DCN_LAYERS, DCN_RANK))
        self.over_arch = _Arch(nn.Sequential(_MLP(n, OVER_LAYERS[:-1]), nn.Linear(OVER_LAYERS[-2], OVER_LAYERS[-1])))

    def forward(self, dense: torch.Tensor, pooled: torch.Tensor) -> torch.Tensor:
        """dense (B, 13), pooled (B, F, D) -> click probability (B,)."""
        x = torch.cat((self.dense_arch(dense).unsqueeze(1), pooled), dim=1).reshape(dense.shape[0], -1)
        return torch.sigmoid(self.over_arch(self.inter_arch.crossnet(x))).reshape(-1)


class Tables:
    """The 26 embedding tables, each a torch tensor or a read-only numpy memmap; sum-pooled lookups."""

    def __init__(self, tables: list):
        self.tables = tables
        self.rows = [t.shape[0] for t in tables]

    def pooled(self, sparse: list[np.ndarray]) -> torch.Tensor:
        """sparse: 26 index arrays (B, h_k) -> (B, 26, D)."""
        out = []
        for table, idx in zip(self.tables, sparse, strict=True):
            if isinstance(table, torch.Tensor):
                out.append(nn.functional.embedding_bag(torch.from_numpy(idx), table, mode="sum"))
            else:  # memmap: read just the rows used
                rows = np.asarray(table[idx.reshape(-1)]).reshape(*idx.shape, -1)
                out.append(torch.from_numpy(rows.sum(axis=1, dtype=np.float32)))
        return torch.stack(out, dim=1)


class DLRM:
    def __init__(self, dense: DenseDCN, tables: Tables, device: str = "cpu"):
        self.device = framework.device(device)
        self.dense = dense.to(self.device).eval()
        self.tables = tables

    def predict(self, dense: np.ndarray, sparse: list[np.ndarray]) -> np.ndarray:
        with torch.inference_mode():
            pooled = self.tables.pooled(sparse).to(self.device)
            return self.dense(torch.from_numpy(dense).to(self.device), pooled).float().cpu().numpy()


def _strip(state: dict, path: Path) -> dict:
    dense = {k[len(PREFIX) :]: v for k, v in state.items() if k.startswith(PREFIX) and "sparse_arch" not in k}
    if not dense:
        raise UsageError(
            f"{path} holds no 'model.*' dense parameters", "pass a DLRM-DCNv2 checkpoint (reference names)"
        )
    return dense


def load(path: Path, device: str = "cpu", mmap: bool = True) -> DLRM:
    """The checkpoint at path (a directory as the module docstring says, or one .pt state dict)."""
    if not path.exists():
        raise UsageError(f"model path {path} does not exist", "pass --model-path to a DLRM-DCNv2 checkpoint")
    net = DenseDCN()
    if path.is_dir():
        state = (
            torch.load(path / DENSE_FILE, map_location="cpu", weights_only=True)
            if (path / DENSE_FILE).is_file()
            else None
        )
        if state is None:
            raise UsageError(f"{path} has no {DENSE_FILE}", f"a checkpoint dir holds {DENSE_FILE} and {TABLE_DIR}/")
        tables = []
        for k in range(len(TABLE_SIZES)):
            f = path / TABLE_DIR / f"t_cat_{k}.npy"
            if not f.is_file():
                raise UsageError(f"{f} does not exist", f"a checkpoint dir holds all 26 tables in {TABLE_DIR}/")
            t = np.load(f, mmap_mode="r" if mmap else None)
            tables.append(t if mmap else torch.from_numpy(t))
    else:
        state = torch.load(path, map_location="cpu", weights_only=True)
        tables = []
        for k in range(len(TABLE_SIZES)):
            if TABLE_KEY.format(k) not in state:
                raise UsageError(f"{path} lacks {TABLE_KEY.format(k)}", "pass a complete DLRM-DCNv2 state dict")
            tables.append(state[TABLE_KEY.format(k)].float().contiguous())
    try:
        net.load_state_dict(_strip(state, path))
    except RuntimeError as e:
        raise UsageError(
            f"{path} does not fit DLRM-DCNv2 ({str(e).splitlines()[0][:160]})", "pass the reference model"
        ) from None
    for k, t in enumerate(tables):
        if t.ndim != 2 or t.shape[1] != EMBEDDING_DIM:
            raise UsageError(
                f"{path}: table t_cat_{k} has shape {tuple(t.shape)}", f"tables are (rows, {EMBEDDING_DIM})"
            )
    return DLRM(net, Tables(tables), device)


def seeded_dense(seed: int) -> DenseDCN:
    """The dense part with seeded random weights (Xavier-like MLPs and cross kernels)."""
    gen = torch.Generator().manual_seed(seed)
    net = DenseDCN()
    with torch.no_grad():
        for _, p in net.named_parameters():
            if p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=gen) * (2.0 / sum(p.shape)) ** 0.5)
            else:
                p.copy_(0.01 * torch.randn(p.shape, generator=gen))
    return net.eval()
