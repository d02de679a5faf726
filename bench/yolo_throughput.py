"""yolo-99/yolo-95 throughput on this machine (figures, not a timed test):

1. the harness's hot path on the demo yolo11l: the answer function a worker of the run skeleton calls per batch
   (runner.detection_answerer: the dataset's letterboxed inputs, one onnxruntime call per image, NMS and the
   scaling back to the image, the accuracy-log payload and a LoadGen QuerySampleResponse per sample), minus
   LoadGen itself;
2. plain onnxruntime InferenceSession.run on the same inputs, same threads (the model alone: no NMS, no payload);
3. their ratio (target >= 0.95), the median of the rounds. The two alternate batch by batch.

yolo11l takes about a second per demo image (640x224 after the letterbox) on a small CPU: the defaults are small.
Usage: python bench/yolo_throughput.py [--workdir DIR] [--samples N] [--rounds R] [--batch B] [--threads T]
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlperf_harness.workloads.yolo import ONNX_FILE, ONNX_INPUT, ONNX_OUTPUT, backends, dataset, demo
from mlperf_harness.workloads.yolo.runner import detection_answerer


def harness_batch(answer, idx: np.ndarray) -> float:
    """Seconds for one batch through the worker's answer function (responses built, payloads kept)."""
    start = time.monotonic()
    responses, keep = answer(list(range(len(idx))), idx.tolist())
    assert len(responses) == len(keep) == len(idx)
    return time.monotonic() - start


def plain_batch(session, ds: dataset.Dataset, idx: np.ndarray) -> float:
    """Seconds for the same samples through InferenceSession.run, one image per call."""
    start = time.monotonic()
    for x in ds.batch(idx.tolist()):
        session.run([ONNX_OUTPUT], {ONNX_INPUT: x})
    return time.monotonic() - start


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", help="reuse this directory (demo data and cache) instead of a temporary one")
    p.add_argument("--samples", type=int, default=4, help="samples per timed run")
    p.add_argument("--rounds", type=int, default=3, help="timed runs of each kind")
    p.add_argument("--batch", type=int, default=1, help="samples per answer() call")
    p.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    a = p.parse_args()
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(a.workdir or tmp)
        model = work / demo.MODELS_DIR / ONNX_FILE
        if not model.is_file():
            demo.write(work, 4, seed=0)
        runner = backends.create("onnxruntime", "cpu", model, a.threads)
        entries = dataset.read_annotations(work / demo.DATASET_DIR)
        ds = dataset.Dataset(entries, work / "cache", a.threads, runner.rect)
        ds.load(list(range(len(entries))))
        answer = detection_answerer(runner, ds)()
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = a.threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(model), opts, providers=["CPUExecutionProvider"])
        order = np.random.default_rng(0).integers(0, len(entries), a.samples)
        first = ds.batch([0])
        runner.predict(first)  # warm-up for both, untimed
        session.run([ONNX_OUTPUT], {ONNX_INPUT: first[0]})
        print(f"threads={a.threads} batch={a.batch} samples={a.samples} rounds={a.rounds} "
              f"input={tuple(first[0].shape)}")
        # Batch by batch, alternating which goes first, so each pair sees about the same load from anything else
        # on the machine (other processes share these cores).
        harness, plain = [], []
        for r in range(a.rounds):
            th = tp = 0.0
            for n, i in enumerate(range(0, len(order), a.batch)):
                idx = order[i : i + a.batch]
                if (r + n) % 2:
                    tp += plain_batch(session, ds, idx)
                    th += harness_batch(answer, idx)
                else:
                    th += harness_batch(answer, idx)
                    tp += plain_batch(session, ds, idx)
            harness.append(len(order) / th)
            plain.append(len(order) / tp)
        print(f"harness answer():           best {max(harness):8.4f} samples/s  {[round(h, 4) for h in harness]}")
        print(f"plain onnxruntime run():    best {max(plain):8.4f} samples/s  {[round(x, 4) for x in plain]}")
        ratios = sorted(h / x for h, x in zip(harness, plain, strict=True))
        print(f"ratio harness/plain, median of rounds: {statistics.median(ratios):6.3f}  (target >= 0.95)")
        print(f"ratio of the best rounds:              {max(harness) / max(plain):6.3f}  rounds: {ratios}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
