"""Harness throughput on this machine (figures, not a timed test):

1. `mlperf_harness run` Offline on the demo ResNet50 with the harness's default threads and batch;
2. plain onnxruntime InferenceSession.run on the same preprocessed samples, same threads and batch;
3. their ratio (target >= 0.97);
4. the null SUT: the harness's worker pool and LoadGen with no model (target >= 500,000 samples/s).

Usage: python bench/harness_throughput.py [--workdir DIR] [--samples N] [--rounds R]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlperf_harness.loadgen import lifecycle, pool, settings
from mlperf_harness.workloads.imagenet.runner import top1_answerer


def harness_offline(work: Path, samples: int) -> dict:
    out = work / "offline"
    cmd = [
        sys.executable, "-m", "mlperf_harness", "run", "--model", "resnet50", "--backend", "onnxruntime",
        "--device", "cpu", "--scenario", "Offline", "--mode", "performance", "--execution-mode", "test",
        "--dataset-dir", str(work / "datasets/imagenet"), "--model-path", str(work / "models/resnet50_v1.onnx"),
        "--output-dir", str(out), "--cache-dir", str(work / "cache"),
        "--target-qps", str(samples / 1.1),  # LoadGen issues 1.1 x qps x min duration (1 s in test mode)
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return json.loads((out / "result.json").read_text())


def plain_onnxruntime(work: Path, samples: int, threads: int, batch: int) -> float:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    session = ort.InferenceSession(str(work / "models/resnet50_v1.onnx"), opts, providers=["CPUExecutionProvider"])
    data = np.stack([np.load(p) for p in sorted((work / "cache").glob("imagenet-vgg-*/*.npy"))])
    order = np.random.default_rng(0).integers(0, len(data), samples)
    session.run(["ArgMax:0"], {"input_tensor:0": data[:batch]})  # warm-up, as the harness does
    start = time.monotonic()
    for i in range(0, samples, batch):
        session.run(["ArgMax:0"], {"input_tensor:0": data[order[i : i + batch]]})
    return samples / (time.monotonic() - start)


class NullBackend:
    label_offset = 0

    def predict(self, indices: np.ndarray) -> np.ndarray:
        return np.zeros(len(indices), np.int64)


class NullDataset:
    def load(self, indices):
        pass

    def unload(self, indices):
        pass

    def batch(self, indices):
        return indices


def null_sut(work: Path, batch: int, samples: int) -> float:
    import mlperf_loadgen as lg

    out = work / f"null-{batch}"
    out.mkdir(parents=True, exist_ok=True)
    rs = settings.RunSettings("resnet50", "Offline", "performance", "test", samples / 1.1, None, None)
    (out / "user.conf").write_text(settings.user_conf(rs))
    log = lg.LogSettings()
    log.log_output.outdir = str(out)
    log.enable_trace = False
    workers = pool.WorkerPool(top1_answerer(NullBackend(), NullDataset(), batch), 1, batch)
    try:
        pool.run(workers, NullDataset(), 1024, 1024, settings.test_settings(rs, out / "user.conf"), log)
    finally:
        workers.stop()
    text = (out / "mlperf_log_summary.txt").read_text()
    return float(text.split("Samples per second:")[1].split()[0])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", help="reuse this directory (demo data and cache) instead of a temporary one")
    p.add_argument("--samples", type=int, default=250, help="ResNet50 samples per timed run")
    p.add_argument("--rounds", type=int, default=5, help="timed runs of each kind")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.workdir or tmp)
        if not (work / "models/resnet50_v1.onnx").is_file():
            subprocess.run(
                [sys.executable, "-m", "mlperf_harness", "demo-data", str(work), "--images", "64"],
                check=True,
                capture_output=True,
            )
        threads, batch, workers = lifecycle.defaults("onnxruntime", "cpu", None, None)
        print(f"defaults on this machine: threads={threads} batch={batch} workers={workers}")
        # Alternate the two so that each pair sees about the same load from anything else on the machine.
        harness, plain = [], []
        for _ in range(a.rounds):
            result = harness_offline(work, a.samples)
            harness.append(result["metric"]["value"])
            plain.append(plain_onnxruntime(work, a.samples, threads, batch))
        print(
            f"harness Offline via LoadGen ({result['result_validity']}): best {max(harness):8.2f} samples/s  {harness}"
        )
        print(
            f"plain onnxruntime run():                best {max(plain):8.2f} samples/s  {[round(p, 2) for p in plain]}"
        )
        ratios = sorted(h / p for h, p in zip(harness, plain, strict=True))
        print(f"ratio harness/plain, median of pairs:   {statistics.median(ratios):10.3f}  (target >= 0.97)")
        print(f"ratio of the best runs:                 {max(harness) / max(plain):10.3f}  pairs: {ratios}")
        for null_batch in (batch, 4096):
            sps = null_sut(work, null_batch, 2_000_000)
            print(f"null SUT Offline, batch {null_batch:5d}:          {sps:10.0f} samples/s  (target >= 500000)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
