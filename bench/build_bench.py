"""Build benchmark: prints figures (not a timed test).

On a throwaway copy of the project (so the harness can be edited), for the buildable CPU cells
(python-onnxruntime-cpu-*, on the local Debian base, CA certificates from
/usr/local/share/ca-certificates):
  1. cold build: `mlperfctl build --no-cache` (every stage rebuilt; pip's download cache mount
     stays warm, so this measures building, not the network)
  2. no-op build: nothing changed (no engine build call)
  3. harness-only change: one file in mlperf_harness/ edited
  4. bytes stored: unique layer bytes of all these cells against one cell's image

Run: .venv/bin/python bench/build_bench.py [--select GLOB] [--skip-cold]
"""

import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docker

ROOT = Path(__file__).resolve().parent.parent
BASE = os.environ.get("MLPERFCTL_LOCAL_BASE", "mlperfctl/debian:bookworm")


def mlperfctl(cwd, *args):
    env = {**os.environ, "MLPERFCTL_BASE_IMAGE": f"cpu={BASE}",
           "MLPERFCTL_CA_CERT": os.pathsep.join(sorted(glob.glob("/usr/local/share/ca-certificates/*.crt")))}
    t0 = time.monotonic()
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "build", "--json", *args], cwd=cwd, env=env,
                       capture_output=True, text=True)
    wall = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"build failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout), wall


def layer_dirs(client, tag) -> list[str]:
    """The engine's on-disk directories of an image's layers (overlay2: LowerDir + UpperDir)."""
    data = client.images.get(tag).attrs["GraphDriver"]["Data"] or {}
    dirs = [d for d in (data.get("LowerDir") or "").split(":") if d]
    return dirs + [data["UpperDir"]] if data.get("UpperDir") else dirs


def du(path: str) -> int:
    return int(subprocess.run(["du", "-sb", path], capture_output=True, text=True).stdout.split()[0] or 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--select", default="python-onnxruntime-cpu-*")
    ap.add_argument("--skip-cold", action="store_true")
    args = ap.parse_args()
    client = docker.from_env()
    with tempfile.TemporaryDirectory(prefix="mlperfctl-bench-") as tmp:
        proj = Path(tmp)
        for name in ("templates", "locks", "mlperf_harness"):
            shutil.copytree(ROOT / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy(ROOT / "matrix.yaml", proj / "matrix.yaml")
        sel = ("--select", args.select)
        print(f"cells: {args.select} on {BASE}")
        if not args.skip_cold:
            data, wall = mlperfctl(proj, *sel, "--no-cache")
            n = len(data["cells"])
            print(f"cold build (--no-cache):   {wall:7.1f} s for {n} cells, {data['build_calls']} stage builds")
        else:
            data, wall = mlperfctl(proj, *sel)
            print(f"first build:               {wall:7.1f} s ({data['build_calls']} stage builds)")
        noop, wall = mlperfctl(proj, *sel)
        print(f"no-op build:               {wall:7.2f} s wall, {noop['seconds']:.2f} s in mlperfctl, "
              f"{noop['build_calls']} build calls")
        (proj / "mlperf_harness" / "_bench_touch.py").write_text(f"STAMP = {time.time()!r}\n")
        changed, wall = mlperfctl(proj, *sel)
        stages = {tuple(c["stages_built"]) for c in changed["cells"]}
        print(f"harness-only change:       {wall:7.1f} s, {changed['build_calls']} stage builds, "
              f"stages rebuilt per cell: {sorted(stages)}")
        tags = [c["tag"] for c in changed["cells"]]
        per_image = {t: layer_dirs(client, t) for t in tags}
        sizes = {d: du(d) for dirs in per_image.values() for d in dirs}
        unique = sum(sizes.values())
        one = max(sum(sizes[d] for d in dirs) for dirs in per_image.values())
        unshared = sum(sizes[d] for dirs in per_image.values() for d in dirs)
        print(f"bytes stored, {len(tags)} cells:   {unique / 1e6:7.1f} MB of layers on disk "
              f"(the largest image alone {one / 1e6:.1f} MB; {unshared / 1e6:.1f} MB if nothing were shared)")

if __name__ == "__main__":
    main()
