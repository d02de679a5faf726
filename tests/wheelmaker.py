"""Make a minimal pure-Python wheel for the --wheel-dir tests (no build backend, no network)."""

import zipfile
from pathlib import Path


def make_wheel(directory: Path, name: str, version: str, value: str, tag: str = "py3-none-any") -> Path:
    """A wheel of package `name` whose module holds VALUE = value."""
    directory.mkdir(parents=True, exist_ok=True)
    dist = f"{name}-{version}.dist-info"
    path = directory / f"{name}-{version}-{tag}.whl"
    files = {
        f"{name}/__init__.py": f"VALUE = {value!r}\n",
        f"{dist}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{dist}/WHEEL": f"Wheel-Version: 1.0\nGenerator: mlperfctl-tests\nRoot-Is-Purelib: true\nTag: {tag}\n",
    }
    files[f"{dist}/RECORD"] = "".join(f"{n},,\n" for n in files) + f"{dist}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as z:
        for n, text in files.items():
            z.writestr(zipfile.ZipInfo(n, date_time=(2020, 1, 1, 0, 0, 0)), text)
    return path
