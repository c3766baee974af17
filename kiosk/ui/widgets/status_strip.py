"""Bottom strip: each device's state in words and a symbol (never colour alone), network, queue depth."""
from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel

from kiosk.ui.i18n import tr
from kiosk.ui.widgets.reflow import ReflowGrid

SYMBOLS = {"ok": "●", "degraded": "▲", "missing": "○", "error": "✖", "unknown": "…"}
DEVICES = ("idcard", "sscard", "printer", "qrscan")


class StatusStrip(QFrame):
    def __init__(self) -> None:
        super().__init__()
        self.setObjectName("StatusStrip")
        # One row on a wide panel, two or three on a narrow one; never cut off.
        layout = ReflowGrid(self, spacing=12)
        layout.setContentsMargins(12, 6, 12, 6)
        self.device_state = {name: "unknown" for name in DEVICES}
        self.device_labels = {name: QLabel() for name in DEVICES}
        for name, widget in self.device_labels.items():
            widget.setObjectName(f"status_{name}")
            layout.add(widget)
        self.network = QLabel()
        self.network.setObjectName("status_network")
        self.pending = QLabel()
        self.pending.setObjectName("status_pending")
        layout.add(self.network)
        layout.add(self.pending)
        self.online: bool | None = None
        self.pending_count = 0
        self.retranslate()

    def set_device(self, name: str, state: str) -> None:
        if name in self.device_state:
            self.device_state[name] = state
            self.retranslate()

    def set_sync(self, online: bool | None, pending: int) -> None:
        self.online, self.pending_count = online, pending
        self.retranslate()

    def retranslate(self) -> None:
        for name, widget in self.device_labels.items():
            state = self.device_state[name]
            widget.setText(f"{SYMBOLS[state]} {tr('status.' + name)} {tr('status.' + state)}")
        if self.online is None:
            self.network.setText(f"… {tr('status.network')} {tr('status.unknown')}")
        else:
            self.network.setText(("● " + tr("status.online")) if self.online else ("○ " + tr("status.offline")))
        self.pending.setText("↑ " + tr("status.pending", n=self.pending_count))
