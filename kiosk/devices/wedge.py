"""Keyboard-wedge (HID) QR scanners: an app-wide event filter that tells a scanner's fast
keystrokes ending in Enter from a person typing, and hands the code to the session.

Key events carry their own timestamps (ms), so the decision does not depend on how busy the GUI
thread is. The Enter that ends a scan is swallowed so it cannot press a focused button.
The Qt side of `drivers.qrscan.keystrokes` lives here, in the translation layer: the filter
emits the app's `VoucherScanned` event on the station's `DeviceChannel`.
"""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtGui import QKeyEvent

from drivers.qrscan.keystrokes import KeystrokeBurstDetector
from kiosk.devices.events import VoucherScanned
from kiosk.devices.threads import DeviceChannel


class KeyboardWedgeFilter(QObject):
    voucher_scanned = Signal(str)

    def __init__(self, min_len: int = 8, max_gap_s: float = 0.050, channel: DeviceChannel | None = None,
                 device: str = "qrscan") -> None:
        super().__init__()
        if channel is not None:  # the station's device events: the controller sees a scan like any other
            self.voucher_scanned.connect(lambda code: channel.event.emit(device, VoucherScanned(device, code)))
        self.detector = KeystrokeBurstDetector(min_len, max_gap_s)
        self._last_seen: tuple[int, int, str] | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        # type() first: every event of every widget passes here, and all but key events leave at once.
        if type(event) is not QKeyEvent or event.type() != QEvent.Type.KeyPress or event.isAutoRepeat():
            return False
        # An ignored key event travels up to the parent and passes the filter again: count it once.
        seen = (event.timestamp(), event.key(), event.text())
        if seen == self._last_seen:
            return False
        self._last_seen = seen
        t = event.timestamp() / 1000.0
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            code = self.detector.enter(t)
            if code:
                self.voucher_scanned.emit(code)
                return True
            return False
        text = event.text()
        if len(text) == 1:
            self.detector.feed(text, t)
        return False
