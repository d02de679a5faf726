"""Rendered Dockerfiles: layered stages shared byte-for-byte, hadolint-clean, labels last."""

import re
import subprocess

import pytest

from mlperfctl.builder import render

STAGES = ("device", "runtime", "framework", "implementation")


def stages(text: str) -> dict[str, str]:
    """Split a Dockerfile into its named stages' text."""
    parts = re.split(r"^(?=FROM )", text, flags=re.M)
    out = {}
    for part in parts[1:]:
        name = re.match(r"FROM \S+ AS (\w+)", part).group(1)
        out[name] = re.sub(r"\n# ---- stage.*\n", "\n", part)
    return out


def test_stages_are_named_in_order(loaded):
    text = render.render(loaded, loaded.parse_cell("python-onnxruntime-cpu-resnet50"))
    assert list(stages(text)) == list(STAGES)
    assert 'SHELL ["/bin/bash", "-o", "pipefail", "-c"]' in text
    # locked stages install their committed hashed lock; the pins live there
    assert "--require-hashes -r /opt/mlperf/locks/cpu-runtime.txt" in stages(text)["runtime"]
    assert "mlcommons-loadgen==6.0.17 " in (loaded.root / "locks/cpu/runtime.txt").read_text()
    assert "onnxruntime==1.32.0 " in (loaded.root / "locks/cpu/onnxruntime.txt").read_text()


def test_shared_lower_stages_are_byte_identical(loaded):
    cells = loaded.matrix.cells()
    by_key = {}
    for cell in cells:
        s = stages(render.render(loaded, cell))
        keys = {"device": (cell.device,), "runtime": (cell.device,),
                "framework": (cell.device, cell.backend)}
        for stage, key in keys.items():
            by_key.setdefault((stage, key), set()).add(s[stage])
    assert all(len(texts) == 1 for texts in by_key.values())
    # and they really differ where the keys differ
    cpu = {t for (st, k), ts in by_key.items() if st == "framework" and k[0] == "cpu" for t in ts}
    assert len(cpu) == 5  # onnxruntime, pytorch, tflite, tf and vllm


def test_labels_last_user_non_root(loaded):
    for cell_id in ("python-onnxruntime-cpu-resnet50", "python-tensorrt-cuda-resnet50",
                    "reference-pytorch-rocm-resnet50"):
        text = render.render(loaded, loaded.parse_cell(cell_id))
        instructions = [ln.split()[0] for ln in text.splitlines()
                        if ln and not ln.startswith((" ", "#"))]
        assert instructions[-1] == "LABEL"
        assert f'io.mlperfctl.cell="{cell_id}"' in text
        assert "org.opencontainers.image.source=" in text
        users = re.findall(r"^USER (\S+)", text, flags=re.M)
        assert users and users[-1] not in ("root", "0", "0:0")


def test_apt_glob_pins_are_quoted(loaded):
    text = render.render(loaded, loaded.parse_cell("python-pytorch-rocm-resnet50"))
    assert "'python3=3.12.3-*'" in text
    assert "--index-url https://download.pytorch.org/whl/rocm6.4" in text


def test_cuda_cells_need_no_registry(loaded):
    """The CUDA runtime libraries are in the runtime stage, shared by every cuda cell; torch comes from PyPI."""
    base = {"cuda": "mlperfctl/debian:bookworm"}
    texts = {b: render.render(loaded, loaded.parse_cell(f"python-{b}-cuda-resnet50"), base)
             for b in ("onnxruntime", "pytorch", "tensorrt")}
    runtime = {b: t[t.index("stage 2"):t.index("stage 3")] for b, t in texts.items()}
    assert len(set(runtime.values())) == 1 and "COPY locks/cuda/runtime.txt" in runtime["pytorch"]
    lock = (loaded.root / "locks" / "cuda" / "runtime.txt").read_text()
    assert "nvidia-cudnn-cu13==9.20.0.48" in lock and "nvidia-cuda-runtime==13.0.96" in lock
    assert "FROM mlperfctl/debian:bookworm AS device" in texts["pytorch"] and "index-url" not in texts["pytorch"]
    assert "nvidia/cu13/lib" in texts["onnxruntime"]  # LD_LIBRARY_PATH for onnxruntime-gpu's providers


def test_base_override(loaded):
    cell = loaded.parse_cell("python-onnxruntime-cpu-resnet50")
    text = render.render(loaded, cell, {"cpu": "mlperfctl/debian:bookworm"})
    assert text.startswith("#") and "FROM mlperfctl/debian:bookworm AS device" in text
    assert 'org.opencontainers.image.base.name="mlperfctl/debian:bookworm"' in text


@pytest.mark.slow
def test_every_cell_passes_hadolint(loaded, tmp_path, hadolint):
    paths = render.write(loaded, loaded.matrix.cells(), tmp_path)
    devices = {p.parent.name.split("-")[2] for p in paths}
    assert devices == {"cpu", "cuda", "rocm"}
    for path in paths:
        r = subprocess.run([hadolint, "--no-color", str(path)], capture_output=True, text=True)
        assert r.returncode == 0, f"{path.parent.name}:\n{r.stdout}{r.stderr}"


def test_hadolint_catches_a_violation(tmp_path, hadolint):
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM debian:bookworm-slim\nRUN apt-get update && apt-get install -y curl\n")
    assert subprocess.run([hadolint, str(bad)], capture_output=True).returncode != 0


def test_committed_images_are_up_to_date(loaded):
    for cell in loaded.matrix.cells():
        path = loaded.root / "images" / cell.id / "Dockerfile"
        assert path.exists(), f"{path} missing: run `mlperfctl generate`"
        assert path.read_text() == render.render(loaded, cell), f"{path} is stale: run `mlperfctl generate`"
    rendered = {c.id for c in loaded.matrix.cells()}
    on_disk = {p.name for p in (loaded.root / "images").iterdir() if p.is_dir()}
    assert on_disk == rendered
