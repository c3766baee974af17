"""A clear message with a code and a way home; never a traceback."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QVBoxLayout

from kiosk.ui.i18n import tr
from kiosk.ui.screens.base import Screen, button, card, label
from kiosk.ui.theme import Metrics


class ErrorScreen(Screen):
    name = "error"
    home_clicked = Signal()

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(metrics)
        self._message: tuple[str, str] | None = None  # zh, en
        self._code = ""
        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(20), metrics.mm(15), metrics.mm(20), metrics.mm(15))
        frame, box = card(outer)
        self.heading = label(role="title")
        self.message = label()
        self.message.setObjectName("error_message")
        self.code = label(role="hint")
        box.addWidget(label("⚠", role="huge"))
        box.addWidget(self.heading)
        box.addWidget(self.message)
        box.addWidget(self.code)
        outer.addStretch(1)
        self.home = button(role="primary", name="error_home")
        self.home.clicked.connect(self.home_clicked)
        outer.addWidget(self.home)

    def show_error(self, code: str, message_zh: str = "", message_en: str = "") -> None:
        self._code = code
        self._message = (message_zh, message_en or message_zh) if message_zh else None
        self.retranslate()

    def retranslate(self) -> None:
        from kiosk.ui.i18n import language

        self.heading.setText(tr("error.heading"))
        if self._message:
            self.message.setText(self._message[0] if language() == "zh_CN" else self._message[1])
        else:
            self.message.setText(tr("error.generic"))
        self.code.setText(tr("error.code", code=self._code) if self._code else "")
        self.home.setText("⌂ " + tr("common.home"))
