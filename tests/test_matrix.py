"""matrix.yaml loading, validation errors with file:line, cells, rules and filters."""

import re

import pytest

from mlperfctl import matrix
from mlperfctl.errors import MatrixError, UserError

MODELS = {"resnet50", "retinanet", "bert-99", "bert-99.9", "3d-unet-99", "3d-unet-99.9", "rnnt",
          "dlrm-v2-99", "dlrm-v2-99.9", "gptj-99", "gptj-99.9", "sdxl", "llama2-70b-99",
          "llama2-70b-99.9", "mobilenet", "efficientnet",
          "rgat", "yolo-99", "yolo-95", "whisper", "llama3.1-8b", "llama3.1-8b-edge"}


def test_matrix_covers_every_model_backend_and_device(loaded):
    m = loaded.matrix
    assert set(m.models) == MODELS
    assert {"onnxruntime", "pytorch", "tensorrt"} <= set(m.backends)
    assert set(m.devices) == {"cpu", "cuda", "rocm"}
    assert {i.kind for i in m.implementations.values()} == {"builtin", "external"}
    # every model appears in at least one valid cell, implemented or not
    assert {c.model for c in m.cells()} == MODELS
    assert m.models["resnet50"].implemented


def test_bases_per_device(loaded):
    d = loaded.matrix.devices
    # cuda needs no registry: the cpu device's Debian base and Python, the CUDA runtime as exact-pinned PyPI wheels
    assert d["cuda"].base == d["cpu"].base and d["cuda"].apt == d["cpu"].apt and d["cuda"].python == "3.11"
    assert {"nvidia-cuda-runtime", "nvidia-cublas", "nvidia-cudnn-cu13"} <= set(d["cuda"].libraries)
    assert all(v[0].isdigit() and "*" not in v for v in d["cuda"].libraries.values())
    assert d["cpu"].libraries == {} and "PyPI has no ROCm runtime wheels" in d["rocm"].note
    assert d["rocm"].base.startswith("rocm/dev-ubuntu")
    assert "slim" in d["cpu"].base


def test_cell_ids_are_unique_and_round_trip(loaded):
    cells = loaded.matrix.cells()
    ids = [c.id for c in cells]
    assert len(ids) == len(set(ids))
    for c in cells:
        assert loaded.parse_cell(c.id) == c
    assert "python-onnxruntime-cpu-resnet50" in ids
    assert "python-pytorch-rocm-llama2-70b-99.9" in ids


def test_rules_exclude_with_reason(loaded):
    m = loaded.matrix
    cell = loaded.parse_cell("python-tensorrt-rocm-resnet50")
    index = m.excluded_by(cell)
    assert index is not None and m.rules[index].reason == "tensorrt needs cuda"
    assert all(c.backend != "tensorrt" or c.device == "cuda" for c in m.cells())
    assert m.excluded_by(loaded.parse_cell("python-tensorrt-cuda-resnet50")) is None


def test_filters_and_globs(loaded):
    cpu = loaded.select({"device": ["cpu"]})
    assert cpu and all(c.device == "cpu" for c in cpu)
    bert = loaded.select({"model": ["bert-*"], "backend": ["onnxruntime"]})
    assert {c.model for c in bert} == {"bert-99", "bert-99.9"}
    picked = loaded.select(select=["python-*-cpu-*"], skip=["*-pytorch-*"])
    assert picked and all(c.implementation == "python" and c.device == "cpu"
                          and c.backend != "pytorch" for c in picked)


@pytest.mark.parametrize("axis,value", [("device", "rcom"), ("backend", "onnx"), ("model", "resnet")])
def test_unknown_filter_value_names_choices(loaded, axis, value):
    with pytest.raises(UserError, match=rf"unknown {axis} '{value}' \(choose: "):
        loaded.select({axis: [value]})


def test_parse_cell_rejects_unknown_names(loaded):
    with pytest.raises(UserError, match=r"unknown device 'gpu' .*\(choose: cpu, cuda, rocm\)"):
        loaded.parse_cell("python-onnxruntime-gpu-resnet50")
    with pytest.raises(UserError, match="not a cell identifier"):
        loaded.parse_cell("resnet50")


