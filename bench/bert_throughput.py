"""bert throughput on onnxruntime CPU (figures, not a timed test), on the demo BERT:

1. the harness's batch path: model.OnnxBert.run(features) (pad to the batch's longest, run, stack start/end)
   plus model.responses() (each feature's logged bytes);
2. plain InferenceSession.run on the same batches already padded, with the same threads and batch size;
3. their ratio (target >= 0.95).

Both see the same features in the same shuffled order (as LoadGen's Offline issue), batched alike; each
batch runs through both paths back to back (which one first alternates), so that load from the rest of
the machine hits both alike.
Once the LoadGen skeleton drives bert, (1) becomes a `run --model bert-99 --scenario Offline` as in
bench/harness_throughput.py.

Usage: python bench/bert_throughput.py [--workdir DIR] [--questions N] [--batch B] [--rounds R]
"""

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlperf_harness.loadgen_run import cpu_count
from mlperf_harness.workloads.bert import demo, model, squad


def batches(features: list, batch: int, seed: int = 0) -> list[list]:
    order = np.random.default_rng(seed).permutation(len(features))
    return [[features[i] for i in order[k : k + batch]] for k in range(0, len(order), batch)]


def _harness(runner, feats: list) -> float:
    t = time.perf_counter()
    model.responses(runner.run(feats), feats)
    return time.perf_counter() - t


def _plain(runner, feed: dict) -> float:
    t = time.perf_counter()
    runner.session.run(runner.outputs, feed)
    return time.perf_counter() - t


def timed_pair(runner, feats: list, feed: dict, harness_first: bool) -> tuple[float, float]:
    """Seconds for one batch through the harness path and through plain session.run, in the given order."""
    if harness_first:
        h = _harness(runner, feats)
        return h, _plain(runner, feed)
    q = _plain(runner, feed)
    return _harness(runner, feats), q


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", help="reuse this directory (demo assets and cache) instead of a temporary one")
    p.add_argument("--questions", type=int, default=48, help="demo questions (features are a few more)")
    p.add_argument("--batch", type=int, default=8, help="features per inference call")
    p.add_argument("--threads", type=int, help="intra-op threads (default: all usable cores)")
    p.add_argument("--rounds", type=int, default=10, help="timed passes over all features")
    a = p.parse_args()
    threads = a.threads or cpu_count()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.workdir or tmp)
        onnx_path = work / demo.MODEL_DIR / "model.onnx"
        if not onnx_path.is_file():
            demo.write(work, a.questions, 0)
        ds = work / demo.DATASET_DIR
        data = squad.load(ds / squad.DATASET, ds / squad.VOCAB, work / "cache")
        runner = model.create("onnxruntime", "cpu", onnx_path, threads, "fp32")
        work_batches = batches(data.features, a.batch)
        feeds = []
        for feats in work_batches:
            ids, mask, seg = model.pad_batch(feats, runner.seq_len)
            feeds.append({"input_ids": ids, "input_mask": mask, "segment_ids": seg})
        n = len(data.features)
        mean_len = sum(f.length for f in data.features) / n
        print(
            f"demo BERT, {n} features (mean {mean_len:.0f} tokens), batch {a.batch}, threads {threads}, "
            f"onnxruntime {runner.version}"
        )
        for feats, feed in zip(work_batches[:2], feeds[:2], strict=True):  # warm-up, untimed
            timed_pair(runner, feats, feed, True)
        # Each batch goes through both paths back to back, so both see the same load from the rest of the machine.
        harness, plain = [], []
        for _ in range(a.rounds):
            h = q = 0.0
            for k, (feats, feed) in enumerate(zip(work_batches, feeds, strict=True)):
                dh, dq = timed_pair(runner, feats, feed, k % 2 == 0)
                h, q = h + dh, q + dq
            harness.append(round(n / h, 1))
            plain.append(round(n / q, 1))
        print(f"harness batch path (pad, run, stack, bytes): best {max(harness):9.1f} features/s  {harness}")
        print(f"plain InferenceSession.run (pre-padded):     best {max(plain):9.1f} features/s  {plain}")
        ratios = sorted(h / q for h, q in zip(harness, plain, strict=True))
        print(f"ratio harness/plain, median of rounds: {statistics.median(ratios):.3f}  (target >= 0.95)")
        total = sum(1 / q for q in plain) / sum(1 / h for h in harness)
        print(f"ratio harness/plain, all rounds' time:  {total:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
