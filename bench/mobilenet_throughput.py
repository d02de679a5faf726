"""mobilenet on tflite: harness throughput vs LiteRT's own interpreter loop (figures, not a timed test).

1. `mlperf_harness run --model mobilenet --backend tflite` Offline on the demo MobileNet v1 (float32 .tflite, or
   --quantised for the uint8 one) with the harness's default threads and batch;
2. a plain LiteRT Interpreter: set_tensor/invoke/get_tensor on the same preprocessed samples, same threads and batch;
3. their ratio (target >= 0.95).

Usage: PYTHONPATH=. python bench/mobilenet_throughput.py [--workdir DIR] [--samples N] [--rounds R] [--quantised]
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

from mlperf_harness.loadgen import lifecycle
from mlperf_harness.workloads.imagenet.demo.tflite_models import file_names


def harness_offline(work: Path, model: Path, precision: str, samples: int) -> dict:
    out = work / "offline"
    cmd = [
        sys.executable, "-m", "mlperf_harness", "run", "--model", "mobilenet", "--backend", "tflite",
        "--device", "cpu", "--scenario", "Offline", "--mode", "performance", "--execution-mode", "test",
        "--precision", precision, "--dataset-dir", str(work / "datasets/imagenet"), "--model-path", str(model),
        "--output-dir", str(out), "--cache-dir", str(work / "cache"),
        "--target-qps", str(samples / 1.1),  # LoadGen issues 1.1 x qps x min duration (1 s in test mode)
    ]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    return json.loads((out / "result.json").read_text())


def plain_litert(work: Path, model: Path, samples: int, threads: int, batch: int) -> float:
    from ai_edge_litert import interpreter as litert

    it = litert.Interpreter(model_path=str(model), num_threads=threads)
    inp, out = it.get_input_details()[0], it.get_output_details()[0]
    size = int(inp["shape"][1])
    it.resize_tensor_input(inp["index"], [batch, size, size, 3])
    it.allocate_tensors()
    kind = "uint8" if np.dtype(inp["dtype"]) == np.uint8 else "float32"
    files = sorted((work / "cache").glob(f"imagenet-inception-{size}-{kind}-*/*.npy"))
    data = np.stack([np.load(p) for p in files])
    order = np.random.default_rng(0).integers(0, len(data), samples + batch)
    it.set_tensor(inp["index"], data[order[:batch]])  # warm-up, as the harness does
    it.invoke()
    start = time.monotonic()
    for i in range(0, samples, batch):
        it.set_tensor(inp["index"], data[order[i : i + batch]])
        it.invoke()
        it.get_tensor(out["index"]).argmax(axis=1)
    return samples / (time.monotonic() - start)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", help="reuse this directory (demo data and cache) instead of a temporary one")
    p.add_argument("--samples", type=int, default=400, help="samples per timed run")
    p.add_argument("--rounds", type=int, default=5, help="timed runs of each kind")
    p.add_argument("--quantised", action="store_true", help="the uint8-quantised model (--precision int8)")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.workdir or tmp)
        names = file_names("mobilenet")
        model = work / "models" / names["int8" if a.quantised else "fp32"]
        precision = "int8" if a.quantised else "fp32"
        if not model.is_file():
            subprocess.run(
                [sys.executable, "-m", "mlperf_harness", "demo-data", str(work), "--model", "mobilenet",
                 "--images", "64"],
                check=True, capture_output=True,
            )  # fmt: skip
        threads, batch, workers = lifecycle.defaults("tflite", "cpu", None, None)
        print(f"defaults on this machine: threads={threads} batch={batch} workers={workers}; model {model.name}")
        harness, plain = [], []
        for _ in range(a.rounds):  # alternate so that each pair sees about the same load from anything else
            result = harness_offline(work, model, precision, a.samples)
            harness.append(result["metric"]["value"])
            plain.append(plain_litert(work, model, a.samples, threads, batch))
        validity = result["result_validity"]
        print(f"harness Offline via LoadGen ({validity}): best {max(harness):8.2f} samples/s  {harness}")
        print(f"plain LiteRT invoke():         best {max(plain):8.2f} samples/s  {[round(x, 2) for x in plain]}")
        ratios = sorted(h / q for h, q in zip(harness, plain, strict=True))
        print(f"ratio harness/plain, median of pairs:   {statistics.median(ratios):10.3f}  (target >= 0.95)")
        print(f"ratio of the best runs:                 {max(harness) / max(plain):10.3f}  pairs: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
