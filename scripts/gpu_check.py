"""The GPU check that scripts/gpu-check.sh runs: each model on the pytorch backend through the harness (LoadGen,
the same code as `python -m mlperf_harness run`) and through a raw loop of the same framework calls without it,
Offline and Server, on demo data it writes itself; one table at the end.

    python scripts/gpu_check.py --device cuda|cpu --work DIR [--count N] [--queries N] [--models M,...]

Each (model, scenario, path) runs in its own process (`one ...`), so peak GPU memory
(torch.cuda.max_memory_allocated) is that path's alone and a CUDA failure in one path does not end the others:
its error goes into the table. Both paths use the workload's own Runner (prepare, defaults, load, warm_up in the
harness's order, so the same threads, batch size and model) and, after its warm_up, nothing else untimed.

Offline, the same work on both sides:
- harness: LoadGen in test execution mode with no target QPS, so it issues ONE query of exactly --queries samples
  (LoadGen's Offline sample count is max(min_query_count, 1.1 x target_qps x min_duration): a target QPS would
  make it more samples, in more and differently composed batches, than the raw loop runs); the figure is
  LoadGen's result_samples_per_second: those samples / (last completion - start), one pass.
- raw: the same --queries sample indices cut by the harness's own split (the pool's max_batch slices, or the
  workload's length-sorted batches for bert and the LLM) and answered by the same function the pool's workers
  call (the Runner's answerer(); for the LLM its Generator.generate, timing the first token), on a worker
  thread as the pool does (torch's intra-op threading behaves differently on the main thread: on a busy CPU the
  main thread ran the same call 3-6 x slower); the passes repeat until --raw-seconds; samples / seconds, the
  first pass included (the harness has only a first pass).
- harness/raw: so LoadGen's and the pool's overhead (and, on a GPU, the pool's second worker overlapping host
  work with the device) on identical computation: ~1 on a quiet machine when a pass lasts well over LoadGen's
  fixed start and first-completion cost (tens of ms: --queries 4 of bert on a CPU is one 30 ms batch, and reads
  ~0.4); LoadGen draws the indices at random (with repeats) where the raw loop takes them in turn, so bert/LLM
  batches may differ a little in length.

Server, not a throughput ratio: the harness is given a target QPS of SERVER_LOAD x the raw serial rate (raw:
one sample per call, one after another, per-call latency p99), and LoadGen's completed-samples rate can only
approach that target; the table gives the target, achieved/target (~1 when the harness keeps up) and the p99
latency of the harness (LoadGen's, queueing included) against the raw per-call p99; TTFT/TPOT for the LLM."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

MODELS = {  # model -> (demo dataset folder, demo model path) under the model's demo dir
    "resnet50": ("datasets/imagenet", "models/resnet50-19c8e357.pth"),
    "bert-99": ("datasets/squad", "models/bert/model.pytorch"),
    "llama2-70b-99": ("datasets/open-orca", "models/Llama-2-70b-chat-hf"),
}
SCENARIOS = ("Offline", "Server")
SERVER_LOAD = 0.5  # Server target QPS as a fraction of the raw serial rate
MARK = "GPU-CHECK-RESULT "


def _args(model: str, scenario: str, device: str, demo: Path, out: Path, count: int, queries: int,
          target: float | None) -> list[str]:
    data, weights = MODELS[model]
    argv = ["run", "--model", model, "--backend", "pytorch", "--device", device, "--scenario", scenario,
            "--mode", "performance", "--execution-mode", "test", "--dataset-dir", str(demo / data),
            "--model-path", str(demo / weights), "--output-dir", str(out), "--count", str(count),
            "--test-query-count", str(queries), "--cache-dir", str(demo / "cache")]  # preprocessed once per model
    return argv + (["--target-qps", f"{target:.4f}"] if target else [])


def _gpu_peak(device: str) -> float | None:
    if device != "cuda":
        return None
    import torch

    return round(torch.cuda.max_memory_allocated() / 2**20, 1)


def one_harness(a) -> dict:
    """The harness in this process (cli.main is `python -m mlperf_harness`), then its result.json."""
    from mlperf_harness import cli

    out = Path(a.out)
    argv = _args(a.model, a.scenario, a.device, Path(a.demo), out, a.count, a.queries, a.target)
    code = cli.main(argv)
    if code != 0:
        raise RuntimeError(f"mlperf_harness run exited {code}")
    result = json.loads((out / "result.json").read_text())
    qps = _samples_per_second(out / "mlperf_log_detail.txt", result)
    lat = result.get("token_latencies") or {}
    from mlperf_harness.loadgen import logs

    p99 = logs.read_detail(out / "mlperf_log_detail.txt").get("result_99.00_percentile_latency_ns")
    return {"qps": qps, "p99_ms": round(float(p99) * 1e-6, 2) if p99 else None, "ttft_ms": lat.get("ttft_p99_ms"),
            "tpot_ms": lat.get("tpot_p99_ms"), "gpu_mib": _gpu_peak(a.device)}


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000, 2)


def _samples_per_second(detail_log: Path, result: dict) -> float:
    """Completed samples per second of the test (LoadGen's own count), from the detail log."""
    from mlperf_harness.loadgen import logs

    detail = logs.read_detail(detail_log)
    for key in ("result_completed_samples_per_sec", "result_samples_per_second"):  # Server, Offline
        if detail.get(key):
            return float(detail[key])
    raise RuntimeError(f"no samples-per-second figure in {detail_log} ({sorted(result)[:5]}...)")


def one_raw(a) -> dict:
    """The same workload objects and batches in a plain loop on one worker thread, no LoadGen."""
    import threading

    from mlperf_harness import cli, verdict, workloads

    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    args = cli._parser().parse_args(_args(a.model, a.scenario, a.device, Path(a.demo), out, a.count, a.queries,
                                          None))
    r = workloads.get(a.model).runner(args)
    r.round = verdict.choose(None, a.model)
    r.check()
    r.prepare()
    r.threads, r.batch, r.workers = r.defaults()  # run.run's order: load() builds the model with these
    qsl = r.load(out)
    total = len(qsl)
    indices = [i % total for i in range(a.queries)]
    if hasattr(qsl, "load"):
        qsl.load(sorted(set(indices)))
    r.warm_up()
    if a.scenario == "Offline":  # one query of every sample, cut as the pool cuts it
        split = r.splitter()
        chunks = ([idx for _ids, idx in split(indices, indices)] if split is not None
                  else [indices[k:k + r.batch] for k in range(0, len(indices), r.batch)])
    else:
        chunks = [[i] for i in indices]
    result: dict = {}

    def measure():
        try:
            result.update(_loop(a, r, chunks))
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            result["exception"] = e

    worker = threading.Thread(target=measure, name="sut-0")  # where the pool's workers answer
    worker.start()
    worker.join()
    if "exception" in result:
        raise result["exception"]
    return {**result, "gpu_mib": _gpu_peak(a.device)}


def _loop(a, r, chunks: list[list[int]]) -> dict:
    """Every chunk once per pass, passes until --raw-seconds; throughput, per-call p99 and the LLM's TTFT/TPOT."""
    sync = _sync(a.device)
    calls, ttft, tpot = [], [], []
    llm = a.model.startswith(("llama2", "gptj"))
    if llm:
        prompts = r.samples.input_ids
    else:
        answer = r.answerer()
    start, done = time.perf_counter(), 0
    while done == 0 or time.perf_counter() - start < a.raw_seconds:
        for chunk in chunks:
            t0 = time.perf_counter()
            if llm:
                first: list = []
                outs = r.gen.generate([prompts[i] for i in chunk], lambda _t, f=first: f.append(time.perf_counter()))
                t1 = time.perf_counter()
                tokens = max(map(len, outs))
                ttft.append((first[0] if first else t1) - t0)
                if tokens > 1 and first:
                    tpot.append((t1 - first[0]) / (tokens - 1))
            else:
                answer(chunk, chunk)  # (query ids, sample indices): the ids only label the responses
                sync()
            calls.append(time.perf_counter() - t0)
            done += len(chunk)
    seconds = time.perf_counter() - start
    p99 = lambda xs: sorted(xs)[min(len(xs) - 1, int(0.99 * len(xs)))] if xs else None  # noqa: E731
    return {"qps": done / seconds, "p99_ms": _ms(p99(calls)), "ttft_ms": _ms(p99(ttft)), "tpot_ms": _ms(p99(tpot))}


def _sync(device: str):
    if device != "cuda":
        return lambda: None
    import torch

    return torch.cuda.synchronize


def _one(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="gpu_check.py one")
    p.add_argument("path", choices=("harness", "raw"))
    for name in ("model", "scenario", "device", "demo", "out"):
        p.add_argument("--" + name, required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--queries", type=int, required=True)
    p.add_argument("--target", type=float)
    p.add_argument("--raw-seconds", type=float, default=2.0)
    a = p.parse_args(argv)
    try:
        row = (one_harness if a.path == "harness" else one_raw)(a)
    except Exception as e:  # noqa: BLE001 - the table reports any failure of this path, one line
        row = {"error": f"{type(e).__name__}: {str(e).strip().splitlines()[0] if str(e).strip() else ''}"[:160]}
    print(MARK + json.dumps(row), flush=True)
    return 0


def _spawn(path: str, model: str, scenario: str, a, demo: Path, target: float | None = None) -> dict:
    out = Path(a.work) / "runs" / f"{model}-{scenario}-{path}"
    cmd = [sys.executable, __file__, "one", path, "--model", model, "--scenario", scenario, "--device", a.device,
           "--demo", str(demo), "--out", str(out), "--count", str(a.count), "--queries", str(a.queries)]
    if target:
        cmd += ["--target", str(target)]
    cmd += ["--raw-seconds", str(a.raw_seconds)]
    log = Path(a.work) / "logs" / f"{model}-{scenario}-{path}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    try:
        with open(log, "w") as f:
            r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=f, text=True, timeout=a.timeout)
        marked = [ln for ln in r.stdout.splitlines() if ln.startswith(MARK)]
        row = json.loads(marked[-1][len(MARK):]) if marked else {"error": f"exit {r.returncode}, no result ({log})"}
    except subprocess.TimeoutExpired:
        row = {"error": f"over --timeout {a.timeout:.0f} s ({log})"}
    row["seconds"] = round(time.monotonic() - t0, 1)
    print(f"  {model} {scenario} {path}: {row}", file=sys.stderr, flush=True)
    return row


def _demo(model: str, a) -> Path:
    demo = Path(a.work) / "demo" / model
    if not (demo / MODELS[model][1]).exists():
        subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(demo), "--model", model,
                        "--backend", "pytorch", "--images", str(a.count)], check=True, stdout=subprocess.DEVNULL)
    return demo


