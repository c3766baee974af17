"""The systemd watchdog fed from the GUI event loop: a frozen window is restarted, not only a dead process.

A QTimer on the GUI thread sends WATCHDOG=1 every half `WATCHDOG_USEC`; while the event loop is
blocked the timer cannot fire, the pings stop, and systemd (WatchdogSec=) kills and restarts the
unit. READY=1 goes out on the first turn of the loop after the window is shown. Lives in
`kiosk/devices/` because it owns a socket (the UI never does).
"""
from __future__ import annotations

import os
from collections.abc import Mapping

from PySide6.QtCore import QObject, QTimer

from kiosk.services.sd_notify import Notifier, watchdog_interval_s


class EventLoopWatchdog(QObject):
    def __init__(self, notifier: Notifier, interval_s: float | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.notifier = notifier
        self.timer = QTimer(self)
        self.timer.timeout.connect(notifier.watchdog)
        if interval_s:
            self.timer.setInterval(max(1, int(interval_s * 1000)))

    def start(self, status: str = "") -> None:
        """READY=1 once the loop runs (the window is on screen), then the pings."""
        QTimer.singleShot(0, self, lambda: self.notifier.ready(status))
        if self.timer.interval() > 0:
            self.timer.start()

    def stop(self) -> None:
        self.timer.stop()
        self.notifier.stopping()
        self.notifier.close()


def start_watchdog(parent: QObject | None = None, status: str = "home screen shown",
                   environ: Mapping[str, str] | None = None) -> EventLoopWatchdog | None:
    """Start notifying systemd when run under it (NOTIFY_SOCKET set); otherwise do nothing."""
    environ = os.environ if environ is None else environ
    notifier = Notifier.from_environment(environ)
    if notifier is None:
        return None
    watchdog = EventLoopWatchdog(notifier, watchdog_interval_s(environ), parent)
    watchdog.start(status)
    return watchdog
