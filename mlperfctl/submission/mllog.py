"""LoadGen's detail log reader (`:::MLLOG {json}` lines)."""

from __future__ import annotations

import json
from pathlib import Path


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