def _fmt(value, digits=2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


HEADER = ("Offline: harness/raw = throughput on the same samples in the same batches (~1: no harness overhead); "
          "Server: the harness runs at a target QPS of {load} x the raw serial rate, achieved/target ~1 when it keeps "
          "up, p99 = LoadGen's latency (queueing included) vs the raw per-call latency")


def table(rows: list[dict], device: str) -> str:
    head = ["model", "scenario", "harness qps", "raw qps", "Offline harness/raw", "Server target qps",
            "Server achieved/target", "p99 ms (h/raw)", "TTFT ms (h/raw)", "TPOT ms (h/raw)"]
    if device == "cuda":
        head.append("peak GPU MiB (h/raw)")
    head.append("failed")
    lines = [head]
    for row in rows:
        h, r, target = row["harness"], row["raw"], row.get("target_qps")
        offline = row["scenario"] == "Offline"
        ratio = h["qps"] / r["qps"] if offline and h.get("qps") and r.get("qps") else None
        achieved = h["qps"] / target if not offline and h.get("qps") and target else None
        pair = lambda key, d=2, h=h, r=r: f"{_fmt(h.get(key), d)}/{_fmt(r.get(key), d)}"  # noqa: E731
        cells = [row["model"], row["scenario"], _fmt(h.get("qps")), _fmt(r.get("qps")), _fmt(ratio, 3),
                 _fmt(target), _fmt(achieved, 3), pair("p99_ms"), pair("ttft_ms"), pair("tpot_ms")]
        if device == "cuda":
            cells.append(pair("gpu_mib", 0))
        errors = [f"{p}: {x['error']}" for p, x in (("harness", h), ("raw", r)) if x.get("error")]
        cells.append("; ".join(errors) or "-")
        lines.append(cells)
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(head))]
    text = [" | ".join(str(c).ljust(w) for c, w in zip(line, widths, strict=True)) for line in lines]
    text.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(text)


