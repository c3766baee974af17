"""One thread per device; driver events reach the GUI through queued Qt signals only.

A driver exposes `run(stop: threading.Event, on_event: Callable[[object], None])`. `DeviceThread`
runs it on its own named thread; `on_event` translates the driver's event into a typed app event
(`kiosk.devices.events`) and only emits a signal, so no driver code ever touches a widget, and
the GUI thread never waits on a port, a card or the network.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any, Protocol

from PySide6.QtCore import QObject, Qt, Signal

from kiosk.devices.events import ERROR, DeviceEvent, DeviceStateChanged, device_state, translate

log = logging.getLogger(__name__)


class EventSource(Protocol):
    def run(self, stop: threading.Event, on_event: Callable[[object], None]) -> None: ...


class DeviceChannel(QObject):
    """Lives in the GUI thread; `event` is delivered there whatever thread emitted it."""

    # device name, app event (kiosk.devices.events) or SyncStatus. The name shadows QObject.event();
    # kept because every station and test connects to `channel.event`.
    event = Signal(str, object)  # type: ignore[assignment]  # shadows QObject.event(), see above


class DeviceThread:
    def __init__(self, name: str, source: EventSource, channel: DeviceChannel,
                 on_state: Callable[[str, str], None] | None = None) -> None:
        """`on_state(device, state)`: told on this thread of every state an event implies (the
        heartbeat's device board); it must not block."""
        self.name = name
        self._source = source
        self._channel = channel
        self._on_state = on_state
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"device-{name}", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _main(self) -> None:
        try:
            self._source.run(self._stop, self._deliver)
        except Exception:  # a driver bug must not take the kiosk down; the status strip shows it
            log.exception("device thread %s crashed", self.name)
            if not self._stop.is_set():
                self._emit(DeviceStateChanged(self.name, ERROR))

    def _deliver(self, driver_event: object) -> None:
        if self._stop.is_set():  # stopping: the station may already have deleted the channel
            return
        event = translate(self.name, driver_event)
        if event is not None:
            self._emit(event)

    def _emit(self, event: DeviceEvent) -> None:
        state = device_state(event)
        if state is not None and self._on_state is not None:
            self._on_state(self.name, state)
        self._channel.event.emit(self.name, event)

    def stop(self, timeout: float = 3.0) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)


def connect_queued(signal: Any, slot: Callable[..., Any]) -> None:
    signal.connect(slot, Qt.ConnectionType.QueuedConnection)
