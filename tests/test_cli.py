"""The mlperfctl command line, run as a user would (subprocess), for matrix and generate."""

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest


def cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "mlperfctl", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_matrix_list_json_lists_every_cell(loaded):
    r = cli("matrix", "list", "--json")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert [row["id"] for row in rows] == [c.id for c in loaded.matrix.cells() if c.implementation == "python"]
    row = next(x for x in rows if x["id"] == "python-onnxruntime-cpu-resnet50")
    assert row | {} == row and row["model"] == "resnet50" and row["device"] == "cpu"
    assert row["implemented"] is True and row["runnable"] == "builtin"


def test_external_cells_are_marked_and_listed_only_when_asked():
    """The filters of `build --device cpu --backend onnxruntime --model resnet50` pick only the
    built-in cell; the MLCommons reference comes with --implementation and is marked external."""
    filters = ["--device", "cpu", "--backend", "onnxruntime", "--model", "resnet50"]
    r = cli("matrix", "list", "--json", *filters)
    assert [x["id"] for x in json.loads(r.stdout)] == ["python-onnxruntime-cpu-resnet50"]
    r = cli("matrix", "list", "--json", *filters, "--implementation", "python,reference")
    rows = {x["id"]: x["runnable"] for x in json.loads(r.stdout)}
    assert rows == {"python-onnxruntime-cpu-resnet50": "builtin", "reference-onnxruntime-cpu-resnet50": "external"}
    r = cli("matrix", "list", *filters)
    assert "external implementations shown with --implementation: reference" in " ".join(r.stdout.split())
    r = cli("matrix", "list", "--select", "reference-*", "--device", "cpu")
    assert r.returncode == 0 and "external:" in r.stdout and "build only" in r.stdout
    r = cli("run", "--model", "resnet50", "--implementation", "reference", "--device", "cpu")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "cannot drive external implementations yet" in r.stderr


def test_generate_renders_external_cells_too(tmp_path):
    r = cli("generate", "--device", "cpu", "--model", "resnet50", "--output", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "reference-onnxruntime-cpu-resnet50" / "Dockerfile").exists()


def test_matrix_list_filters():
    r = cli("matrix", "list", "--json", "--device", "cuda", "--backend", "tensorrt", "--model", "resnet50")
    assert [x["id"] for x in json.loads(r.stdout)] == ["python-tensorrt-cuda-resnet50"]


def test_unknown_filter_exit_2_one_line():
    r = cli("matrix", "list", "--device", "rcom")
    assert r.returncode == 2
    assert r.stderr.strip() == "error: unknown device 'rcom' (choose: cpu, cuda, rocm)"


def test_explain_names_the_rule():
    r = cli("matrix", "explain", "python-tensorrt-cpu-resnet50", "--json")
    info = json.loads(r.stdout)
    assert info["valid"] is False and info["reason"] == "tensorrt needs cuda"
    assert info["where"].startswith("matrix.yaml:")
    r = cli("matrix", "explain", "python-onnxruntime-cpu-resnet50")
    assert r.returncode == 0 and "is in the matrix" in r.stdout


def test_validate_broken_matrix(tmp_path, root):
    bad = tmp_path / "matrix.yaml"
    bad.write_text((root / "matrix.yaml").read_text().replace("  rocm:\n    description",
                                                               "  rcom:\n    description"))
    r = cli("matrix", "validate", str(bad))
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    assert r.stderr.splitlines()[0].startswith("matrix.yaml:")
    assert "unknown device 'rocm' (choose: cpu, cuda, rcom)" in r.stderr
    ok = cli("matrix", "validate", str(root / "matrix.yaml"))
    assert ok.returncode == 0 and "valid" in ok.stdout


def test_generate_writes_and_checks(tmp_path):
    r = cli("generate", "--device", "cpu", "--model", "resnet50", "--output", str(tmp_path))
    assert r.returncode == 0, r.stderr
    written = sorted(p.parent.name for p in tmp_path.glob("*/Dockerfile"))
    assert "python-onnxruntime-cpu-resnet50" in written and all("-cpu-" in w for w in written)
    assert cli("generate", "--device", "cpu", "--model", "resnet50", "--output", str(tmp_path),
               "--check").returncode == 0
    (tmp_path / written[0] / "Dockerfile").write_text("stale\n")
    r = cli("generate", "--device", "cpu", "--model", "resnet50", "--output", str(tmp_path), "--check")
    assert r.returncode == 1 and "out of date" in r.stderr


def test_generate_bad_base_image():
    r = cli("generate", "--base-image", "gpu=foo", "--output", "/tmp/unused")
    assert r.returncode == 2 and r.stderr.startswith("error: --base-image: unknown device 'gpu'")


