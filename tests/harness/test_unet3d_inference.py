"""3d-unet sliding window, importance map, the reference architecture, and the ONNX graph."""

import numpy as np
import pytest

from mlperf_harness.workloads.unet3d import CLASSES, ROI, inference


def test_gaussian_kernel_is_the_references_cube_root_gaussian():
    from scipy.signal.windows import gaussian

    g = gaussian(ROI, 0.125 * ROI)
    ref = np.cbrt(np.einsum("i,j,k->ijk", g, g, g))
    ref /= ref.max()
    k = inference.gaussian_kernel(ROI, 0.125 * ROI)
    assert k.shape == (ROI,) * 3 and k.dtype == np.float32
    np.testing.assert_allclose(k, ref, rtol=1e-6)
    assert k[63, 63, 63] == k[64, 64, 64] == k.max() == pytest.approx(1.0)


def test_window_starts_step_half_a_window():
    assert inference.window_starts((128, 128, 128)) == [(0, 0, 0)]
    assert inference.window_starts((192, 128, 128)) == [(0, 0, 0), (64, 0, 0)]
    assert len(inference.window_starts((256, 192, 128))) == 3 * 2 * 1


def test_constant_model_gives_the_constant_after_normalisation():
    const = np.array([0.25, -1.5, 3.0], np.float32)
    calls = []

    def predict(x):
        calls.append(x.shape)
        return np.broadcast_to(const[None, :, None, None, None], (len(x), CLASSES, *x.shape[2:])).copy()

    volume = np.zeros((1, 192, 128, 192), np.float32)
    logits, windows = inference.accumulate(volume, predict, batch=2)
    assert windows == 2 * 1 * 2 and len(calls) == 2 and calls[0] == (2, 1, ROI, ROI, ROI)
    np.testing.assert_allclose(logits, np.broadcast_to(const[:, None, None, None], logits.shape), rtol=1e-6)
    seg, _ = inference.sliding_window(volume, predict)
    assert seg.dtype == np.uint8 and seg.shape == (192, 128, 192) and (seg == 2).all()


def test_windows_see_their_own_part_of_the_volume():
    """A model echoing its input as class-0 logits must give back the volume itself, overlaps included."""
    rng = np.random.default_rng(0)
    volume = rng.normal(size=(1, 64, 48, 80)).astype(np.float32)

    def echo(x):
        return np.concatenate([x, np.zeros_like(x), np.zeros_like(x)], axis=1)

    logits, windows = inference.accumulate(volume, echo, roi=32)
    assert windows == 3 * 2 * 4
    np.testing.assert_allclose(logits[0], volume[0], rtol=1e-5, atol=1e-6)


def test_volume_smaller_than_the_window_is_refused():
    with pytest.raises(ValueError, match="every edge >= 128"):
        inference.accumulate(np.zeros((1, 100, 128, 128), np.float32), lambda x: x)


def test_architecture_has_the_reference_names_and_shapes():
    from mlperf_harness.workloads.unet3d.model import seeded

    state = seeded(0).state_dict()
    shapes = {k: tuple(v.shape) for k, v in state.items()}
    assert shapes["input_block.conv1.0.weight"] == (32, 1, 3, 3, 3)
    assert shapes["input_block.conv1.1.weight"] == (32,)
    assert shapes["downsample.3.conv1.0.weight"] == (320, 256, 3, 3, 3)
    assert shapes["bottleneck.conv2.0.weight"] == (320, 320, 3, 3, 3)
    assert shapes["upsample.0.upsample_conv.0.weight"] == (320, 320, 2, 2, 2)
    assert shapes["upsample.0.upsample_conv.0.bias"] == (320,)
    assert shapes["upsample.4.conv1.0.weight"] == (32, 64, 3, 3, 3)
    assert shapes["output.conv.0.weight"] == (3, 32, 1, 1, 1)
    assert not any(k.endswith("running_mean") for k in state)  # InstanceNorm without running stats
    assert len(state) == 78


def test_onnx_graph_matches_the_torch_model():
    import onnxruntime as ort
    import torch

    from mlperf_harness.workloads.unet3d.model import seeded
    from mlperf_harness.workloads.unet3d.onnx_export import build

    model = seeded(3)
    onnx_model = build({k: v.numpy() for k, v in model.state_dict().items()}, roi=64)
    sess = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [i.name for i in sess.get_inputs()] == ["input"] and [o.name for o in sess.get_outputs()] == ["output"]
    x = np.random.default_rng(1).normal(size=(1, 1, 64, 64, 64)).astype(np.float32)
    with torch.no_grad():
        want = model(torch.from_numpy(x)).numpy()
    got = sess.run(None, {"input": x})[0]
    assert got.shape == (1, 3, 64, 64, 64)
    np.testing.assert_allclose(got, want, rtol=1e-3, atol=1e-3)


@pytest.mark.filterwarnings("ignore:`torch.jit:DeprecationWarning")  # the reference ships TorchScript
def test_torchscript_and_checkpoint_backends_agree(tmp_path):
    """The reference ships a TorchScript .ptc and a checkpoint .pth holding best_model_state_dict."""
    import torch

    from mlperf_harness.workloads.unet3d.model import seeded

    model = seeded(2)
    torch.jit.script(model).save(str(tmp_path / "3dunet_kits19_pytorch.ptc"))
    torch.save({"best_model_state_dict": model.state_dict()}, tmp_path / "3dunet_kits19_pytorch_checkpoint.pth")
    x = np.random.default_rng(3).normal(size=(1, 1, 64, 64, 64)).astype(np.float32)
    ptc = inference.create("pytorch", "cpu", tmp_path / "3dunet_kits19_pytorch.ptc", 2).predict(x)
    pth = inference.create("pytorch", "cpu", tmp_path / "3dunet_kits19_pytorch_checkpoint.pth", 2).predict(x)
    assert ptc.shape == (1, 3, 64, 64, 64)
    np.testing.assert_allclose(ptc, pth, rtol=1e-4, atol=1e-4)
