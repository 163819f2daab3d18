"""The audit log: one JSON line per change of the library (who, when, what), appended by every
writer (the web app's Library tab and `python -m ingest`), never rewritten, so an editor can see
what happened to an article and undo it from the trash or a backup."""

from __future__ import annotations

import getpass
import json
import os
import time
from pathlib import Path
from typing import Any


def timestamp() -> str:
    """Now, as every record of the library writes it (ISO 8601, local time with its offset)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


def cli_user() -> str:
    """Who runs a command-line change: the account name, marked as the command line's."""
    try:
        return f"{getpass.getuser()} (command line)"
    except Exception:  # no name for this uid (a container): still say where it came from
        return f"uid {os.getuid()} (command line)"


class AuditLog:
    def __init__(self, path: Path) -> None:
        self.path = path

    def append(self, user: str, action: str, **details: Any) -> dict[str, Any]:
        """Record one change; written and flushed in one call so concurrent writers never interleave."""
        entry = {"time": timestamp(), "user": user, "action": action, **details}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        return entry

    def entries(self) -> list[dict[str, Any]]:
        """Every recorded change, oldest first (a torn last line from a crash is skipped)."""
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                continue
        return out
