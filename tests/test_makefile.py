"""The Makefile's entry points install and start only what they need: `make demo` no podman and no Slurm, `make
test` Slurm's packages but no daemon (the tests that need it start and stop it: conftest's slurm_cluster).
Read with `make -n -B` (every command of the target's whole dependency closure, none run)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def dry_run(target: str) -> str:
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    r = subprocess.run(["make", "-n", "-B", target], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    return r.stdout


def commands(target: str) -> str:
    """Every command `make TARGET` would run from scratch, and the scripts those commands run (one level)."""
    text = dry_run(target)
    for script in sorted(set(re.findall(r"scripts/[\w.-]+\.sh", text))):
        text += "\n" + (ROOT / script).read_text()
    return text


def test_make_demo_installs_and_starts_neither_podman_nor_slurm():
    text = commands("demo")
    assert "scripts/engine-setup.sh" in text and "scripts/demo.sh" in text  # the Docker engine, the demo itself
    for unwanted in ("podman-setup", "slurm-setup", "slurmctld", "munged", "apt-get install -y podman"):
        assert unwanted not in text, unwanted


def test_make_test_installs_slurm_but_leaves_its_daemons_to_the_tests_and_stops_them():
    text = dry_run("test")
    calls = re.findall(r"scripts/slurm-setup\.sh(?:[ \t]+(\w+))?", text)
    assert calls and set(calls) == {"install", "stop"}, calls  # never the bare start path
    assert text.index("slurm-setup.sh stop") > text.rindex("pytest")  # a last guard after both passes
