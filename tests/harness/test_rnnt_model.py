"""rnnt model: the checkpoint layout, the encoder's time stacking, greedy decoding on hand-set weights that
force a known output, batch against one-by-one decoding, and bad checkpoints as one-line errors."""

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed in this environment")
pytest.importorskip("soundfile", reason="soundfile is not installed (the `harness` extra)")

from mlperf_harness.errors import UsageError  # noqa: E402 - after the importorskip above
from mlperf_harness.workloads.rnnt import dataset, demo, features, model  # noqa: E402 - after the importorskip above

H, IL = dataset.LABELS.index("h"), dataset.LABELS.index("i")
TINY = model.Config(encoder_hidden=4, pred_hidden=3, joint_hidden=4, pre_layers=1, post_layers=1, pred_layers=2)


def _zeroed(cfg=TINY):
    m = model.build(cfg)
    with torch.no_grad():
        for p in m.parameters():
            p.zero_()
    return m


def _features(*frames):
    """Encoder input (T, B, 240) and lengths for utterances of the given feature frame counts."""
    x = torch.zeros(max(frames), len(frames), features.FEATURES)
    for b, n in enumerate(frames):
        x[:n, b] = torch.randn(n, features.FEATURES, generator=torch.Generator().manual_seed(b))
    return x, torch.tensor(frames)


def _hi_model():
    """Zero encoder; a prediction network whose output tells which label came last (none, h or i); a joint
    that answers h after none, i after h and blank after i: "hi" whatever the audio, once per utterance."""
    m = _zeroed()
    with torch.no_grad():
        m.prediction.embed.weight[H] = torch.tensor([0.0, 1.0, 0.0])
        m.prediction.embed.weight[IL] = torch.tensor([0.0, 0.0, 1.0])
        lstm = m.prediction.dec_rnn.lstm
        for layer in range(2):
            w, b = getattr(lstm, f"weight_ih_l{layer}"), getattr(lstm, f"bias_ih_l{layer}")
            w[6:9] = 3 * torch.eye(3)  # cell candidate = tanh(3 x); gates i, f, o = (1, 0, 1)
            b[0:3], b[3:6], b[9:12] = 10.0, -10.0, 10.0
        first, last = m.joint.net[0], m.joint.net[3]
        enc = TINY.encoder_hidden
        first.bias[0] = 1.0
        first.weight[0, enc + 1 : enc + 3] = -2.0  # unit 0: only before any label
        first.weight[1, enc + 1] = 2.0  # unit 1: after h
        first.weight[2, enc + 2] = 2.0  # unit 2: after i
        last.weight[H, 0] = last.weight[IL, 1] = last.weight[dataset.BLANK, 2] = 5.0
        last.bias[dataset.BLANK] = 1.0
    return m


def test_greedy_decoding_on_a_hand_set_joint():
    m = _hi_model()
    assert model.greedy_decode(m, *_features(5)) == [[H, IL]]
    assert model.greedy_decode(m, *_features(7, 1, 4)) == [[H, IL]] * 3
    assert dataset.decode(model.greedy_decode(m, *_features(2))[0]) == "hi"


def test_at_most_30_symbols_per_encoder_frame():
    m = _zeroed()
    with torch.no_grad():
        m.joint.net[3].bias[dataset.LABELS.index("a")] = 1.0  # "a" beats the blank everywhere
    # encoder frames: ceil(frames / 2) after time stacking; 30 labels each
    out = model.greedy_decode(m, *_features(5, 2, 1))
    assert [len(o) for o in out] == [3 * 30, 30, 30]
    assert set(out[0]) == {1}
    assert model.greedy_decode(m, *_features(4), max_symbols=2) == [[1] * 4]
    with torch.no_grad():
        m.joint.net[3].bias[dataset.BLANK] = 2.0
    assert model.greedy_decode(m, *_features(5, 3)) == [[], []]


