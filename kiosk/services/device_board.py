"""What the kiosk last knew about each device, for the hub heartbeat (issue 18).

Device threads and the printer lane write; the sync worker reads a snapshot for its heartbeat.
A lock makes that safe across threads; nothing here talks to a device (each device keeps its
one owning thread). States: ok, degraded, error, missing, unknown, disabled, and for the ticket
printer paper_low, paper_out, offline — the words the fleet page shows.
"""
from __future__ import annotations

import threading
from typing import Any
from collections.abc import Callable

# event class name → state (the status strip's table, plus events that prove a device works)
EVENT_STATES = {
    "ReaderConnected": "ok", "ReaderAttached": "ok", "ScannerConnected": "ok",
    "ReaderDisconnected": "missing", "ReaderDetached": "missing", "ScannerDisconnected": "missing",
    "PcscUnavailable": "error", "DeviceThreadCrashed": "error",
    "CardPlaced": "ok", "CardInserted": "ok", "CardRead": "ok", "VoucherScanned": "ok",
}


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

    def observe(self, name: str, event: object) -> None:
        state = EVENT_STATES.get(type(event).__name__)
        if state is not None:
            self.set(name, state)

    def snapshot(self) -> dict[str, str]:
        with self._lock:
            return dict(self._states)


class ObservedSource:
    """A device source whose events also reach the board, on the driver's own thread, before
    they go to the GUI. Everything else is the wrapped source's (`source`)."""

    def __init__(self, source: Any, name: str, board: DeviceBoard) -> None:
        self.source, self._name, self._board = source, name, board

    def run(self, stop: threading.Event, on_event: Callable[[object], None]) -> Any:
        def tee(event: object) -> None:
            self._board.observe(self._name, event)
            on_event(event)

        return self.source.run(stop, tee)

    def __getattr__(self, attr: str) -> Any:
        return getattr(self.source, attr)
