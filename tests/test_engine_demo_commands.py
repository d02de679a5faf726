"""Every family's demo command from the README, run as a newcomer would: the README's `mlperfctl demo-data DIR
--model M`, then exactly the `mlperfctl run` line it printed (its paths unchanged), in the cell's CPU container.

Kept cheap: demo-data writes few samples (`--images`), and the run gets accuracy mode (the whole path: data,
model, inference and the family's scorer, in one container), small counts, one thread, and a tree and cache of its
own appended. The images are the cells other engine tests build: the default LoadGen's for most families, and
for retinanet and dlrm (whose engine tests run their last closed round) the same `--version`.
Under podman only the first family runs."""

import glob
import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from mlperfctl.models import demo_commands, demo_markdown

pytestmark = [pytest.mark.engine, pytest.mark.slow]

ROOT = Path(__file__).resolve().parent.parent
CA_CERTS = sorted(glob.glob("/usr/local/share/ca-certificates/*.crt"))
RUN_LABEL = "io.mlperfctl.run"
# family -> (demo-data --images, run --count): the fewest samples each family's accuracy scorer takes
SIZES = {"imagenet": (4, 4), "retinanet": (2, 2), "sdxl": (6, 6), "llm": (6, 6), "bert": (4, 4), "rnnt": (4, 4),
         "unet3d": (1, 1), "dlrm": (4000, 4), "rgat": (16, 16), "yolo": (2, 2), "whisper": (4, 4)}
DEMOS = {r["family"]: r for r in demo_commands()}
# families whose own engine test runs the model's last closed round: the same --version here reuses that image
VERSION = {"retinanet": "v6.0", "dlrm": "v5.1"}


def env() -> dict:
    return {**os.environ, "MLPERFCTL_CA_CERT": os.pathsep.join(CA_CERTS), "PYTHONPATH": str(ROOT),
            "MLPERFCTL_BASE_IMAGE": "cpu=mlperfctl/debian:bookworm", "COLUMNS": "200",
            "MLPERFCTL_WHEEL_DIR": "/opt/wheels"}


def mlperfctl(argv: list[str], cwd: Path) -> subprocess.CompletedProcess:
    """A README line (`mlperfctl ...`) as the installed command would run it, from `cwd`."""
    assert argv[0] == "mlperfctl"
    return subprocess.run([sys.executable, "-m", "mlperfctl", *argv[1:]], capture_output=True, text=True,
                          cwd=cwd, env=env())


def test_the_readme_shows_these_commands():
    assert demo_markdown() in (ROOT / "README.md").read_text()
    assert set(DEMOS) == set(SIZES)


@pytest.mark.one_case_under_podman
@pytest.mark.parametrize("family", list(DEMOS))
def test_readme_demo_command_runs(family, tmp_path, local_base, no_containers):
    demo = DEMOS[family]
    if family in ("sdxl", "llm", "rnnt", "dlrm") and not glob.glob("/opt/wheels/torch-2.13.0+cpu-*.whl"):
        pytest.skip("no local torch 2.13.0 CPU wheel in /opt/wheels (download.pytorch.org is unreachable here)")
    images, count = SIZES[family]
    r = mlperfctl([*shlex.split(demo["demo_data"]), "--images", str(images)], tmp_path)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    printed = r.stdout.strip().splitlines()[-1]
    assert printed == f"next: {demo['run']}", printed  # what demo-data printed is the README's line
    sub = tmp_path / "sub"
    version = ["--version", VERSION[family]] if family in VERSION else []
    # accuracy mode: the whole path (data, model, inference, the family's scorer) in one container per family
    r = mlperfctl([*shlex.split(printed.removeprefix("next: ")), "--mode", "accuracy", "--count", str(count),
                   "--test-query-count", str(count), "--threads", "1", "--submission-dir", str(sub), "--cache-dir",
                   str(tmp_path / "cache"), *version, "--json"], tmp_path)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    summary = json.loads(r.stdout)
    model = demo["model"]
    assert summary["cell"].startswith("python-") and summary["cell"].endswith(f"-cpu-{model}")
    rows = {x["mode"]: x for x in summary["results"]}
    assert set(rows) == {"accuracy"}
    assert rows["accuracy"]["accuracy"], rows["accuracy"]
    res = next((sub / "open" / "mlperfctl" / "results").glob(f"*/{model}/Offline"))
    assert (res / "accuracy" / "accuracy.txt").is_file()
    raw = Path(summary["results_dir"])
    assert raw.is_relative_to(tmp_path / "sub-raw") and (raw / "Offline" / "accuracy" / "console.log").is_file()
    assert no_containers(RUN_LABEL, f"io.mlperfctl.cell={summary['cell']}")
