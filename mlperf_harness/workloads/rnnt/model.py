"""The MLPerf RNN-T in plain PyTorch, with the parameter names of the reference checkpoint, and its greedy
decoder batched.

Encoder: LSTM (pre_rnn, 2 layers, 240 -> 1024), time stacking (each pair of frames concatenated, the odd
tail zero-padded: half the frames, twice the width), LSTM (post_rnn, 3 layers, 2048 -> 1024).
Prediction network: embedding of the last emitted label (28 rows; before any label a zero vector and a zero
state) into an LSTM (dec_rnn, 2 layers, 320). Joint: Linear(1024 + 320 -> 512), ReLU, (dropout), Linear(512
-> 29) on the concatenated encoder and prediction outputs; class 28 is the blank.

Checkpoint: the reference's DistributedDataParallel_1576581068.9962234-epoch-100.pt is a torch.save'd dict
whose "state_dict" holds encoder.pre_rnn.lstm.*, encoder.post_rnn.lstm.*, prediction.embed.weight,
prediction.dec_rnn.lstm.*, joint_net.{0,3}.{weight,bias} and the feature extractor's buffers
audio_preprocessor.featurizer.{fb,window} (not model parameters: dropped, as the reference does). The sizes
are read from the tensors, so a smaller model in the same layout (the demo's) loads through the same path.
"""

import re
from dataclasses import dataclass
from pathlib import Path

from ...errors import UsageError
from ...frameworks import torch as framework
from .dataset import BLANK
from .features import FEATURES

MAX_SYMBOLS_PER_STEP = 30
# Batches are padded to a multiple of 16 feature frames: the results are the same (the encoder is causal and
# ignores frames past each length) and the LSTMs run about a quarter faster on CPU than with any length.
PAD_FRAMES = 16
STACK_TIME = 2
DROPPED_KEYS = ("audio_preprocessor.featurizer.fb", "audio_preprocessor.featurizer.window")
_FIX = "pass --model-path to the reference's DistributedDataParallel_1576581068.9962234-epoch-100.pt"


@dataclass(frozen=True)
class Config:
    in_features: int = FEATURES
    encoder_hidden: int = 1024
    pre_layers: int = 2
    post_layers: int = 3
    pred_hidden: int = 320
    pred_layers: int = 2
    joint_hidden: int = 512
    classes: int = BLANK + 1


REFERENCE = Config()


def _layers(state: dict, prefix: str) -> int:
    found = {int(m.group(1)) for k in state if (m := re.fullmatch(re.escape(prefix) + r"\.weight_ih_l(\d+)", k))}
    return max(found) + 1 if found else 0


def config_of(state: dict, path: Path) -> Config:
    """The sizes of a checkpoint's state_dict (joint_net.* or joint.net.* names)."""
    try:
        cfg = Config(
            in_features=state["encoder.pre_rnn.lstm.weight_ih_l0"].shape[1],
            encoder_hidden=state["encoder.pre_rnn.lstm.weight_hh_l0"].shape[1],
            pre_layers=_layers(state, "encoder.pre_rnn.lstm"),
            post_layers=_layers(state, "encoder.post_rnn.lstm"),
            pred_hidden=state["prediction.embed.weight"].shape[1],
            pred_layers=_layers(state, "prediction.dec_rnn.lstm"),
            joint_hidden=state["joint.net.0.weight"].shape[0],
            classes=state["joint.net.3.weight"].shape[0],
        )
    except (KeyError, IndexError, AttributeError) as e:
        raise UsageError(f"{path} is not an RNN-T checkpoint: its state_dict lacks {e}", _FIX) from None
    if cfg.in_features != FEATURES or cfg.classes != BLANK + 1:
        raise UsageError(
            f"{path} takes {cfg.in_features} features and has {cfg.classes} classes, not {FEATURES} and {BLANK + 1}",
            _FIX,
        )
    return cfg


def _torch():
    import torch

    return torch


def build(cfg: Config):
    """The RNN-T module tree; its state_dict names are the reference's (with joint.net for joint_net)."""
    nn = _torch().nn

    class _Lstm(nn.Module):
        def __init__(self, inputs: int, hidden: int, layers: int):
            super().__init__()
            self.lstm = nn.LSTM(inputs, hidden, layers)

    encoder = nn.Module()
    encoder.pre_rnn = _Lstm(cfg.in_features, cfg.encoder_hidden, cfg.pre_layers)
    encoder.post_rnn = _Lstm(STACK_TIME * cfg.encoder_hidden, cfg.encoder_hidden, cfg.post_layers)
    prediction = nn.Module()
    prediction.embed = nn.Embedding(cfg.classes - 1, cfg.pred_hidden)
    prediction.dec_rnn = _Lstm(cfg.pred_hidden, cfg.pred_hidden, cfg.pred_layers)
    joint = nn.Module()
    joint.net = nn.Sequential(
        nn.Linear(cfg.encoder_hidden + cfg.pred_hidden, cfg.joint_hidden),
        nn.ReLU(),
        nn.Dropout(0.0),  # the reference trains with dropout 0.32; the index keeps the layout joint.net.3
        nn.Linear(cfg.joint_hidden, cfg.classes),
    )
    model = nn.Module()
    model.encoder, model.prediction, model.joint = encoder, prediction, joint
    return model.eval()


