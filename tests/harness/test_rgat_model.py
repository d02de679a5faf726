"""DGL's RGAT on PyG's GATConv: the layer computes what DGL's GATConv computes (written out here in plain torch),
the checkpoint's names are the reference's, and a checkpoint of another architecture is a one-line error."""

import numpy as np
import pytest
import torch

from mlperf_harness.errors import UsageError
from mlperf_harness.workloads.rgat import CLASSES, HEADS, HIDDEN, IN_FEATS, model


def dgl_gat(fc_w, attn_l, attn_r, bias, x_src, x_dst, src, dst):
    """DGL's GATConv on a block (allow_zero_in_degree, as HeteroGraphConv sets it), in plain torch."""
    h, c = attn_l.shape[1:]
    fs, fd = (x_src @ fc_w.T).view(-1, h, c), (x_dst @ fc_w.T).view(-1, h, c)
    e = torch.nn.functional.leaky_relu((fs * attn_l).sum(-1)[src] + (fd * attn_r).sum(-1)[dst], 0.2)
    out = torch.zeros(len(x_dst), h, c)
    for d in range(len(x_dst)):
        m = dst == d
        if m.any():
            a = torch.softmax(e[m], dim=0)
            out[d] = (a.unsqueeze(-1) * fs[src[m]]).sum(0)
    return out.reshape(len(x_dst), h * c) + bias


def test_one_relation_is_dgl_gatconv_including_destinations_without_in_edges():
    net = model.seeded(3)
    conv = net.layers[1]["written_by"]
    sd = model.to_reference(net.state_dict())
    p = "model.layers.1.mods.written_by."
    x_src, x_dst = torch.randn(6, HIDDEN), torch.randn(4, HIDDEN)
    src, dst = torch.tensor([0, 1, 2, 5, 5, 3]), torch.tensor([0, 0, 1, 1, 2, 2])  # destination 3: no in-edge
    with torch.no_grad():
        ours = conv((x_src, x_dst), torch.stack((src, dst)))
        want = dgl_gat(sd[p + "fc.weight"], sd[p + "attn_l"], sd[p + "attn_r"], sd[p + "bias"], x_src, x_dst, src, dst)
    torch.testing.assert_close(ours, want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(ours[3], sd[p + "bias"])


def test_checkpoint_uses_the_reference_names_and_loads_back(tmp_path):
    net = model.seeded(1)
    sd = model.to_reference(net.state_dict())
    assert sd["model.layers.0.mods.cites.fc.weight"].shape == (HIDDEN, IN_FEATS)
    assert sd["model.layers.2.mods.rev_venue.attn_l"].shape == (1, HEADS, HIDDEN // HEADS)
    assert sd["model.linear.weight"].shape == (CLASSES, HIDDEN)
    assert len([k for k in sd if k.endswith(".fc.weight")]) == 3 * 11
    # the reference's wrapper saves every layer a second time under "layers."
    dup = {**sd, **{k[len("model.") :]: v for k, v in sd.items() if k.startswith("model.layers.")}}
    torch.save({"model_state_dict": dup}, tmp_path / "RGAT.pt")
    back = model.load(tmp_path)
    for (k, a), b in zip(net.state_dict().items(), back.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, msg=k)


@pytest.mark.parametrize("case", ["two layers", "resnet", "no state dict", "not torch"])
def test_another_architecture_is_a_usage_error(tmp_path, case):
    path = tmp_path / "RGAT.pt"
    if case == "two layers":
        sd = model.to_reference(model.seeded(0).state_dict())
        torch.save({"model_state_dict": {k: v for k, v in sd.items() if ".layers.2." not in k}}, path)
        needle = "does not fit RGAT"
    elif case == "resnet":
        torch.save({"model_state_dict": {"conv1.weight": torch.zeros(64, 3, 7, 7)}}, path)
        needle = "holds no 'model.*' parameters"
    elif case == "no state dict":
        torch.save({"state_dict": {}}, path)
        needle = "has no 'model_state_dict'"
    else:
        path.write_bytes(b"GIF89a")
        needle = "is not a torch checkpoint"
    with pytest.raises(UsageError, match=needle):
        model.load(path)


def test_predictions_depend_on_the_features(tmp_path):
    from mlperf_harness.workloads.rgat import demo, graph

    val = demo.write_data(tmp_path, 8, 0)
    g = graph.Graph(tmp_path)
    net = model.seeded(0)
    a = model.predict(net, g, val, np.random.default_rng(0), "cpu")
    assert a.dtype == np.int64 and a.shape == (8,) and ((a >= 0) & (a < CLASSES)).all()
    again = model.predict(net, g, np.concatenate((val[::-1], val[:1])), np.random.default_rng(5), "cpu")
    np.testing.assert_array_equal(again, np.concatenate((a[::-1], a[:1])))  # order, repeats, any draw (degree <= 5)
    g.features["paper"] = np.asarray(g.features["paper"]) * 0 + 1.0
    assert (model.predict(net, g, val, np.random.default_rng(0), "cpu") != a).any()