def test_time_stacking_pairs_frames_and_pads_odd_lengths_with_zeros():
    torch.manual_seed(0)
    m = model.build(TINY)
    x, lengths = _features(5, 4)
    enc, enc_lengths = model.encode(m, x, lengths)
    assert tuple(enc.shape) == (2, 3, TINY.encoder_hidden) and enc_lengths.tolist() == [3, 2]
    with torch.inference_mode():
        pre, _ = m.encoder.pre_rnn.lstm(x[:, :1])
        stacked = torch.cat((pre[:, 0], torch.zeros(1, TINY.encoder_hidden))).reshape(3, 2 * TINY.encoder_hidden)
        post, _ = m.encoder.post_rnn.lstm(stacked[:, None])
    assert torch.allclose(enc[0], post[:, 0], atol=1e-6)


def _demo_model(tmp_path, blank_bias):
    cfg = model.Config(encoder_hidden=48, pred_hidden=24, joint_hidden=32)
    path = tmp_path / "rnnt.pt"
    state = demo.state_dict(cfg, seed=11)
    state["joint_net.3.bias"][dataset.BLANK] = blank_bias
    torch.save({"state_dict": state}, path)
    return model.load(path)


def test_batch_and_one_by_one_decoding_agree(tmp_path):
    m = _demo_model(tmp_path, blank_bias=2.0)
    rng = np.random.default_rng(3)
    # odd and even frame counts: 31, 50, 10 and 67 feature frames
    waves = [demo.waveform(rng, s).astype(np.float32) / 32768 for s in (0.93, 1.5, 0.3, 2.0)]
    fb = features.FilterBank()
    feats, lengths = fb.batch(waves)
    assert lengths.tolist() == [31, 50, 10, 67]
    batch = model.greedy_decode(m, feats, lengths)
    alone = [model.greedy_decode(m, *fb.batch([w]))[0] for w in waves]
    assert batch == alone
    assert sum(map(len, batch)) > 10  # the comparison is about emitted labels, not empty outputs
    assert model.greedy_decode(m, *fb.batch(waves, pad_to=16)) == batch
    enc, _ = model.encode(m, feats, lengths)
    for i, w in enumerate(waves):
        e, n = model.encode(m, *fb.batch([w]))
        assert torch.allclose(enc[i, : int(n)], e[0], atol=1e-5)


def test_checkpoint_layout_and_sizes(tmp_path):
    path = tmp_path / "DistributedDataParallel_1576581068.9962234-epoch-100.pt"
    demo.write_checkpoint(path, demo.DEMO, seed=1)
    raw = torch.load(path, weights_only=True)["state_dict"]
    assert {
        "joint_net.0.weight",
        "joint_net.3.bias",
        "prediction.embed.weight",
        "encoder.post_rnn.lstm.weight_hh_l2",
        *model.DROPPED_KEYS,
    } <= set(raw)
    assert tuple(raw["audio_preprocessor.featurizer.fb"].shape) == (1, 80, 257)
    state = model.read_state(path)
    assert "joint.net.0.weight" in state and not set(model.DROPPED_KEYS) & set(state)
    assert model.config_of(state, path) == demo.DEMO
    m = model.load(path)
    assert torch.equal(m.joint.net[0].weight, raw["joint_net.0.weight"])
    assert model.load(path, precision="bf16").joint.net[3].weight.dtype == torch.bfloat16


def test_reference_sizes():
    with torch.device("meta"):
        m = model.build(model.REFERENCE)
    state = m.state_dict()
    assert model.config_of(state, "x") == model.REFERENCE
    assert tuple(state["encoder.pre_rnn.lstm.weight_ih_l0"].shape) == (4096, 240)
    assert tuple(state["encoder.post_rnn.lstm.weight_ih_l0"].shape) == (4096, 2048)
    assert tuple(state["prediction.embed.weight"].shape) == (28, 320)
    assert tuple(state["joint.net.0.weight"].shape) == (512, 1344)
    assert tuple(state["joint.net.3.weight"].shape) == (29, 512)
    assert sum(p.numel() for p in m.parameters()) == 45_323_037  # 181.3 MB in fp32


