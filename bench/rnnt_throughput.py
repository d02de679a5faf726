"""rnnt throughput on this machine (figures, not a timed test):

1. plain PyTorch on the same waveforms: features, encoder and greedy decoder, same threads, at batch 1 and
   on the harness's batches:
   the batches are the ones the harness's worker got from LoadGen in the round's run (the cost of a batch
   depends on its longest utterance, so the same samples in another order cost another time);
2. the harness's `run --model rnnt` Offline (test execution mode) with its batching worker pool and LoadGen;
3. their ratio (target >= 0.95).

On the demo model by default (written to --workdir); --model-path and --dataset-dir run the reference
checkpoint and LibriSpeech instead (--count limits the utterances).

Usage: PYTHONPATH=. python bench/rnnt_throughput.py [--workdir DIR] [--count N] [--batch B] [--threads T]
       [--rounds R] [--seconds S] [--model-path CKPT --dataset-dir DIR]
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

from mlperf_harness.workloads.rnnt import dataset, demo, model

# The harness's run (the one run skeleton, worker pool and RnntRunner), recording the batches its worker gets
# (after the warm-up) for plain torch to replay.
RUN = """
import json
import sys
from pathlib import Path
from mlperf_harness.cli import main
from mlperf_harness.workloads.rnnt import dataset
seen = []
batch = dataset.Utterances.batch
def recorded(self, indices):
    seen.append([int(i) for i in indices])
    return batch(self, indices)
dataset.Utterances.batch = recorded
argv = {argv}
code = main(argv)
Path(argv[argv.index("--output-dir") + 1], "batches.json").write_text(json.dumps(seen[1:]))
sys.exit(code)
"""


def plain_torch(model_path: Path, waves: list, batches: list[list[int]], threads: int) -> float:
    """Samples per second of features + encoder + greedy decoder on these batches, nothing else."""
    import torch

    torch.set_num_threads(threads)
    rec = model.Recognizer(model_path)
    rec.transcribe(waves[:1])  # warm-up, as the harness does
    start = time.monotonic()
    for indices in batches:
        rec.transcribe([waves[j] for j in indices])
    return sum(map(len, batches)) / (time.monotonic() - start)


def random_batches(count: int, samples: int, batch: int) -> list[list[int]]:
    order = np.random.default_rng(0).integers(0, count, samples).tolist()
    return [order[i : i + batch] for i in range(0, samples, batch)]


def harness_offline(data: Path, model_path: Path, out: Path, count, threads: int, batch: int, qps: float):
    """result.json of an Offline run and the batches its worker got."""
    argv = [
        "run", "--model", "rnnt", "--backend", "pytorch", "--device", "cpu", "--scenario", "Offline",
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
    p.add_argument("--model-path", help="an RNN-T checkpoint (default: the demo's)")
    p.add_argument("--dataset-dir", help="a dir with dev-clean-wav.json (default: the demo's)")
    p.add_argument("--count", type=int, help="utterances to use (default: 16 demo ones, or all)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seconds", type=float, default=3.0, help="length of each timed run")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.workdir or tmp)
        if a.model_path is None or a.dataset_dir is None:
            demo.write(work, a.count or 16, seed=1)
        model_path = Path(a.model_path) if a.model_path else work / demo.MODEL_FILE
        data = Path(a.dataset_dir) if a.dataset_dir else work / demo.DATASET_DIR
        utts = dataset.read_manifest(data, count=a.count)
        waves = dataset.Utterances(utts).batch(list(range(len(utts))))
        raw1 = plain_torch(model_path, waves, random_batches(len(waves), 64, 1), a.threads)
        first = plain_torch(model_path, waves, random_batches(len(waves), 128, a.batch), a.threads)
        # LoadGen issues 1.1 x target_qps x min duration (1 s in test mode): about `seconds` of work
        qps = first * a.seconds / 1.1
        raw, harness = [], []
        for r in range(a.rounds):
            result, batches = harness_offline(data, model_path, work / f"run{r}", a.count, a.threads, a.batch, qps)
            harness.append(result["metric"]["value"])
            raw.append(plain_torch(model_path, waves, batches, a.threads))
        samples = sum(map(len, batches))
        raw_m, harness_m = statistics.median(raw), statistics.median(harness)
        audio = sum(u.duration for u in utts) / len(utts)
        print(f"rnnt, {len(utts)} utterances of {audio:.2f} s on average, threads={a.threads}, {samples} samples a run")
        print(f"plain torch, batch 1        : {raw1:9.2f} samples/s")
        print(
            f"plain torch, batch {a.batch:<2d}       : {raw_m:9.2f} samples/s  (rounds: {[round(x, 2) for x in raw]})"
        )
        print(f"harness Offline, batch {a.batch:<2d}   : {harness_m:9.2f} samples/s  (rounds: {harness})")
        ratios = [round(h / r, 3) for h, r in zip(harness, raw, strict=True)]
        print(
            f"harness / plain torch       : {statistics.median(ratios):9.3f}  (target >= 0.95; median of the rounds' "
            f"ratios {ratios})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
