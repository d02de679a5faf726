"""`demo-data` for rnnt: the RNN-T architecture with seeded random weights in the reference checkpoint format
(smaller LSTMs than the reference's 1024/320/512 so that CI runs it on two cores; the same loading path reads
the sizes from the tensors), synthetic 16 kHz wav files and a dev-clean-wav.json manifest in the official
layout, with one utterance over 15 s that the manifest reader drops, as the reference does."""

import json
import sys
from pathlib import Path

import numpy as np

from . import dataset, features, model

MODEL_FILE = "models/rnnt/DistributedDataParallel_1576581068.9962234-epoch-100.pt"
DATASET_DIR = "datasets/librispeech"
WAV_DIR = "dev-clean-wav"
DEMO = model.Config(encoder_hidden=64, pred_hidden=32, joint_hidden=32)
# PyTorch's default initialisation leaves five stacked random LSTMs with an output that hardly changes over
# time, and a joint dominated by its biases: the LSTM and joint weights are scaled up so that the emitted labels
# follow the audio, the output biases are zeroed and the blank's raised so that a few characters come per
# utterance, not up to 30 per frame (more hypothesis words than reference words would make the WER exceed 100%
# and the accuracy negative, which the checker's pattern does not read).
LSTM_GAIN = 4.0
JOINT_GAIN = 4.0
BLANK_BIAS = 3.0
LONG_S = 16.0  # the utterance over MAX_DURATION_S
WORDS = ("kalo", "mine", "ruta", "vosh", "peda", "gozu", "rian", "elor", "tam", "shi", "nevo", "da", "ok", "l'an")


def state_dict(cfg: model.Config, seed: int) -> dict:
    """The reference checkpoint's state_dict (joint_net.* names, the feature extractor's buffers) of an RNN-T
    with PyTorch's default initialisation from `seed`."""
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = model.build(cfg)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".lstm.weight" in name:
                p *= LSTM_GAIN
        net.joint.net[0].weight *= JOINT_GAIN
        net.joint.net[3].weight *= JOINT_GAIN
        net.joint.net[3].bias.zero_()
        net.joint.net[3].bias[dataset.BLANK] = BLANK_BIAS
    state = {k.replace("joint.net", "joint_net"): v.clone() for k, v in net.state_dict().items()}
    state["audio_preprocessor.featurizer.fb"] = torch.from_numpy(features.mel_filters())[None]
    state["audio_preprocessor.featurizer.window"] = torch.hann_window(features.WIN_LENGTH, periodic=False)
    return state


def write_checkpoint(path: Path, cfg: model.Config, seed: int) -> None:
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state_dict(cfg, seed), "epoch": 100}, path)


def waveform(rng: np.random.Generator, seconds: float) -> np.ndarray:
    """Speech-like noise: a train of voiced "syllables" (a few harmonics of a wandering pitch under a
    raised-cosine envelope) with short pauses and a little background noise, int16."""
    n = int(seconds * dataset.SAMPLE_RATE)
    t = np.arange(n) / dataset.SAMPLE_RATE
    out = 0.003 * rng.standard_normal(n)
    pos = int(0.1 * dataset.SAMPLE_RATE)
    while pos < n:
        length = int(rng.uniform(0.12, 0.3) * dataset.SAMPLE_RATE)
        seg = slice(pos, min(n, pos + length))
        tt = t[seg] - t[pos]
        pitch = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(1, 4) * tt))
        phase = 2 * np.pi * np.cumsum(pitch) / dataset.SAMPLE_RATE
        voiced = sum(rng.uniform(0.1, 1) / k * np.sin(k * phase) for k in range(1, 6))
        envelope = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(tt.size) / max(tt.size - 1, 1))
        out[seg] += rng.uniform(0.1, 0.3) * envelope * voiced
        pos += length + int(rng.uniform(0.02, 0.15) * dataset.SAMPLE_RATE)
    return (np.clip(out, -1, 1) * 32767).astype(np.int16)


def _entry(fname: str, samples: int, transcript: str) -> dict:
    duration = samples / dataset.SAMPLE_RATE
    return {
        "files": [
            {
                "channels": 1,
                "sample_rate": float(dataset.SAMPLE_RATE),
                "bitrate": 16,
                "duration": duration,
                "num_samples": samples,
                "encoding": "Signed Integer PCM",
                "silent": False,
                "fname": fname,
                "speed": 1,
            }
        ],
        "original_duration": duration,
        "original_num_samples": samples,
        "transcript": transcript,
    }


def write_dataset(root: Path, count: int, seed: int) -> list[dict]:
    """`count` utterances of 1 to 3 s plus one of LONG_S seconds (second in the manifest), their wav files
    under root/dev-clean-wav/<speaker>/<chapter>/ and root/dev-clean-wav.json."""
    import soundfile

    rng = np.random.default_rng(seed)
    entries = []
    for i in range(count + 1):
        seconds = LONG_S if i == 1 else float(rng.uniform(1.0, 3.0))
        speaker, chapter = 1000 + i % 3, 100 + i % 2
        fname = f"{WAV_DIR}/{speaker}/{chapter}/{speaker}-{chapter}-{i:04d}.wav"
        wave = waveform(rng, seconds)
        (root / fname).parent.mkdir(parents=True, exist_ok=True)
        soundfile.write(root / fname, wave, dataset.SAMPLE_RATE, subtype="PCM_16")
        words = " ".join(rng.choice(WORDS) for _ in range(int(rng.integers(3, 9))))
        entries.append(_entry(fname, wave.size, words))
    (root / dataset.MANIFEST).write_text(json.dumps(entries, indent=2) + "\n")
    return entries


def write(out_dir: Path, count: int, seed: int, cfg: model.Config = DEMO) -> None:
    """Everything below out_dir: MODEL_FILE and DATASET_DIR."""
    write_checkpoint(out_dir / MODEL_FILE, cfg, seed)
    print(f"wrote {out_dir / MODEL_FILE}")
    write_dataset(out_dir / DATASET_DIR, count, seed)
    print(
        f"wrote {count} wav files (+1 over {dataset.MAX_DURATION_S:g} s) and {dataset.MANIFEST} "
        f"to {out_dir / DATASET_DIR}"
    )
    print(
        f"NOTE: the model weights are RANDOM (seed {seed}) and the audio synthetic: accuracy figures on this data are "
        "meaningless; it exists to exercise the pipeline end to end.",
        file=sys.stderr,
    )
