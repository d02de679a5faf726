"""The harness stands alone in the images: no mlperfctl, and each framework imported only when used."""

import ast
import subprocess
import sys
from pathlib import Path

import mlperf_harness

PACKAGE = Path(mlperf_harness.__file__).parent
FRAMEWORKS = ("onnxruntime", "torch", "tensorrt", "ai_edge_litert", "tensorflow")
# nn.Modules, imported only by the pytorch backends, by sdxl scoring and by the pytorch-only dlrm-v2 runner
TORCH_ONLY = {
    PACKAGE / "workloads/imagenet/models/resnet50_torch.py",
    PACKAGE / "workloads/sdxl/inception.py",
    PACKAGE / "workloads/unet3d/model.py",
    PACKAGE / "workloads/dlrm/model.py",
    PACKAGE / "workloads/retinanet/model.py",
    PACKAGE / "workloads/yolo/model.py",  # the demo's network (demo-data only)
    PACKAGE / "workloads/rgat/model.py",  # the R-GAT network (pytorch backend only)
}


def imports(path: Path) -> list[tuple[str, bool]]:
    """(module, at module level) for every import in a file."""
    tree = ast.parse(path.read_text())
    top = {id(n) for n in tree.body}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(a.name, id(node) in top) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            found.append((node.module or "", id(node) in top))
    return found


def test_never_imports_mlperfctl():
    files = list(PACKAGE.rglob("*.py"))
    assert len(files) > 10
    for f in files:
        for module, _ in imports(f):
            assert module.split(".")[0] != "mlperfctl", f"{f} imports {module}"


def test_frameworks_are_imported_lazily():
    for f in set(PACKAGE.rglob("*.py")) - TORCH_ONLY:
        for module, top_level in imports(f):
            assert not (top_level and module.split(".")[0] in FRAMEWORKS), f"{f} imports {module} at module level"


def test_works_with_no_framework_installed():
    """With onnxruntime, torch and tensorrt unimportable, the CLI modules load and `info` still answers."""
    code = (
        "import sys\n"
        f"for m in {FRAMEWORKS!r}: sys.modules[m] = None\n"
        "import mlperf_harness.run, mlperf_harness.loadgen.pool, mlperf_harness.workloads.imagenet.demo\n"
        "import mlperf_harness.workloads.imagenet.runner, mlperf_harness.workloads.sdxl.runner\n"
        "import mlperf_harness.workloads.llm.runner\n"
        "from mlperf_harness.workloads.imagenet.backends import onnxruntime_backend, pytorch_backend\n"
        "from mlperf_harness.workloads.imagenet.backends import tensorrt_backend\n"
        "from mlperf_harness.cli import main\n"
        "sys.exit(main(['info']))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert '"frameworks": {}' in proc.stdout


def test_declarations_import_with_the_standard_library_only():
    """The host imports the registry and every declaration for preflight and planning: nothing heavy may load."""
    code = (
        "import sys\n"
        "import mlperf_harness.workloads as w\n"
        "for d in w.declarations():\n"
        "    for dev in d.devices():\n"
        "        for b in d.backends(dev):\n"
        "            d.supports(dev, b, 'fp32'); d.precisions(dev, b); d.model_file(b)\n"
        "    d.accuracy_argv(d.names[0], 'log.json', '/data', '/model'); d.dataset_files; d.dataset_name\n"
        "print(sorted(m for m in ('numpy', 'torch', 'mlperf_loadgen', 'onnxruntime', 'tensorrt', 'cv2', 'pandas',\n"
        "                         'transformers', 'diffusers') if m in sys.modules))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]", proc.stdout


def test_loadgen_imports_nothing_of_the_workloads():
    """loadgen/ is the LoadGen plumbing under the registry: the run skeleton (mlperf_harness.run) sits above both."""
    files = list((PACKAGE / "loadgen").rglob("*.py"))
    assert files
    for f in files:
        tree = ast.parse(f.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [a.name for a in node.names]
                absolute = node.level == 0 and (node.module or "").startswith("mlperf_harness.workloads")
                relative = node.level == 2 and ((node.module or "").startswith("workloads") or "workloads" in names)
                assert not (absolute or relative), f"{f}:{node.lineno} imports the workloads"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith("mlperf_harness.workloads") for a in node.names), f
    code = (
        "import sys, pkgutil, importlib, mlperf_harness.loadgen as p\n"
        "for m in pkgutil.iter_modules(p.__path__): importlib.import_module(f'mlperf_harness.loadgen.{m.name}')\n"
        "print(sorted(m for m in sys.modules if m.startswith('mlperf_harness.')))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "mlperf_harness.loadgen.pool" in proc.stdout and "mlperf_harness.workloads" not in proc.stdout


def test_one_framework_layer_and_one_round_resolution():
    """Torch devices and onnxruntime sessions are made in mlperf_harness.frameworks only; the round is resolved in
    mlperf_harness.verdict only (mlperf_rules.resolve), and no family picks a round itself."""
    made = {"def torch_device": [], "InferenceSession(": [], "torch.device(": [], "mlperf_rules.resolve(": []}
    picks = ("rules_round(", "get_round(", "ROUNDS", "latest_closed_round(")
    for f in PACKAGE.rglob("*.py"):
        text = f.read_text()
        for needle, where in made.items():
            if needle in text:
                where.append(f.relative_to(PACKAGE).as_posix())
        assert not any(p in text for p in picks), f"{f} picks a round itself"
    assert made["def torch_device"] == []
    assert made["InferenceSession("] == ["frameworks/onnxruntime.py"]
    assert made["torch.device("] == ["frameworks/torch.py"]
    assert made["mlperf_rules.resolve("] == ["verdict.py"]
