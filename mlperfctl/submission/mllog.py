"""LoadGen's logs: the detail log reader (`:::MLLOG {json}` lines) and the accuracy log's JSON check."""

from __future__ import annotations

import json
from pathlib import Path

from mlperf_rules.common import TRUNCATE_KEEP

TRUNCATION_MARK = b"\n\n...\n\n"  # between the head and the tail of a truncated accuracy log


def is_truncated(path: Path) -> bool:
    """The accuracy log is in the form truncation writes (ours and the official truncate_accuracy_log.py):
    its first and last TRUNCATE_KEEP bytes around TRUNCATION_MARK, which is no longer JSON."""
    path = Path(path)
    if path.stat().st_size != 2 * TRUNCATE_KEEP + len(TRUNCATION_MARK):
        return False
    with open(path, "rb") as f:
        f.seek(TRUNCATE_KEEP)
        return f.read(len(TRUNCATION_MARK)) == TRUNCATION_MARK


def accuracy_log_error(path: Path) -> str | None:
    """Why the accuracy log (mlperf_log_accuracy.json) cannot be read as JSON, or None when it can or when
    it is a truncated log (head and tail of a full one). An unparseable full log cannot be scored, nor
    its hash stand for the accuracy run."""
    try:
        if is_truncated(path):
            return None
        with open(path, encoding="utf-8") as f:
            json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        return f"not valid JSON ({e})"
    except OSError as e:
        return f"cannot be read ({e.strerror or e})"
    return None


class MLLog:
    """A LoadGen detail log: `:::MLLOG {json}` lines, tolerant of other and truncated lines."""

    MARKER = ":::MLLOG"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.messages: dict[str, list[dict]] = {}
        self.bad_lines = 0
        with open(self.path, encoding="utf-8", errors="replace") as f:
            for line in f:
                line = line.strip()
                if not line.startswith(self.MARKER):
                    continue
                try:
                    record = json.loads(line[len(self.MARKER):])
                    key = record["key"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    self.bad_lines += 1
                    continue
                self.messages.setdefault(key, []).append(record)

    def get(self, key: str, default=None):
        """The value of the first message with this key."""
        records = self.messages.get(key)
        return records[0].get("value", default) if records else default

    def errors(self) -> list[str]:
        return [str(r.get("value")) for records in self.messages.values() for r in records
                if (r.get("metadata") or {}).get("is_error")]
