"""Seeded random ResNet50 v1.5 parameters, named as torchvision's state_dict."""

import numpy as np

STAGES = ((64, 3), (128, 4), (256, 6), (512, 3))
EXPANSION = 4


def _conv(rng: np.random.Generator, out_ch: int, in_ch: int, k: int, gain: float = 1.0) -> np.ndarray:
    fan_in = in_ch * k * k
    return (rng.standard_normal((out_ch, in_ch, k, k), dtype=np.float32) * (gain * np.sqrt(2.0 / fan_in))).astype(
        np.float32
    )


def _bn(rng: np.random.Generator, prefix: str, ch: int, params: dict) -> None:
    params[f"{prefix}.weight"] = (1.0 + 0.1 * rng.standard_normal(ch, dtype=np.float32)).astype(np.float32)
    params[f"{prefix}.bias"] = (0.1 * rng.standard_normal(ch, dtype=np.float32)).astype(np.float32)
    params[f"{prefix}.running_mean"] = (0.1 * rng.standard_normal(ch, dtype=np.float32)).astype(np.float32)
    params[f"{prefix}.running_var"] = (1.0 + 0.2 * rng.random(ch, dtype=np.float32)).astype(np.float32)


def resnet50_params(seed: int, num_classes: int = 1000) -> dict[str, np.ndarray]:
    """Every parameter and BN buffer of a torchvision ResNet50, from one seed (insertion order is fixed)."""
    rng = np.random.default_rng(seed)
    params: dict[str, np.ndarray] = {"conv1.weight": _conv(rng, 64, 3, 7)}
    _bn(rng, "bn1", 64, params)
    in_ch = 64
    for stage, (width, blocks) in enumerate(STAGES, start=1):
        for b in range(blocks):
            p = f"layer{stage}.{b}"
            out_ch = width * EXPANSION
            params[f"{p}.conv1.weight"] = _conv(rng, width, in_ch, 1)
            _bn(rng, f"{p}.bn1", width, params)
            params[f"{p}.conv2.weight"] = _conv(rng, width, width, 3)
            _bn(rng, f"{p}.bn2", width, params)
            # A small last conv keeps the residual sum's scale steady through 16 blocks.
            params[f"{p}.conv3.weight"] = _conv(rng, out_ch, width, 1, gain=0.2)
            _bn(rng, f"{p}.bn3", out_ch, params)
            if b == 0:
                params[f"{p}.downsample.0.weight"] = _conv(rng, out_ch, in_ch, 1)
                _bn(rng, f"{p}.downsample.1", out_ch, params)
            in_ch = out_ch
    params["fc.weight"] = (rng.standard_normal((num_classes, in_ch), dtype=np.float32) / np.sqrt(in_ch)).astype(
        np.float32
    )
    params["fc.bias"] = np.zeros(num_classes, dtype=np.float32)
    return params
