"""The append-only audit log of technician and clerk actions (`<data_dir>/audit.log`).

One JSON object per line: `time` (UTC ISO 8601), `actor` ("technician" | "clerk"), `action`
(a stable dotted identifier such as `diag.run_all`) and `detail` (technical text only). Personal
data never belongs here: `detail` is passed through `kiosk.privacy.scrub` and truncated as a
safety net, and callers pass counts, check names and device names, never resident fields.
The file is only ever opened for appending; nothing in the app rewrites or truncates it.
"""
from __future__ import annotations

import json
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from kiosk.privacy import scrub

ACTORS = ("technician", "clerk")
_ACTION = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)*$")
MAX_DETAIL = 200


@dataclass(frozen=True)
class AuditEntry:
    time: str
    actor: str
    action: str
    detail: str = ""

    def to_json(self) -> dict[str, str]:
        return {"time": self.time, "actor": self.actor, "action": self.action, "detail": self.detail}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class AuditLog:
    """Thread-safe appender; each `record` is flushed and fsynced before it returns."""

    def __init__(self, path: str | os.PathLike[str], clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.clock = clock
        self._lock = threading.Lock()

    def record(self, actor: str, action: str, detail: str = "") -> AuditEntry:
        if actor not in ACTORS:
            raise ValueError(f"actor must be one of {ACTORS}, got {actor!r}")
        if not _ACTION.match(action):
            raise ValueError(f"action must be a dotted identifier such as 'diag.run_all', got {action!r}")
        detail = scrub(" ".join(str(detail).split()))[:MAX_DETAIL]
        entry = AuditEntry(_iso(self.clock()), actor, action, detail)
        line = json.dumps(entry.to_json(), ensure_ascii=False) + "\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        return entry

    def read_recent(self, n: int = 50) -> list[AuditEntry]:
        """The last `n` entries, newest first. Damaged lines (a torn write after power loss) are skipped."""
        if n <= 0:
            return []
        try:
            with self._lock, open(self.path, "rb") as f:
                f.seek(0, os.SEEK_END)
                size = f.tell()
                block, data = 64 * 1024, b""
                while size > 0 and data.count(b"\n") <= n:
                    step = min(block, size)
                    size -= step
                    f.seek(size)
                    data = f.read(step) + data
        except FileNotFoundError:
            return []
        entries: list[AuditEntry] = []
        for raw in reversed(data.splitlines()):
            try:
                obj = json.loads(raw.decode("utf-8"))
                entries.append(AuditEntry(str(obj["time"]), str(obj["actor"]), str(obj["action"]), str(obj.get("detail", ""))))
            except (ValueError, KeyError, TypeError, UnicodeDecodeError):
                continue
            if len(entries) >= n:
                break
        return entries
