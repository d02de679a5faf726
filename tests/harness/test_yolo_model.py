"""The demo's yolo11l (workloads/yolo/model.py): the reference's architecture (yolo11.yaml at scale l, ultralytics'
state-dict names), its ONNX export as the backend reads it, and the ONNX run agreeing with torch."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mlperf_harness.workloads.yolo import ONNX_INPUT, ONNX_OUTPUT, backends, model  # noqa: E402


@pytest.fixture(scope="module")
def net():
    return model.build(seed=11)


def test_architecture_is_yolo11l(net):
    params = sum(p.numel() for p in net.parameters())
    assert params == 25_372_160  # ultralytics' yolo11l summary (25.3 M in its model table)
    keys = net.state_dict().keys()
    for key in ("model.0.conv.weight", "model.2.m.0.m.1.cv2.bn.running_var",  # C3k2 with C3k inside (scale l)
                "model.9.cv2.conv.weight", "model.10.m.1.attn.qkv.conv.weight", "model.10.m.0.attn.pe.conv.weight",
                "model.23.cv2.2.2.weight", "model.23.cv3.0.0.0.conv.weight", "model.23.dfl.conv.weight"):
        assert key in keys, key
    assert net.model[10].m[0].attn.num_heads == 4 and net.model[10].m[0].attn.key_dim == 32


def test_output_layout(net):
    with torch.no_grad():
        out = net(torch.rand(1, 3, 256, 640))
    assert out.shape == (1, 84, 80 * 32 + 40 * 16 + 20 * 8)  # strides 8, 16, 32
    scores = out[0, 4:]
    assert 0 <= scores.min() and scores.max() <= 1  # sigmoid class scores
    assert (out[0, 2:4] > 0).all()  # widths and heights


def test_onnx_export_runs_on_the_backend_like_torch(net, tmp_path):
    path = tmp_path / "yolo11l.onnx"
    model.export_onnx(net, path, dynamic=True)
    runner = backends.create("onnxruntime", "cpu", path, 2)
    assert runner.rect
    x = np.random.default_rng(0).random((1, 3, 224, 640), dtype=np.float32)
    [ort_out] = runner.predict([x])
    with torch.no_grad():
        ref = net(torch.from_numpy(x))[0].numpy()
    assert ort_out.shape == ref.shape == (84, 80 * 28 + 40 * 14 + 20 * 7)
    assert np.allclose(ort_out, ref, rtol=1e-3, atol=1e-3)
    import onnx

    g = onnx.load(str(path)).graph
    assert [i.name for i in g.input] == [ONNX_INPUT] and [o.name for o in g.output] == [ONNX_OUTPUT]
    fixed = tmp_path / "fixed.onnx"
    model.export_onnx(net, fixed, dynamic=False)
    assert not backends.create("onnxruntime", "cpu", fixed, 2).rect  # a 640x640 export: the square letterbox
