"""What every compliance verifier gets (Inputs) and returns (Verdict), and the pieces they share:
which generation of the official scripts a round used, reading LoadGen's accuracy log, decoding
its hex payloads like numpy.frombuffer does, and copying the logs the checker reads."""

from __future__ import annotations

import json
import math
import shutil
import struct
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlperf_rules import Benchmark, Round

from ..errors import UserError

# The scorer of the TEST01 accuracy fallback: the model's accuracy script run on one accuracy log
# (mlperf_log_accuracy.json format); returns what it prints (the text accuracy.txt would hold).
Scorer = Callable[[Path], str]

SUMMARY = "mlperf_log_summary.txt"
DETAIL = "mlperf_log_detail.txt"
ACCURACY_LOG = "mlperf_log_accuracy.json"


@dataclass
class Inputs:
    """One scenario's raw outputs (harness output directories, outside the submission tree)."""

    round: Round
    model: str  # ours or the round's name (resnet50, resnet, ...)
    scenario: str  # the submission's scenario directory (Interactive for a Server run with interactive rules)
    performance_dir: Path | None  # the submission's performance run (mlperf_log_summary/detail.txt)
    accuracy_dir: Path | None  # the submission's accuracy run (mlperf_log_accuracy.json)
    compliance_dir: Path  # the compliance run of this test (LoadGen logs written with the audit.config)
    scorer: Scorer | None = None  # TEST01 fallback: the model's accuracy script
    dtype: str | None = None  # payload dtype for the comparison (None: the verifier's rule for the round/model)
    eos_token_id: int = 2  # TEST06

    @property
    def bench(self) -> Benchmark:
        bench = self.round.benchmark(self.model)
        if bench is None:
            raise UserError(f"no {self.round.version} rules for model '{self.model}' (compliance needs them)")
        return bench


@dataclass
class Verdict:
    """A test's outcome: pass/fail, the lines the official script prints at the end, the files written
    (relative to the TESTxx directory) and the details behind the verdict."""

    test: str
    passed: bool
    lines: list[str]
    files: list[str] = field(default_factory=list)
    details: dict = field(default_factory=dict)

    @property
    def summary(self) -> str:
        """One cell of the results table: "pass", or "fail (<the first check that did not pass>)"."""
        if self.passed:
            return "pass"
        failed = next((line for line in self.lines if line.endswith((": False", " failed"))), "see details")
        return f"fail ({failed})"

    def to_dict(self) -> dict:
        return {"test": self.test, "passed": self.passed, "summary": self.summary, "lines": self.lines,
                "files": self.files, "details": self.details}


def version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.lstrip("v").split("."))


def modern(rnd: Round) -> bool:
    """True from v5.1 on: the scripts of tag v5.1.1 and later (TEST01 compares detail logs, and the
    run_verification scripts capture stderr into verify_*.txt); before, TEST01 compared summary logs
    and piped stdout only through `tee` (a `sys.exit(message)` never reached the file)."""
    return version_tuple(rnd.version) >= (5, 1)


def need_file(path: Path, what: str) -> Path:
    if not Path(path).is_file():
        raise UserError(f"{what}: {path} is missing (run it first, or point to the run's output directory)")
    return Path(path)


def read_accuracy_log(path: Path) -> list[dict]:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise UserError(f"{path}: not a LoadGen accuracy log ({e})") from None
    if not isinstance(data, list):
        raise UserError(f"{path}: not a LoadGen accuracy log (expected a JSON list)")
    return data


# numpy dtype name -> (struct format, item size); "byte" is numpy.byte, a signed 8-bit integer
DTYPES = {"byte": ("b", 1), "int8": ("b", 1), "uint8": ("B", 1), "int16": ("h", 2), "int32": ("i", 4),
          "int64": ("q", 8), "float32": ("f", 4)}


class DecodeError(ValueError):
    """The payload's size is not a multiple of the dtype's size (numpy.frombuffer raises here)."""


def decode(hex_data: str, dtype: str) -> list:
    """numpy.frombuffer(bytes.fromhex(hex_data), dtype) as a list (little-endian)."""
    fmt, size = DTYPES[dtype]
    raw = bytes.fromhex(hex_data)
    if len(raw) % size:
        raise DecodeError("buffer size must be a multiple of element size")
    return list(struct.unpack(f"<{len(raw) // size}{fmt}", raw))


def same(a, b) -> bool:
    """numpy's `==` on two elements (NaN never equals anything)."""
    if isinstance(a, float) and math.isnan(a) or isinstance(b, float) and math.isnan(b):
        return False
    return a == b


def copy_into(src: Path, dst_dir: Path, *names: str) -> list[Path]:
    dst_dir.mkdir(parents=True, exist_ok=True)
    out = []
    for name in names:
        shutil.copy2(need_file(src / name, "compliance run"), dst_dir / name)
        out.append(dst_dir / name)
    return out


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
