"""What the kiosk last knew about each device, for the hub heartbeat (issue 18).

Device threads (`DeviceThread`'s `on_state`, from the typed events) and the printer lane write;
the sync worker reads a snapshot for its heartbeat. A lock makes that safe across threads; nothing here talks to a device (each device keeps its
one owning thread). States: ok, degraded, error, missing, unknown, disabled, and for the ticket
printer paper_low, paper_out, offline — the words the fleet page shows.
"""
from __future__ import annotations

import threading
from typing import Any


def printer_detail(status: Any) -> str:
    """A ticket printer's status in fleet words: paper_out / offline / paper_low / degraded / ok."""
    if status.paper == "out":
        return "paper_out"
    if status.online is False:
        return "offline"
    if status.paper == "near_end":
        return "paper_low"
    if not status.answered:
        return "degraded"
    return "ok"


class DeviceBoard:
    def __init__(self, initial: dict[str, str]) -> None:
        self._lock = threading.Lock()
        self._states = dict(initial)

    def set(self, name: str, state: str) -> None:
        with self._lock:
            self._states[name] = state

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._states)

