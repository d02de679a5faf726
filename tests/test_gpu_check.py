"""scripts/gpu-check.sh --device cpu: the GPU machine's check, run here on the CPU so it cannot rot. Small counts:
the point is that every path runs and the one table comes out with numbers, not the figures themselves."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parent.parent


def test_gpu_check_on_the_cpu_prints_one_row_per_model_and_scenario(tmp_path, need):
    need("transformers", "generative")
    env = {**os.environ, "PYTHON": sys.executable}
    r = subprocess.run(["bash", "scripts/gpu-check.sh", "--device", "cpu", "--work", str(tmp_path),
                        "--count", "4", "--queries", "4", "--raw-seconds", "0.3"],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr[-3000:]
    lines = r.stdout.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("model "))
    rows = [[c.strip() for c in line.split("|")] for line in lines[head + 2:] if "|" in line]
    assert [(row[0], row[1]) for row in rows] == [(m, s) for m in ("resnet50", "bert-99", "llama2-70b-99")
                                                  for s in ("Offline", "Server")]
    number = re.compile(r"^\d+(\.\d+)?$")
    names = [c.strip() for c in lines[head].split("|")]
    col = {name: names.index(name) for name in ("harness qps", "raw qps", "Offline harness/raw", "Server target qps",
                                                 "Server achieved/target", "p99 ms (h/raw)", "TTFT ms (h/raw)",
                                                 "TPOT ms (h/raw)", "failed")}
    for row in rows:
        assert number.match(row[col["harness qps"]]) and number.match(row[col["raw qps"]]), row
        assert row[col["failed"]] == "-", row  # no failed path
        assert all(number.match(v) for v in row[col["p99 ms (h/raw)"]].split("/")), row
        if row[1] == "Offline":  # the same samples in the same batches on both sides: a throughput ratio
            # finite and positive only: on a shared busy CPU one harness pass against several raw passes moves a lot
            assert float(row[col["Offline harness/raw"]]) > 0 and row[col["Server target qps"]] == "-", row
        else:  # Server: the achieved rate against the target, no throughput ratio
            assert row[col["Offline harness/raw"]] == "-", row
            assert float(row[col["Server target qps"]]) > 0 and float(row[col["Server achieved/target"]]) > 0, row
        if row[0].startswith("llama2"):  # the raw loop times every LLM run's first token and the rest
            assert number.match(row[col["TTFT ms (h/raw)"]].split("/")[1]), row
            assert number.match(row[col["TPOT ms (h/raw)"]].split("/")[1]), row
    server = next(row for row in rows if row[:2] == ["llama2-70b-99", "Server"])
    # LoadGen reports TTFT and TPOT in Server (token latencies); Offline has none
    assert all(number.match(v) for v in server[col["TTFT ms (h/raw)"]].split("/")
               + server[col["TPOT ms (h/raw)"]].split("/")), server
    assert "GPU" not in lines[head]  # no GPU memory column on the CPU
    assert (tmp_path / "gpu-check.json").is_file()


def test_gpu_check_refuses_bad_input_in_one_line(tmp_path):
    r = subprocess.run(["bash", "scripts/gpu-check.sh", "--device", "tpu"], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 2 and r.stderr.strip() == "gpu-check: --device tpu: choose cuda or cpu"
    env = {**os.environ, "PYTHON": sys.executable}
    r = subprocess.run(["bash", "scripts/gpu-check.sh", "--device", "cuda", "--work", str(tmp_path)], cwd=ROOT,
                       env=env, capture_output=True, text=True)
    if r.returncode != 2:
        pytest.skip("this host's torch sees a CUDA GPU")
    assert r.stderr.strip().startswith("gpu-check: --device cuda: torch") and "sees no CUDA GPU" in r.stderr
