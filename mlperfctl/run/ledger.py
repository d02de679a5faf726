"""The run ledger of `run --submission`: one JSON file in the results directory recording every completed
piece of a submission (a scenario's performance or accuracy run, a compliance test, a find-performance
run) with its output folder, LoadGen validity, the harness command it ran with and the image ID.

A rerun reuses a piece only when its record matches: same image ID, same harness command (options,
targets, counts, audit.config), its output folder still there, and it is valid (or validity does not
matter: accuracy runs, TEST06, and every run outside the `valid` execution mode). Each save replaces the
file atomically, so an interrupt leaves the previous ledger or the new one, never half of one."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from ..errors import UserError

LEDGER_NAME = "ledger.json"
FORMAT = 1


def fingerprint(argv: list[str], audit_config: str | None = None) -> str:
    """What a piece ran with, as one hash: the harness command line and the audit.config text."""
    blob = json.dumps({"argv": list(argv), "audit_config": audit_config}, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()


def summary_validity(output_dir: Path) -> str | None:
    """VALID or INVALID from LoadGen's summary log (None when there is none)."""
    path = Path(output_dir) / "mlperf_log_summary.txt"
    if not path.is_file():
        return None
    for line in path.read_text(errors="replace").splitlines():
        if line.strip().startswith("Result is"):
            return line.split(":", 1)[1].strip()
    return None


class Ledger:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.data: dict = {"format": FORMAT, "pieces": {}}
        if self.path.exists():
            try:
                data = json.loads(self.path.read_text())
            except (OSError, json.JSONDecodeError) as e:
                raise UserError(f"run ledger {self.path} is unreadable ({e}); move it away to start over") from None
            if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("pieces"), dict):
                raise UserError(f"run ledger {self.path} is not an mlperfctl ledger (format {FORMAT}); "
                                f"move it away to start over")
            self.data = data

    @property
    def pieces(self) -> dict[str, dict]:
        return self.data["pieces"]

    def reusable(self, key: str, *, fp: str, image_id: str, output: Path, strict_validity: bool) -> dict | None:
        """The record of `key` when it can stand in for running the piece again, else None."""
        entry = self.pieces.get(key)
        if not entry or entry.get("fingerprint") != fp or entry.get("image_id") != image_id:
            return None
        if not Path(output).is_dir() or entry.get("exit_code") != 0:
            return None
        if strict_validity and entry.get("validity") not in (None, "VALID"):
            return None
        return entry

    def record(self, key: str, entry: dict) -> None:
        self.pieces[key] = entry
        self.save()

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".ledger-", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.data, f, indent=1, sort_keys=True)
                f.write("\n")
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