def test_recognizer_and_response(tmp_path):
    demo.write(tmp_path, 2, seed=5)
    utts = dataset.read_manifest(tmp_path / demo.DATASET_DIR)
    rec = model.Recognizer(tmp_path / demo.MODEL_FILE)
    ids = rec.transcribe(dataset.Utterances(utts).batch([0, 1]))
    assert len(ids) == 2
    r = model.response([3, 0, 27])
    assert r.dtype == np.int64 and r.tobytes() == np.array([3, 0, 27], "<i8").tobytes()


def _one_line(exc, *needles):
    assert "\n" not in str(exc.value)
    for n in needles:
        assert str(n) in str(exc.value)


def test_bad_checkpoints_are_one_line_errors(tmp_path):
    path = tmp_path / "rnnt.pt"
    with pytest.raises(UsageError) as e:
        model.load(path)
    _one_line(e, path, "does not exist")
    path.write_bytes(b"not a checkpoint")
    with pytest.raises(UsageError) as e:
        model.load(path)
    _one_line(e, path, "not a torch checkpoint")
    torch.save({"model": {}}, path)
    with pytest.raises(UsageError) as e:
        model.load(path)
    _one_line(e, path, "no 'state_dict'")
    torch.save({"state_dict": {"encoder.pre_rnn.lstm.weight_ih_l0": torch.zeros(4, 80)}}, path)
    with pytest.raises(UsageError) as e:
        model.load(path)
    _one_line(e, path, "lacks")
    state = demo.state_dict(TINY, 0)
    state["joint_net.3.weight"] = torch.zeros(10, TINY.joint_hidden)
    state["joint_net.3.bias"] = torch.zeros(10)
    torch.save({"state_dict": state}, path)
    with pytest.raises(UsageError) as e:
        model.load(path)
    _one_line(e, path, "has 10 classes")
    state = demo.state_dict(TINY, 0)
    state["encoder.extra"] = torch.zeros(1)
    torch.save({"state_dict": state}, path)
    with pytest.raises(UsageError) as e:
        model.load(path)
    _one_line(e, path, "does not match", "encoder.extra")
    demo.write_checkpoint(path, TINY, 0)
    with pytest.raises(UsageError, match="--precision fp8 is not supported for rnnt"):
        model.load(path, precision="fp8")


REFERENCE_DATA = Path(__file__).parent.parent / "data" / "rnnt"


def _reference_signal(n: int, f0: float) -> np.ndarray:
    i = np.arange(n)
    env = 0.5 - 0.5 * np.cos(2 * np.pi * i / n * 7)
    chirp = 0.4 * np.sin(2 * np.pi * f0 * i / 16000 * (1 + 0.2 * np.sin(2 * np.pi * 3 * i / 16000)))
    tone = 0.1 * np.sin(2 * np.pi * 3 * f0 * i / 16000)
    return (env * (chirp + tone) + 0.01 * (((i * 7919) % 101) - 50) / 50).astype(np.float32)


def test_decoding_matches_the_reference_implementation():
    """tests/data/rnnt/reference_tiny.pt: an RNN-T built by the reference's own RNNT class (v4.0, sizes
    12/8/10, seeded weights scaled so that it emits) and saved in its checkpoint layout, with the
    FilterbankFeatures buffers (fb made by librosa); reference_tiny_labels.json: what the reference's
    FilterbankFeatures + ScriptGreedyDecoder gave for _reference_signal(n, f0), keyed "n,f0"."""
    path = REFERENCE_DATA / "reference_tiny.pt"
    expected = json.loads((REFERENCE_DATA / "reference_tiny_labels.json").read_text())
    raw = torch.load(path, weights_only=True)["state_dict"]
    assert np.allclose(raw["audio_preprocessor.featurizer.fb"][0].numpy(), features.mel_filters(), atol=1e-8)
    rec = model.Recognizer(path)
    waves = []
    for key, labels in expected.items():
        n, f0 = key.split(",")
        waves.append(_reference_signal(int(n), float(f0)))
        assert rec.transcribe(waves[-1:]) == [labels], key
    assert rec.transcribe(waves) == list(expected.values())
    assert sum(map(len, expected.values())) > 1000