def _broken(tmp_path, root, old, new, count=1):
    text = (root / "matrix.yaml").read_text()
    assert old in text, old
    path = tmp_path / "matrix.yaml"
    path.write_text(text.replace(old, new, count))
    return path, path.read_text().splitlines()


def _line_of(lines, needle):
    return next(i for i, line in enumerate(lines, 1) if needle in line)


def _problems(path):
    with pytest.raises(MatrixError) as e:
        matrix.load(path)
    return e.value.problems


def test_unknown_device_in_rule_gives_file_line_and_choices(tmp_path, root):
    path, lines = _broken(tmp_path, root, "device: [cpu, rocm]}", "device: [cpu, rcom]}")
    line = _line_of(lines, "device: [cpu, rcom]}")
    assert _problems(path) == [f"matrix.yaml:{line}: unknown device 'rcom' (choose: cpu, cuda, rocm)"]


def test_unknown_device_key_in_backend_install(tmp_path, root):
    path, lines = _broken(tmp_path, root, "      rocm:\n        packages: {onnxruntime-rocm",
                          "      rcom:\n        packages: {onnxruntime-rocm")
    line = _line_of(lines, "      rcom:")
    assert f"matrix.yaml:{line}: unknown device 'rcom' (choose: cpu, cuda, rocm)" in _problems(path)


def test_unknown_key_lists_valid_keys(tmp_path, root):
    path, lines = _broken(tmp_path, root, "    task: image classification", "    tsak: image classification")
    problems = _problems(path)
    line = _line_of(lines, "tsak:")
    assert any(p.startswith(f"matrix.yaml:{line}: unknown key 'tsak' in models.resnet50 (choose: ")
               and "task" in p for p in problems), problems


def test_bad_precision_and_unquoted_version(tmp_path, root):
    path, lines = _broken(tmp_path, root, 'numpy: "2.4.6"', "numpy: 2.4")
    line = _line_of(lines, "numpy: 2.4")
    assert _problems(path) == [f"matrix.yaml:{line}: runtime.packages.numpy: expected a quoted string, got 2.4"]
    path, lines = _broken(tmp_path, root, "precisions: [fp32, fp16, bf16]", "precisions: [fp32, fp61, bf16]")
    problems = _problems(path)
    assert re.match(rf"matrix.yaml:{_line_of(lines, 'fp61')}: unknown \S+ 'fp61' \(choose: ", problems[0]), problems


def test_cell_without_install_must_be_excluded(tmp_path, root):
    rule = "  - exclude: {backend: tensorrt, device: [cpu, rocm]}\n    reason: tensorrt needs cuda\n"
    path, _ = _broken(tmp_path, root, rule, "")
    problems = _problems(path)
    assert any("python-tensorrt-cpu-resnet50: backend tensorrt has no install for device cpu" in p
               for p in problems)


def test_yaml_syntax_error_and_duplicate_key(tmp_path, root):
    path, lines = _broken(tmp_path, root, "round: v6.1", "round: [v6.1")
    assert re.match(r"matrix.yaml:\d+: invalid YAML", _problems(path)[0])
    path, lines = _broken(tmp_path, root, "  cuda:\n    description: NVIDIA",
                          "  cpu:\n    description: NVIDIA")
    assert _problems(path) == [f"matrix.yaml:{_line_of(lines, '    description: NVIDIA') - 1}: duplicate key 'cpu'"]


def test_external_implementation_needs_repo(tmp_path, root):
    path, lines = _broken(tmp_path, root, "    repo: https://github.com/mlcommons/inference.git\n", "")
    problems = _problems(path)
    assert any("implementations.reference: an external implementation needs repo" in p for p in problems)


def test_missing_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="cannot read"):
        matrix.load(tmp_path / "nope.yaml")


