"""The reference's audio features (its FilterbankFeatures with the rnnt.toml "input_eval" settings), per
utterance so that a batch gives exactly the features of its utterances one by one:

preemphasis x[n] - 0.97 x[n-1]; STFT (n_fft 512, a symmetric Hann window of 320 samples = 20 ms, hop 160 =
10 ms, centred with reflection padding); power spectrum + dither^2 (the reference's deterministic dither);
80 Slaney-style mel filters (librosa.filters.mel's defaults: Slaney mel scale, area normalisation) from 0 to
8 kHz; natural log (+1e-20); frame splicing: each frame stacked with the next two (zeros past the end) and
every third kept, 240 features; per-feature normalisation over the utterance's ceil(ceil(n / 160) / 3)
frames: (x - mean) / (unbiased std + 1e-5); the frames beyond that count are cut.
"""

import math

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 512
WIN_LENGTH = 320  # 0.02 s
HOP_LENGTH = 160  # 0.01 s
N_MELS = 80
PREEMPHASIS = 0.97
DITHER = 1e-5
LOG_GUARD = 1e-20
STD_GUARD = 1e-5
SPLICE = 3
FEATURES = N_MELS * SPLICE


def hz_to_mel(hz):
    """Slaney's mel scale: linear (3 mels per 200 Hz) below 1 kHz, logarithmic (27 mels per factor 6.4) above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz * 3.0 / 200.0
    log = 15.0 + 27.0 * np.log(np.maximum(hz, 1e-10) / 1000.0) / math.log(6.4)
    return np.where(hz >= 1000.0, log, linear)


def mel_to_hz(mel):
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * 200.0 / 3.0
    log = 1000.0 * np.exp((mel - 15.0) * math.log(6.4) / 27.0)
    return np.where(mel >= 15.0, log, linear)


def mel_filters(
    sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT, n_mels: int = N_MELS, fmin: float = 0.0, fmax=None
) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) float32 triangular filters: centres equally spaced on the Slaney mel scale,
    each triangle scaled by 2 / (its width in Hz) so that every filter has the same area."""
    fmax = sample_rate / 2 if fmax is None else fmax
    bins = np.arange(n_fft // 2 + 1) * sample_rate / n_fft
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin), hz_to_mel(fmax), n_mels + 2))
    lo, mid, hi = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lo) / (mid - lo)
    falling = (hi - bins) / (hi - mid)
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (hi - lo))
    return weights.astype(np.float32)


def frame_count(samples: int) -> int:
    """Feature frames of an utterance of `samples` samples (the reference's get_seq_len)."""
    stft_frames = (samples + HOP_LENGTH - 1) // HOP_LENGTH
    return (stft_frames + SPLICE - 1) // SPLICE


class FilterBank:
    """Waveforms to encoder input: `utterance` gives (frames, 240) for one, `batch` (T, B, 240) plus lengths
    for several, zero-padded to the longest."""

    def __init__(self, device: str = "cpu"):
        import torch

        self.torch = torch
        self.device = device
        self.window = torch.hann_window(WIN_LENGTH, periodic=False, dtype=torch.float32, device=device)
        self.fb = torch.from_numpy(mel_filters()).to(device)

    def utterance(self, wave: np.ndarray):
        torch = self.torch
        x = torch.from_numpy(np.ascontiguousarray(wave, dtype=np.float32)).to(self.device)
        x = torch.cat((x[:1], x[1:] - PREEMPHASIS * x[:-1]))
        spec = torch.stft(
            x, N_FFT, HOP_LENGTH, WIN_LENGTH, self.window, center=True, pad_mode="reflect", return_complex=True
        )
        power = spec.real.square() + spec.imag.square() + DITHER**2  # (257, frames)
        logmel = torch.log(self.fb @ power + LOG_GUARD)  # (80, frames)
        frames = logmel.shape[1]
        shifted = [logmel]
        for n in range(1, SPLICE):
            s = torch.zeros_like(logmel)
            s[:, : frames - n] = logmel[:, n:]
            shifted.append(s)
        x = torch.cat(shifted, dim=0)[:, ::SPLICE]  # (240, ceil(frames / 3))
        x = x[:, : frame_count(wave.shape[0])]
        mean = x.mean(dim=1, keepdim=True)
        std = x.std(dim=1, keepdim=True) + STD_GUARD
        return ((x - mean) / std).T.contiguous()

    def batch(self, waves: list[np.ndarray], pad_to: int = 1):
        """(features (T, B, 240) float32, lengths (B,) int64), T the longest utterance's frame count rounded up
        to a multiple of pad_to (fewer distinct shapes for the LSTMs; the frames past each length are zeros)."""
        torch = self.torch
        feats = [self.utterance(w) for w in waves]
        lengths = torch.tensor([f.shape[0] for f in feats], dtype=torch.int64)
        frames = -(-int(lengths.max()) // pad_to) * pad_to
        out = torch.zeros(frames, len(feats), FEATURES, dtype=torch.float32, device=self.device)
        for i, f in enumerate(feats):
            out[: f.shape[0], i] = f
        return out, lengths
