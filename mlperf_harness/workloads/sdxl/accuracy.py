"""`accuracy --model sdxl` (alias `accuracy-coco`): CLIP score and FID of the images in
mlperf_log_accuracy.json, as the reference's tools/accuracy_coco.py (qsl_idx i is row i of
captions/captions.tsv; each response is a uint8 HWC RGB image).
"""

import json
from pathlib import Path

import numpy as np

from mlperf_harness.errors import UsageError

FID_BATCH = 8

METRICS = ("CLIP_SCORE", "FID_SCORE")  # the accuracy.txt lines, in order


def _records(accuracy_log: Path):
    """The log's records one by one: LoadGen writes one per line, so a full-size log (about 6 MB of hex per
    1024x1024 image) never has to be in memory at once; any other layout is parsed whole."""
    if not accuracy_log.is_file():
        raise UsageError(f"{accuracy_log} does not exist", "pass --mlperf-accuracy-file from an accuracy-mode run")
    with accuracy_log.open() as f:
        first = f.readline().strip()
        try:
            if first != "[":
                yield from json.loads(first + f.read())
                return
            for line in f:
                line = line.strip().rstrip(",")
                if line and line != "]":
                    yield json.loads(line)
        except json.JSONDecodeError as e:
            raise UsageError(f"{accuracy_log} is not valid JSON ({e.msg})", "rerun the accuracy run") from None


def iter_images(accuracy_log: Path):
    """(qsl_idx, (S, S, 3) uint8 image) for the first response of each sample (LoadGen may log one twice)."""
    seen = set()
    for r in _records(accuracy_log):
        idx = r["qsl_idx"]
        if idx in seen:
            continue
        seen.add(idx)
        data = np.frombuffer(bytes.fromhex(r["data"]), np.uint8)
        side = int(round((data.size / 3) ** 0.5))
        if data.size == 0 or side * side * 3 != data.size:
            raise UsageError(
                f"qsl_idx {idx}: {data.size} bytes are not a square RGB image",
                "the accuracy log must come from an sdxl accuracy run",
            )
        yield idx, data.reshape(side, side, 3)


def read_images(accuracy_log: Path) -> dict[int, np.ndarray]:
    return dict(iter_images(accuracy_log))


def frechet_distance(mu1, sigma1, mu2, sigma2) -> float:
    """||mu1 - mu2||^2 + Tr(S1 + S2 - 2 (S1 S2)^1/2). Tr (S1 S2)^1/2 is taken as the sum of the square roots
    of the eigenvalues of S1^1/2 S2 S1^1/2 (symmetric, same spectrum as S1 S2): exact and stable when a
    covariance from few samples is singular."""
    mu1, mu2 = np.atleast_1d(mu1).astype(np.float64), np.atleast_1d(mu2).astype(np.float64)
    s1, s2 = np.atleast_2d(sigma1).astype(np.float64), np.atleast_2d(sigma2).astype(np.float64)
    if mu1.shape != mu2.shape or s1.shape != s2.shape or s1.shape != (mu1.size, mu1.size):
        raise UsageError(
            f"FID statistics of {mu1.size} and {mu2.size} features do not match",
            "use statistics made with the same Inception weights",
        )
    w, v = np.linalg.eigh((s1 + s1.T) / 2)
    root1 = (v * np.sqrt(np.clip(w, 0, None))) @ v.T
    inner = root1 @ s2 @ root1
    tr_covmean = np.sqrt(np.clip(np.linalg.eigvalsh((inner + inner.T) / 2), 0, None)).sum()
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * tr_covmean)


def read_statistics(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.is_file():
        raise UsageError(f"FID statistics {path} do not exist", "put the reference's val2014.npz there")
    with np.load(path) as f:
        if "mu" not in f or "sigma" not in f:
            raise UsageError(f"{path} lacks mu or sigma", "use the reference's val2014.npz")
        return f["mu"][:], f["sigma"][:]


def inception_features(images: list[np.ndarray], model, device: str = "cpu") -> np.ndarray:
    """(N, features) pool_3 activations of uint8 HWC images scaled to [0, 1]."""
    import torch

    out = []
    with torch.no_grad():
        for i in range(0, len(images), FID_BATCH):
            batch = np.stack(images[i : i + FID_BATCH]).astype(np.float32) / 255.0
            x = torch.from_numpy(batch).permute(0, 3, 1, 2).to(device)
            out.append(model(x).double().cpu().numpy())
    return np.concatenate(out)


def statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return features.mean(axis=0), np.atleast_2d(np.cov(features, rowvar=False))


def score(
    accuracy_log: Path,
    dataset_dir: Path,
    device: str = "cpu",
    clip_dir: Path | None = None,
    inception_weights: Path | None = None,
    stats: Path | None = None,
) -> dict:
    """{"CLIP_SCORE", "FID_SCORE", "samples"} for an accuracy log against the dataset's captions. Images are
    scored as they are read: only the Inception features of all of them are kept."""
    from . import dataset, inception
    from .clip import ClipScorer

    captions = dataset.read_captions(dataset_dir / dataset.CAPTIONS)
    mu_ref, sigma_ref = read_statistics(stats or dataset_dir / dataset.STATISTICS)
    scorer = ClipScorer(clip_dir or dataset_dir / dataset.CLIP, device)
    model = inception.load(inception_weights or dataset_dir / dataset.INCEPTION, device)
    clip, features, pending = [], [], []
    for idx, image in iter_images(accuracy_log):
        if idx >= len(captions):
            raise UsageError(
                f"qsl_idx {idx} is beyond the {len(captions)} captions of {dataset_dir}", "pass the run's dataset dir"
            )
        clip.append(scorer.score(captions[idx], image))
        pending.append(image)
        if len(pending) == FID_BATCH:
            features.append(inception_features(pending, model, device))
            pending = []
    if pending:
        features.append(inception_features(pending, model, device))
    if not clip:
        raise UsageError(f"{accuracy_log} holds no responses", "rerun the accuracy run")
    mu, sigma = statistics(np.concatenate(features))
    return {
        "CLIP_SCORE": float(np.mean(clip)),
        "FID_SCORE": frechet_distance(mu, sigma, mu_ref, sigma_ref),
        "samples": len(clip),
    }


def lines(result: dict) -> list[str]:
    """accuracy.txt: one line per metric, as the submission checker's `'CLIP_SCORE': value` patterns read."""
    return [f"{{'{k}': {result[k]:.8f}}}" for k in METRICS]


def command(a) -> int:
    """`accuracy --model sdxl` and `accuracy-coco`: print the accuracy.txt lines; --output writes them."""
    from .pipeline import quiet

    if a.dataset_dir is None:
        raise UsageError("sdxl scoring needs the captions", "pass --dataset-dir with the COCO-2014 subset")
    quiet()
    paths = {
        k: Path(v) if v else None
        for k, v in (
            ("clip_dir", a.clip_model),
            ("inception_weights", a.inception_weights),
            ("stats", a.statistics_path),
        )
    }
    result = score(Path(a.mlperf_accuracy_file), Path(a.dataset_dir), a.device, **paths)
    text = lines(result)
    print("\n".join(text))
    if a.output:
        Path(a.output).write_text("\n".join(text) + "\n")
    return 0