def read_state(path: Path) -> dict:
    """The checkpoint's state_dict with the reference's renaming (joint_net -> joint.net) and without the
    feature extractor's buffers."""
    torch = _torch()
    if not path.is_file():
        raise UsageError(f"model file {path} does not exist", _FIX)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - retried below; a file that neither way reads is the bad input
        try:
            # The reference unpickles its checkpoint fully; the file is the user's own model file.
            ckpt = torch.load(path, map_location="cpu", weights_only=False)
        except Exception as e:  # noqa: BLE001
            first = (str(e).splitlines() or [""])[0]
            raise UsageError(f"{path} is not a torch checkpoint ({type(e).__name__}: {first})", _FIX) from None
        print(f"notice: {path} holds more than tensors; it was loaded with full unpickling, as the reference does")
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise UsageError(f"{path} holds no 'state_dict'", _FIX)
    return {k.replace("joint_net", "joint.net"): v for k, v in state.items() if k not in DROPPED_KEYS}


def load(path: Path, device: str = "cpu", precision: str = "fp32"):
    """The RNN-T of a reference-format checkpoint, in eval mode on device."""
    _torch()  # the one-line error when torch is missing
    state = read_state(path)
    model = build(config_of(state, path))
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise UsageError(
            f"{path} does not match the RNN-T layout (missing {missing[:3]}, unexpected {unexpected[:3]})", _FIX
        )
    dtype = framework.dtype(precision, "rnnt")
    return model.to(device=device, dtype=dtype)


def encode(model, feats, lengths):
    """Encoder: feats (T, B, F) and lengths (B,) -> (B, T', H) and the lengths after time stacking."""
    torch = _torch()
    x, _ = model.encoder.pre_rnn.lstm(feats)
    t, b, h = x.shape
    # Alone, an utterance of odd length has its last frame stacked with zeros; in a batch the frame after its
    # end holds the LSTM's output on padding: zero every frame past each utterance's end.
    past_end = torch.arange(t, device=x.device)[:, None] >= lengths.to(x.device)[None, :]
    x = x.masked_fill(past_end[:, :, None], 0.0)
    pad = (-t) % STACK_TIME
    if pad:
        x = torch.cat((x, x.new_zeros(pad, b, h)))
    # (T, B, H) -> (B, T/2, 2H): frames 2i and 2i+1 side by side
    x = x.transpose(0, 1).reshape(b, (t + pad) // STACK_TIME, STACK_TIME * h).transpose(0, 1)
    x, _ = model.encoder.post_rnn.lstm(x)
    return x.transpose(0, 1), (lengths + STACK_TIME - 1) // STACK_TIME


def _predict(model, labels, state, start):
    """One prediction step for the whole batch: labels (B,) (ignored where `start`: a zero input)."""
    emb = model.prediction.embed(labels.clamp(min=0))
    emb = emb.masked_fill(start[:, None], 0.0)
    g, state = model.prediction.dec_rnn.lstm(emb[None], state)
    return g[0], state


def _joint(model, f, g):
    import torch

    return model.joint.net(torch.cat((f, g), dim=1))


def _pick(mask, new, old):
    """LSTM states (h, c), each (layers, B, H): `new` where mask, else `old`."""
    import torch

    return tuple(torch.where(mask[None, :, None], n, o) for n, o in zip(new, old, strict=True))


def greedy_decode(model, feats, lengths, max_symbols: int = MAX_SYMBOLS_PER_STEP) -> list[list[int]]:
    """Label ids per utterance, as the reference's greedy decoder: at each encoder frame, up to max_symbols
    times, the joint of the frame and the prediction output picks its highest-scoring class; a blank moves
    to the next frame, any other label is emitted and advances the prediction network. Utterances of a batch
    step through their frames together; each one's result is what it gives alone."""
    torch = _torch()
    with torch.inference_mode():
        enc, enc_lengths = encode(model, feats, lengths.to(feats.device))
        b, device = enc.shape[0], enc.device
        cfg_layers = model.prediction.dec_rnn.lstm.num_layers
        hidden = model.prediction.dec_rnn.lstm.hidden_size
        zeros = enc.new_zeros(cfg_layers, b, hidden)
        state = (zeros, zeros.clone())  # the state before the last label was fed (none yet: zeros)
        last = torch.zeros(b, dtype=torch.long, device=device)
        start = torch.ones(b, dtype=torch.bool, device=device)
        g, next_state = _predict(model, last, state, start)
        out: list[list[int]] = [[] for _ in range(b)]
        enc_lengths = enc_lengths.to(device)
        for t in range(int(enc_lengths.max()) if b else 0):
            active = enc_lengths > t
            f = enc[:, t]
            for _ in range(max_symbols):
                k = _joint(model, f, g).argmax(dim=1)
                emit = active & (k != BLANK)
                emitted = emit.tolist()
                if not any(emitted):
                    break
                for i, (e, label) in enumerate(zip(emitted, k.tolist(), strict=True)):
                    if e:
                        out[i].append(label)
                # emitters: their state becomes the one after their last label, and k is fed next
                state = _pick(emit, next_state, state)
                last = torch.where(emit, k, last)
                start = start & ~emit
                g_new, next_new = _predict(model, last, state, start)
                g = torch.where(emit[:, None], g_new, g)
                next_state = _pick(emit, next_new, next_state)
                active = emit
        return out


class Recognizer:
    """Waveforms to label ids: the features, the encoder and the greedy decoder on one batch."""

    def __init__(self, model_path: Path, device: str = "cpu", precision: str = "fp32"):
        from .features import FilterBank

        self.device = device
        self.model = load(model_path, device, precision)
        self.dtype = next(self.model.parameters()).dtype
        self.features = FilterBank(device)

    def transcribe(self, waves) -> list[list[int]]:
        feats, lengths = self.features.batch(waves, PAD_FRAMES)
        return greedy_decode(self.model, feats.to(self.dtype), lengths)


def response(ids: list[int]):
    """A sample's response: its label ids as int64, as the reference logs them (array 'q')."""
    import numpy as np

    return np.asarray(ids, dtype=np.int64)
