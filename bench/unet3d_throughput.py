"""3D-UNet throughput and memory on this machine (figures, not a timed test):

1. the harness's per-case path (sut.respond: the sliding window with Gaussian weighting and argmax) over the demo
   cases, on the demo ONNX model through onnxruntime;
2. the raw framework call: InferenceSession.run on the same 128^3 windows, nothing else;
3. their ratio (target >= 0.95);
4. with --run, the peak RSS of a whole LoadGen accuracy run on the demo data (`result.json` peak_rss_mib).

Usage: python bench/unet3d_throughput.py [--workdir DIR] [--cases N] [--backend B] [--rounds R] [--run]
"""

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from mlperf_harness.loadgen.lifecycle import cpu_count
from mlperf_harness.workloads.unet3d import ROI, dataset, demo, inference, runner


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workdir", help="demo data dir (made if missing)")
    p.add_argument("--cases", type=int, default=1, help="demo cases (1: one 128^3 window; 2: three windows)")
    p.add_argument("--backend", default="onnxruntime", choices=("onnxruntime", "pytorch"))
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--run", action="store_true", help="also measure a LoadGen run's peak memory")
    a = p.parse_args()
    work = Path(a.workdir or tempfile.mkdtemp(prefix="unet3d-bench-"))
    if not (work / demo.PREPROCESSED_DIR / "preprocessed_files.pkl").is_file():
        demo.write(work, a.cases, 0)
    threads = cpu_count()
    model_path = work / (demo.ONNX_FILE if a.backend == "onnxruntime" else demo.PTH_FILE)
    backend = inference.create(a.backend, "cpu", model_path, threads)
    cases = dataset.Cases(work / demo.PREPROCESSED_DIR, a.cases)
    indices = list(range(len(cases)))
    cases.load(indices)
    backend.predict(np.zeros((1, 1, ROI, ROI, ROI), np.float32))  # warm-up
    windows = [
        np.ascontiguousarray(cases.volume(i)[None, :, s[0] : s[0] + ROI, s[1] : s[1] + ROI, s[2] : s[2] + ROI])
        for i in indices
        for s in inference.window_starts(cases.volume(i).shape[1:])
    ]
    raw_t, harness_t = [], []
    for _ in range(a.rounds):  # alternated, best of each: the machine is shared
        t = time.perf_counter()
        for w in windows:
            backend.predict(w)
        raw_t.append(time.perf_counter() - t)
        t = time.perf_counter()
        for i in indices:
            runner.respond(backend, cases, i)
        harness_t.append(time.perf_counter() - t)
    raw, harness = min(raw_t), min(harness_t)
    print(
        f"{a.backend}, {threads} threads, {len(indices)} cases, {len(windows)} windows of {ROI}^3, best of {a.rounds}"
    )
    print(f"raw framework: {raw:.2f} s ({raw / len(windows):.2f} s per window)")
    print(f"harness path:  {harness:.2f} s ({len(indices) / harness:.4f} cases/s)")
    print(f"ratio harness/raw throughput: {raw / harness:.3f}")
    if a.run:
        out = work / "run"
        cmd = [
            sys.executable, "-m", "mlperf_harness", "run", "--model", "3d-unet-99", "--backend",
            a.backend, "--device", "cpu", "--scenario", "Offline", "--mode", "accuracy", "--execution-mode", "test",
            "--dataset-dir", str(work / demo.PREPROCESSED_DIR), "--model-path", str(model_path),
            "--output-dir", str(out), "--count", str(a.cases),
        ]  # fmt: skip
        subprocess.run(cmd, check=True, capture_output=True)
        result = json.loads((out / "result.json").read_text())
        print(f"LoadGen accuracy run: {result['duration_s']} s, peak RSS {result['peak_rss_mib']} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
