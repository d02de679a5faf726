"""sdxl bad inputs: each a one-line error and exit code 2, before LoadGen starts."""

import shutil

import pytest

from mlperf_harness.cli import main


@pytest.fixture
def copies(sdxl_demo, tmp_path):
    data = tmp_path / "coco2014"
    model = tmp_path / "stable_diffusion_fp32"
    shutil.copytree(sdxl_demo / "datasets/coco2014", data, ignore=shutil.ignore_patterns("validation"))
    shutil.copytree(sdxl_demo / "models/stable_diffusion_fp32", model)
    return data, model


def _fails(capsys, data, model, out, **over) -> str:
    args = {"model": "sdxl", "backend": "pytorch", "device": "cpu", "scenario": "Offline", "mode": "performance",
            "execution-mode": "test", "dataset-dir": data, "model-path": model, "output-dir": out, **over}
    argv = ["run"] + [x for k, v in args.items() for x in (f"--{k}", str(v))]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ")
    return err


def test_missing_latents_file(copies, capsys, tmp_path):
    data, model = copies
    (data / "latents/latents.pt").unlink()
    assert "latents file" in _fails(capsys, data, model, tmp_path / "out")


def test_tokenizer_missing(copies, capsys, tmp_path):
    data, model = copies
    shutil.rmtree(model / "checkpoint_pipe/tokenizer_2")
    (model / "checkpoint_pipe/tokenizer_2").mkdir()
    assert "tokenizer files missing" in _fails(capsys, data, model, tmp_path / "out")


def test_wrong_dataset_columns(copies, capsys, tmp_path):
    data, model = copies
    (data / "captions/captions.tsv").write_text("id\ttext\n0\ta dog\n")
    assert "lacks the column(s) caption, file_name" in _fails(capsys, data, model, tmp_path / "out")


@pytest.mark.parametrize("over,message", [
    ({"precision": "int8"}, "precision 'int8' is not supported for sdxl"),
    ({"scenario": "MultiStream"}, "sdxl has no MultiStream scenario"),
])
def test_unsupported_choices(copies, capsys, tmp_path, over, message):
    data, model = copies
    assert message in _fails(capsys, data, model, tmp_path / "out", **over)


def test_model_path_layouts(copies):
    """The reference's checkpoint_pipe/ + checkpoint_scheduler/ layout, and a plain diffusers pipeline dir."""
    from mlperf_harness.errors import UsageError
    from mlperf_harness.workloads.sdxl.pipeline import locate

    _, model = copies
    assert locate(model) == (model / "checkpoint_pipe", model / "checkpoint_scheduler")
    assert locate(model / "checkpoint_pipe") == (model / "checkpoint_pipe",) * 2
    with pytest.raises(UsageError, match="has no model_index.json"):
        locate(model / "checkpoint_scheduler")
