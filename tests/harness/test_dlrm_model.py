"""DLRM-DCNv2 in plain PyTorch: the reference checkpoint's names, the forward pass, memory-mapped tables."""

import numpy as np
import pytest
import torch

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.dlrm import MULTI_HOT_SIZES, model

# torchrec's DLRMTrain(DLRM_DCN) parameter names, as in the reference checkpoint (tables apart)
REFERENCE_DENSE_KEYS = (
    [f"model.dense_arch.model._mlp.{i}._linear.{p}" for i in range(3) for p in ("weight", "bias")]
    + [f"model.inter_arch.crossnet.{k}.{i}" for k in ("W_kernels", "V_kernels", "bias") for i in range(3)]
    + [f"model.over_arch.model.0._mlp.{i}._linear.{p}" for i in range(4) for p in ("weight", "bias")]
    + ["model.over_arch.model.1.weight", "model.over_arch.model.1.bias"]
)


def test_dense_part_has_the_reference_names_and_shapes():
    state = {f"model.{k}": v for k, v in model.DenseDCN().state_dict().items()}
    assert sorted(state) == sorted(REFERENCE_DENSE_KEYS)
    assert state["model.dense_arch.model._mlp.0._linear.weight"].shape == (512, 13)
    assert state["model.inter_arch.crossnet.W_kernels.0"].shape == (27 * 128, 512)
    assert state["model.inter_arch.crossnet.V_kernels.2"].shape == (512, 27 * 128)
    assert state["model.over_arch.model.0._mlp.0._linear.weight"].shape == (1024, 27 * 128)
    assert state["model.over_arch.model.1.weight"].shape == (1, 256)
    assert model.TABLE_KEY.format(3) == "model.sparse_arch.embedding_bag_collection.embedding_bags.t_cat_3.weight"


def small_tables(rows=20, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(rows, 128)).astype(np.float32) for _ in MULTI_HOT_SIZES]


def batch(n=5, rows=20, seed=1):
    rng = np.random.default_rng(seed)
    dense = rng.random((n, 13), dtype=np.float32)
    sparse = [rng.integers(0, rows, (n, h), dtype=np.int32) for h in MULTI_HOT_SIZES]
    return dense, sparse


def manual(net: model.DenseDCN, tables, dense, sparse) -> np.ndarray:
    """The DCNv2 forward written out in numpy (float64) from the state dict."""
    s = {k: v.double().numpy() for k, v in net.state_dict().items()}
    x = dense.astype(np.float64)
    for i in range(3):
        x = np.maximum(
            x @ s[f"dense_arch.model._mlp.{i}._linear.weight"].T + s[f"dense_arch.model._mlp.{i}._linear.bias"], 0
        )
    pooled = [t[idx].sum(axis=1) for t, idx in zip(tables, sparse, strict=True)]
    x0 = np.concatenate([x] + pooled, axis=1)
    xl = x0
    for i in range(3):
        w, v, b = (s[f"inter_arch.crossnet.{k}.{i}"] for k in ("W_kernels", "V_kernels", "bias"))
        xl = x0 * ((xl @ v.T) @ w.T + b) + xl
    y = xl
    for i in range(4):
        y = np.maximum(
            y @ s[f"over_arch.model.0._mlp.{i}._linear.weight"].T + s[f"over_arch.model.0._mlp.{i}._linear.bias"], 0
        )
    y = y @ s["over_arch.model.1.weight"].T + s["over_arch.model.1.bias"]
    return 1 / (1 + np.exp(-y[:, 0]))


def test_forward_matches_the_written_out_dcn():
    net = model.seeded_dense(4)
    tables = small_tables()
    dense, sparse = batch()
    got = model.DLRM(net, model.Tables([torch.from_numpy(t) for t in tables])).predict(dense, sparse)
    assert got.shape == (5,) and got.dtype == np.float32
    np.testing.assert_allclose(got, manual(net, tables, dense, sparse), rtol=1e-4, atol=1e-5)


def test_checkpoint_dir_tables_are_memory_mapped_and_agree(tmp_path):
    net = model.seeded_dense(4)
    tables = small_tables()
    torch.save({f"model.{k}": v for k, v in net.state_dict().items()}, tmp_path / model.DENSE_FILE)
    (tmp_path / model.TABLE_DIR).mkdir()
    for k, t in enumerate(tables):
        np.save(tmp_path / model.TABLE_DIR / f"t_cat_{k}.npy", t)
    mapped = model.load(tmp_path)
    assert all(isinstance(t, np.memmap) for t in mapped.tables.tables)
    loaded = model.load(tmp_path, mmap=False)
    dense, sparse = batch()
    np.testing.assert_allclose(mapped.predict(dense, sparse), loaded.predict(dense, sparse), rtol=1e-5, atol=1e-6)
    # one .pt with everything under the reference names gives the same model
    full = {f"model.{k}": v for k, v in net.state_dict().items()}
    full.update({model.TABLE_KEY.format(k): torch.from_numpy(t) for k, t in enumerate(tables)})
    torch.save(full, tmp_path / "full.pt")
    np.testing.assert_allclose(
        model.load(tmp_path / "full.pt").predict(dense, sparse), loaded.predict(dense, sparse), rtol=1e-5, atol=1e-6
    )


def test_checkpoint_missing_a_table(tmp_path):
    torch.save({f"model.{k}": v for k, v in model.DenseDCN().state_dict().items()}, tmp_path / model.DENSE_FILE)
    with pytest.raises(UsageError, match=r"t_cat_0\.npy does not exist"):
        model.load(tmp_path)


def test_checkpoint_of_another_model(tmp_path):
    torch.save({"model.foo.weight": torch.zeros(2)}, tmp_path / "x.pt")
    with pytest.raises(UsageError, match=r"x\.pt lacks model\.sparse_arch"):
        model.load(tmp_path / "x.pt")
