"""whisper throughput on this machine (figures, not a timed test):

1. the plain engine on the same waveforms, same threads, no LoadGen: the pytorch engine's features (30-s
   log-mel), encoder and greedy decoder (model.Transcriber.transcribe, what the harness calls), at batch 1
   and on the harness's batches: the batches are the ones the harness's worker got from LoadGen in the round's
   run (a batch costs as many decoder steps as its longest transcript);
2. the harness's `run --model whisper` Offline (test execution mode) with its batching worker pool and LoadGen,
   in tokens per second (the round's Offline metric) and samples per second;
3. their ratio in samples per second (the same samples and transcripts, so the same ratio in tokens; target
   >= 0.95).

On the demo model by default (written to --workdir); --model-path and --dataset-dir run the whisper-large-v3
checkpoint and the reference's dev-all-repack instead (--count limits the samples).

Usage: PYTHONPATH=. python bench/whisper_throughput.py [--workdir DIR] [--count N] [--batch B] [--threads T]
       [--rounds R] [--seconds S] [--model-path DIR --dataset-dir DIR]
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

from mlperf_harness.workloads.whisper import dataset, demo, model

# The harness's run (the one run skeleton, worker pool and WhisperRunner), recording the batches its worker gets
# (after the warm-up) for the plain engine to replay.
RUN = """
import json
import sys
from pathlib import Path
from mlperf_harness.cli import main
from mlperf_harness.workloads.whisper import dataset
seen = []
batch = dataset.Waves.batch
def recorded(self, indices):
    seen.append([int(i) for i in indices])
    return batch(self, indices)
dataset.Waves.batch = recorded
argv = {argv}
code = main(argv)
Path(argv[argv.index("--output-dir") + 1], "batches.json").write_text(json.dumps(seen[1:]))
sys.exit(code)
"""


def plain(engine, waves: list, batches: list[list[int]]) -> float:
    """Samples per second of the engine's transcribe() on these batches, nothing else."""
    engine.transcribe([waves[i % len(waves)] for i in range(len(batches[0]))])  # warm-up, as the harness does
    start = time.monotonic()
    for indices in batches:
        engine.transcribe([waves[j] for j in indices])
    return sum(map(len, batches)) / (time.monotonic() - start)


def random_batches(count: int, samples: int, batch: int) -> list[list[int]]:
    order = np.random.default_rng(0).integers(0, count, samples).tolist()
    return [order[i : i + batch] for i in range(0, samples, batch)]


def harness_offline(data: Path, model_path: Path, out: Path, count, threads: int, batch: int, qps: float):
    """result.json of an Offline run and the batches its worker got."""
    argv = [
        "run", "--model", "whisper", "--backend", "pytorch", "--device", "cpu", "--scenario", "Offline",
        "--mode", "performance", "--execution-mode", "test", "--dataset-dir", str(data),
        "--model-path", str(model_path), "--output-dir", str(out), "--precision", "fp32",
        "--target-qps", str(qps), "--threads", str(threads), "--max-batchsize", str(batch),
    ]  # fmt: skip
    if count:
        argv += ["--count", str(count)]
    subprocess.run([sys.executable, "-c", RUN.format(argv=repr(argv))], check=True, capture_output=True)
    return json.loads((out / "result.json").read_text()), json.loads((out / "batches.json").read_text())


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", help="demo data here (default: a temporary dir)")
    p.add_argument("--model-path", help="a whisper-large-v3 checkpoint folder (default: the demo's)")
    p.add_argument("--dataset-dir", help="a dir with dev-all-repack.json (default: the demo's)")
    p.add_argument("--count", type=int, help="samples to use (default: 16 demo ones, or all)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0, help="length of each timed run")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.workdir or tmp)
        if a.model_path is None or a.dataset_dir is None:
            demo.write(work, a.count or 16, seed=1)
        model_path = Path(a.model_path) if a.model_path else work / demo.MODEL_DIR
        data = Path(a.dataset_dir) if a.dataset_dir else work / demo.DATASET_DIR
        samples = dataset.read_manifest(data, count=a.count)
        waves = dataset.Waves(samples).batch(list(range(len(samples))))
        engine = model.Transcriber(model_path, "cpu", "fp32", a.threads)
        raw1 = plain(engine, waves, random_batches(len(waves), 16, 1))
        first = plain(engine, waves, random_batches(len(waves), 32, a.batch))
        # LoadGen issues 1.1 x target_qps x min duration (1 s in test mode): about `seconds` of work
        qps = first * a.seconds / 1.1
        raw, harness, tokens = [], [], []
        for r in range(a.rounds):
            result, batches = harness_offline(data, model_path, work / f"run{r}", a.count, a.threads, a.batch, qps)
            detail = (work / f"run{r}" / "mlperf_log_detail.txt").read_text()
            rate = [json.loads(line[line.index("{"):])["value"] for line in detail.splitlines()
                    if '"key": "result_samples_per_second"' in line]
            harness.append(round(float(rate[0]), 3))
            tokens.append(result["metric"]["value"])
            raw.append(plain(engine, waves, batches))
        issued = sum(map(len, batches))
        raw_m, harness_m = statistics.median(raw), statistics.median(harness)
        audio = sum(s.duration for s in samples) / len(samples)
        print(f"whisper, {len(samples)} samples of {audio:.2f} s on average (padded to 30 s), threads={a.threads}, "
              f"{issued} samples a run")
        print(f"plain engine, batch 1        : {raw1:9.2f} samples/s")
        rounds = [round(x, 2) for x in raw]
        print(f"plain engine, batch {a.batch:<2d}       : {raw_m:9.2f} samples/s  (rounds: {rounds})")
        print(f"harness Offline, batch {a.batch:<2d}    : {harness_m:9.2f} samples/s  (rounds: {harness}; "
              f"{statistics.median(tokens):.2f} tokens/s)")
        ratios = [round(h / r, 3) for h, r in zip(harness, raw, strict=True)]
        print(f"harness / plain engine       : {statistics.median(ratios):9.3f}  (target >= 0.95; median of the "
              f"rounds' ratios {ratios})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