# -- per-backend pin overrides (vllm-cpu bounds transformers and numpy below the models' and the runtime's pins) --
def test_vllm_cells_and_rules(loaded):
    ids = {c.id for c in loaded.matrix.cells()}
    assert {"python-vllm-cpu-llama3.1-8b", "python-vllm-cuda-llama3.1-8b-edge", "python-vllm-cpu-llama2-70b-99",
            "python-pytorch-cpu-gptj-99"} <= ids
    assert not {"python-vllm-cpu-gptj-99", "python-vllm-rocm-llama3.1-8b", "python-vllm-cpu-resnet50",
                "python-pytorch-cpu-llama3.1-8b"} & ids
    gptj = loaded.matrix.rules[loaded.matrix.excluded_by(loaded.parse_cell("python-vllm-cpu-gptj-99"))]
    assert "beam search" in gptj.reason
    rocm = loaded.matrix.rules[loaded.matrix.excluded_by(loaded.parse_cell("python-vllm-rocm-llama3.1-8b"))]
    assert "ROCm" in rocm.reason


def test_overrides_replace_model_and_runtime_pins_in_that_backend_only(loaded):
    from mlperfctl.builder.lock import stage_locks
    from mlperfctl.builder.render import stage_context

    m = loaded.matrix
    install = m.backends["vllm"].install["cpu"]
    assert install.overrides["transformers"] != m.models["llama3.1-8b"].packages["transformers"]
    ctx = stage_context(loaded, loaded.parse_cell("python-vllm-cpu-llama3.1-8b"))
    assert ctx["impl"]["packages"]["transformers"] == install.overrides["transformers"]
    assert ctx["framework"]["packages"]["numpy"] == install.overrides["numpy"] != m.runtime.packages["numpy"]
    assert ctx["framework"]["remove"] == ["torchvision", "torchaudio", "torchcodec", "triton"]
    # another backend's cell of a model with the same pin keeps the model's own
    other = stage_context(loaded, loaded.parse_cell("python-pytorch-cpu-llama2-70b-99"))
    assert other["impl"]["packages"]["transformers"] == m.models["llama2-70b-99"].packages["transformers"]
    locks = stage_locks(loaded, loaded.parse_cell("python-vllm-cpu-llama3.1-8b"))
    assert set(locks["framework"].overrides) == {"transformers", "numpy"}
    assert dict(locks["implementation"].packages)["transformers"] == install.overrides["transformers"]


def test_lock_constraints_drop_overridden_pins(tmp_path):
    from mlperfctl.builder.lock import _pins

    lock = tmp_path / "runtime.txt"
    lock.write_text("numpy==2.4.6 \\\n    --hash=sha256:00\nmlcommons-loadgen==6.0.17 \\\n")
    assert _pins(lock, ("numpy",)) == "mlcommons-loadgen==6.0.17\n"
    assert _pins(lock) == "numpy==2.4.6\nmlcommons-loadgen==6.0.17\n"


def test_rendered_framework_stage_removes_and_installs_apt(loaded):
    from mlperfctl.builder.render import render

    text = render(loaded, loaded.parse_cell("python-vllm-cpu-llama3.1-8b"))
    framework = text[text.index("AS framework"):text.index("AS implementation")]
    assert "libnuma1=2.0.16-1" in framework and "transformers==5.19.0" in framework
    assert "pip uninstall -y torchvision torchaudio torchcodec triton" in framework
    assert "transformers==5.24.0" not in text


@pytest.mark.parametrize("old,new,message", [
    ('overrides: {transformers: "5.19.0", numpy: "2.3.5"}\n        remove',
     'overrides: {transformers: "5.19.0", numpy: "2.3.5", pillow: "1.0"}\n        remove',
     "override 'pillow' replaces no pin (the runtime's or a vllm model's); move it to packages"),
    ('overrides: {transformers: "5.19.0", numpy: "2.3.5"}\n        remove',
     'overrides: {transformers: "5.19.0", numpy: "2.3.5", vllm-cpu: "0.31.0"}\n        remove',
     "vllm-cpu is in both packages and overrides of vllm on cpu; keep one"),
    ("remove: [torchvision, torchaudio, torchcodec, triton]", "remove: [torchvision, vllm-cpu]",
     "vllm-cpu is both installed and removed by vllm on cpu"),
])
def test_bad_overrides_are_file_line_errors(tmp_path, root, old, new, message):
    path, lines = _broken(tmp_path, root, old, new)
    problems = _problems(path)
    assert any(p.endswith(message) and re.match(r"matrix.yaml:\d+: ", p) for p in problems), problems