def main(argv: list[str]) -> int:
    if argv[:1] == ["one"]:
        return _one(argv[1:])
    p = argparse.ArgumentParser(prog="gpu-check")
    p.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    p.add_argument("--work", required=True, help="folder for demo data, runs and logs")
    p.add_argument("--count", type=int, default=64, help="dataset samples (demo data written with as many)")
    p.add_argument("--queries", type=int, default=256, help="samples per run (harness test query count, raw loop)")
    p.add_argument("--models", default=",".join(MODELS), help="comma-separated, of: " + ", ".join(MODELS))
    p.add_argument("--timeout", type=float, default=240, help="seconds per run before it is reported failed")
    p.add_argument("--raw-seconds", type=float, default=2.0,
                   help="the raw loop repeats its queries until at least this long (one measured call is noise)")
    a = p.parse_args(argv)
    models = [m for m in a.models.split(",") if m]
    unknown = [m for m in models if m not in MODELS]
    if unknown:
        print(f"error: --models {','.join(unknown)}: not checked here (choose from {', '.join(MODELS)})",
              file=sys.stderr)
        return 2
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    t0 = time.monotonic()
    rows = []
    for model in models:
        demo = _demo(model, a)
        for scenario in SCENARIOS:
            raw = _spawn("raw", model, scenario, a, demo)
            # Offline: no target QPS, so LoadGen issues exactly --queries samples (see the docstring)
            target = raw["qps"] * SERVER_LOAD if scenario == "Server" and raw.get("qps") else None
            harness = _spawn("harness", model, scenario, a, demo, target)
            rows.append({"model": model, "scenario": scenario, "target_qps": target, "harness": harness, "raw": raw})
    print(f"gpu-check --device {a.device}: {len(rows)} runs pairs in {time.monotonic() - t0:.0f} s "
          f"({HEADER.format(load=SERVER_LOAD)})")
    print(table(rows, a.device))
    (Path(a.work) / "gpu-check.json").write_text(json.dumps(rows, indent=2) + "\n")
    return 1 if any(r[p].get("error") for r in rows for p in ("harness", "raw")) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
