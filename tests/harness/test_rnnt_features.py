"""rnnt features: the Slaney mel filters against hand-computed and librosa values, the frame arithmetic, and
the whole pipeline against values the reference's FilterbankFeatures gave for a fixed signal."""

import math

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="torch is not installed in this environment")

from mlperf_harness.workloads.rnnt import features as F  # noqa: E402 - after the importorskip above


def test_slaney_mel_scale():
    assert F.hz_to_mel(1000.0) == pytest.approx(15.0)
    assert F.hz_to_mel(200.0) == pytest.approx(3.0)  # linear part: 3 mels per 200 Hz
    assert F.hz_to_mel(6400.0) == pytest.approx(42.0)  # 27 mels per factor 6.4 above 1 kHz
    for hz in (0.0, 440.0, 999.0, 1000.0, 3000.0, 8000.0):
        assert F.mel_to_hz(F.hz_to_mel(hz)) == pytest.approx(hz, abs=1e-9)


def test_mel_filters_by_hand():
    fb = F.mel_filters()
    assert fb.shape == (80, 257) and fb.dtype == np.float32
    # by hand: mel(8000) = 15 + 27 ln(8) / ln(6.4) = 45.245646; 82 edges 45.245646 / 81 = 0.558588 mel apart,
    # the first ones linear: 0, 37.23921, 74.47842 Hz. FFT bin k is at 31.25 k Hz. Filter 0 is the triangle
    # 0 -> 37.24 -> 74.48 Hz scaled by 2 / 74.47842 = 0.0268534:
    #   bin 1 (31.25 Hz): rising 31.25 / 37.23921 = 0.839176 -> 0.0225345
    #   bin 2 (62.5 Hz): falling (74.47842 - 62.5) / 37.23921 = 0.321663 -> 0.0086377
    mel_max = 15 + 27 * math.log(8) / math.log(6.4)
    step_hz = mel_max / 81 * 200 / 3
    assert step_hz == pytest.approx(37.23921, abs=1e-5)
    assert fb[0, 1] == pytest.approx(0.0225345, rel=1e-5)
    assert fb[0, 2] == pytest.approx(0.0086377, rel=1e-4)
    assert fb[0, 0] == 0.0 and fb[0, 3] == 0.0
    # librosa.filters.mel(sr=16000, n_fft=512, n_mels=80, fmin=0, fmax=8000) (librosa 0.11.0), as the reference
    librosa = {
        (1, 2): 0.018215704709291458,
        (1, 3): 0.012956565245985985,
        (40, 50): 0.0,
        (79, 240): 0.0010662341956049204,
        (79, 250): 0.0021035580430179834,
    }
    for (i, j), value in librosa.items():
        assert fb[i, j] == pytest.approx(value, rel=1e-5, abs=1e-9)
    assert np.nonzero(fb[79])[0][[0, -1]].tolist() == [238, 255]


def test_frame_count():
    assert F.frame_count(105440) == 220  # the manifest's first utterance: 659 STFT frames, spliced by 3
    assert F.frame_count(160) == 1
    assert F.frame_count(481) == 2  # 4 STFT frames
    assert F.frame_count(16000) == 34


def _signal(n=8000):
    i = np.arange(n)
    noise = 0.01 * (((i * 7919) % 101) - 50) / 50
    return (0.5 * np.sin(2 * np.pi * 440 * i / 16000) + 0.25 * np.sin(2 * np.pi * 1234 * i / 16000) + noise).astype(
        np.float32
    )


def test_features_match_the_reference():
    # Values of the reference's FilterbankFeatures (v4.0, rnnt.toml input_eval, batch 1) for _signal():
    # (frame, feature) -> value; features 0-79 are frame 3t's mels, 80-159 frame 3t+1's, 160-239 frame 3t+2's.
    reference = {
        (0, 0): 3.811267614364624,
        (0, 5): 3.8795011043548584,
        (3, 10): -0.26114028692245483,
        (8, 80): -1.317065954208374,
        (16, 161): 3.878028154373169,
        (16, 239): -3.8711609840393066,
        (10, 200): -0.32507187128067017,
    }
    x = F.FilterBank().utterance(_signal())
    assert tuple(x.shape) == (17, 240) and x.dtype == torch.float32
    for (t, f), value in reference.items():
        assert x[t, f].item() == pytest.approx(value, abs=2e-4)


def test_features_are_normalised_per_feature():
    # float32 rounding of the log-mels is amplified where a band hardly varies (tiny std): loose bounds
    x = F.FilterBank().utterance(_signal(24000)).double()
    assert x.shape == (50, 240)
    assert x.mean(dim=0).abs().max().item() < 5e-3
    std = x.std(dim=0)  # std / (std + 1e-5): below 1 where the band hardly varies (the high mels of tones)
    assert std.max().item() < 1 and std[:20].sub(1).abs().max().item() < 1e-3
    assert x.mean(dim=0).abs().median().item() < 1e-5


def test_splicing_stacks_the_next_two_frames():
    # 4000 samples: 26 STFT frames -> 9 spliced frames, frame t = STFT frames 3t, 3t+1, 3t+2 side by side;
    # frame 8's third block would be STFT frame 26, past the end: zeros before the normalisation.
    fb = F.FilterBank()
    wave = torch.from_numpy(_signal(4000))
    x = fb.utterance(wave.numpy())
    assert x.shape == (9, 240)
    emphasised = torch.cat((wave[:1], wave[1:] - 0.97 * wave[:-1]))
    power = torch.stft(emphasised, 512, 160, 320, fb.window, return_complex=True).abs().square()
    raw = torch.log(fb.fb @ (power + 1e-10) + 1e-20)
    assert raw.shape == (80, 26)
    spliced = torch.cat((raw[:, 0::3], raw[:, 1::3], torch.cat((raw[:, 2::3], torch.zeros(80, 1)), dim=1)))
    norm = (spliced - spliced.mean(1, keepdim=True)) / (spliced.std(1, keepdim=True) + 1e-5)
    assert torch.allclose(x, norm.T, atol=1e-3)


def test_batch_is_the_utterances_padded():
    fb = F.FilterBank()
    waves = [_signal(8000), _signal(3000), _signal(12345)]
    feats, lengths = fb.batch(waves)
    assert lengths.tolist() == [17, 7, 26]
    assert tuple(feats.shape) == (26, 3, 240)
    for i, w in enumerate(waves):
        alone = fb.utterance(w)
        assert torch.equal(feats[: lengths[i], i], alone)
        assert feats[lengths[i] :, i].abs().sum().item() == 0.0
    padded, same = fb.batch(waves, pad_to=16)
    assert tuple(padded.shape) == (32, 3, 240) and torch.equal(same, lengths)
    assert torch.equal(padded[:26], feats) and padded[26:].abs().sum().item() == 0.0