def test_demo_data_backend_without_a_model_file_exit_2_one_line(tmp_path):
    r = cli("demo-data", str(tmp_path / "d"), "--model", "efficientnet", "--backend", "tf")
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "--backend tf" in r.stderr and "efficientnet" in r.stderr
    assert not (tmp_path / "d").exists()


def test_harness_error_in_the_quoted_tail_gets_no_second_prefix(monkeypatch, capsys):
    """A failed container's last lines are quoted as they are: the harness's own `error: ` line must not become
    `error: error: `."""
    import pytest

    import mlperfctl.cli as cli_module
    from mlperfctl.errors import UserError

    def failing_app():
        raise UserError("the harness failed (Offline performance, exit code 2); submission tree unchanged. "
                        "Last lines:\nerror: model file /model/x.onnx does not exist (pass --model-path)")

    monkeypatch.setattr(cli_module, "app", failing_app)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main()
    assert exit_info.value.code == 2
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith("error: the harness failed (Offline performance")
    assert lines[1] == "error: model file /model/x.onnx does not exist (pass --model-path)"


def test_help_shows_whole_option_names_when_piped():
    """Piped (grep) help is click's plain help: no option name is cut to fit a box; a wide terminal keeps the
    boxed help, an 80-column one does not."""
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "run", "--help"], capture_output=True, text=True,
                       env={**os.environ, "COLUMNS": "80"})
    assert r.returncode == 0, r.stderr
    for name in ("--offline-target-qps", "--multistream-target-latency", "--compliance-server-qps-reduction",
                 "--skip-dataset-size-check"):
        assert name in r.stdout, name
    assert "…" not in r.stdout
    from mlperfctl.cli import rich_help_fits
    assert rich_help_fits(True, 120) and not rich_help_fits(True, 80) and not rich_help_fits(False, 200)


@pytest.mark.parametrize("columns", [None, "80", "200"])
def test_run_help_piped_to_grep_finds_the_whole_option_name(columns):
    """The issue's own check, as a user types it: `mlperfctl run --help | grep -- --offline-target-qps` finds the
    option's line, whatever COLUMNS says (piped help is plain)."""
    environ = {k: v for k, v in os.environ.items() if k != "COLUMNS"} | ({"COLUMNS": columns} if columns else {})
    environ["PYTHONPATH"] = str(Path(__file__).resolve().parent.parent)
    r = subprocess.run(["bash", "-o", "pipefail", "-c",
                        f"{shlex.quote(sys.executable)} -m mlperfctl run --help | grep -- --offline-target-qps"],
                       capture_output=True, text=True, env=environ)
    assert r.returncode == 0, r.stderr
    [line] = r.stdout.splitlines()
    assert line.split()[0] == "--offline-target-qps" and "…" not in line, line


def test_shell_completion_is_offered():
    r = subprocess.run([sys.executable, "-m", "mlperfctl", "--help"], capture_output=True, text=True)
    assert "--install-completion" in r.stdout and "--show-completion" in r.stdout


def test_models_lists_every_benchmark_and_the_readme_table_is_its_output():
    from mlperf_harness import workloads
    from mlperfctl.models import markdown, model_rows

    r = subprocess.run([sys.executable, "-m", "mlperfctl", "models", "--json"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    rows = {row["model"]: row for row in json.loads(r.stdout)}
    assert set(rows) == set(workloads.WORKLOADS)
    assert rows["gptj-99"]["rules_round"] == "v5.0" and "v6.1" not in rows["gptj-99"]["closed_rounds"]
    assert rows["resnet50"]["scenarios"]["edge"] == ["SingleStream", "MultiStream", "Offline"]
    assert rows["mobilenet"]["closed_rounds"] == [] and rows["bert-99"]["model_files"]["pytorch"] == "model.pytorch"
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert markdown(model_rows()) in readme


def test_readme_has_one_demo_command_per_family_the_ones_demo_data_prints():
    """The README's model section: one demo-data and run pair per family, the run line generated by the same
    function demo-data prints its `next:` line with (tests/test_engine_demo_commands.py runs them)."""
    from mlperf_harness import workloads
    from mlperfctl.models import demo_commands, demo_markdown, demo_run_command

    rows = demo_commands()
    assert [r["family"] for r in rows] == list(dict.fromkeys(w.family for w in workloads.declarations()))
    assert all(r["run"] == demo_run_command(Path("demo") / r["model"], r["model"]) for r in rows)
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert demo_markdown() in readme


def test_results_dir_with_a_launcher_is_refused_in_one_line(tmp_path):
    r = cli("run", "--model", "resnet50", "--launcher", "slurm", "--results-dir", str(tmp_path / "raw"))
    assert r.returncode == 2 and r.stderr.strip() == (
        "error: --results-dir with --launcher slurm is not supported yet: each job keeps its raw outputs beside the "
        "tree, in <submission-dir>-raw (drop --results-dir)"), r.stderr
