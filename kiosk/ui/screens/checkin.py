"""预约签到 (issue 19): a resident with an appointment code is queued with the appointment's
priority. The code is typed on the keypad or scanned (the controller puts a scanned code here
and submits it). The screen shows and collects; the controller asks the hall on a lane."""
from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QVBoxLayout

from kiosk.services.forms import FieldSpec, Text
from kiosk.ui.i18n import register_strings, tr
from kiosk.ui.screens.base import Screen, button, label, repolish
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets.editors import KeypadEditor

register_strings({
    "checkin.heading": ("预约签到", "Appointment check-in"),
    "checkin.hint": ("请输入 8 位预约码，或将预约二维码对准扫码口", "Type your 8-digit appointment code, or hold its QR code to the scanner"),
    "checkin.submit": ("签到取号", "Check in"),
    "checkin.working": ("正在签到…", "Checking in…"),
    "checkin.short": ("预约码是 8 位数字", "The appointment code has 8 digits"),
})
CODE_SPEC = FieldSpec("appointment_code", "integer", Text("预约码", "Appointment code"), sensitive=False)


class CheckinScreen(Screen):
    name = "checkin"
    back_clicked = Signal()
    submitted = Signal(str)

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(metrics)
        self._state: tuple[str, str, str] = ("", "hint", "")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(10), metrics.mm(5), metrics.mm(10), metrics.mm(5))
        self.heading = label(role="title")
        self.hint = label(role="hint")
        self.code = KeypadEditor(CODE_SPEC, metrics)
        self.code.line.setMaxLength(8)
        self.state = label(role="hint")
        self.state.setObjectName("checkin_state")
        outer.addWidget(self.heading)
        outer.addWidget(self.hint)
        outer.addWidget(self.code)
        outer.addWidget(self.state)
        outer.addStretch(1)
        buttons = QHBoxLayout()
        self.back = button(name="checkin_back")
        self.submit = button(role="primary", name="checkin_submit")
        buttons.addWidget(self.back)
        buttons.addStretch(1)
        buttons.addWidget(self.submit)
        outer.addLayout(buttons)
        self.back.clicked.connect(self.back_clicked)
        self.submit.clicked.connect(self._submit)
        self.code.changed.connect(lambda: self.show_state("") if self._state[1] == "error" else None)
        self.reset()

    def _submit(self) -> None:
        code = self.code.value()
        if not (code.isdigit() and len(code) == 8):
            self.show_state("checkin.short", "error")
            return
        self.submitted.emit(code)

    def enter(self, code: str) -> None:
        """A scanned code: shown, then submitted as if typed."""
        self.code.set_value(code.strip()[:8])
        self._submit()

    def working(self) -> None:
        self.submit.setEnabled(False)
        self.show_state("checkin.working")

    def show_problem(self, message: str) -> None:
        self.submit.setEnabled(True)
        self.show_state("", "error", message)

    def show_state(self, key: str, role: str = "hint", text: str = "") -> None:
        self._state = (key, role, text)
        self.state.setProperty("role", role)
        repolish(self.state)
        self.state.setText(("⚠ " if role == "error" else "") + (text or (tr(key) if key else "")))
        self.state.setVisible(bool(key or text))

    def reset(self) -> None:
        self.code.set_value("")
        self.submit.setEnabled(True)
        self.show_state("")
        self.retranslate()

    def retranslate(self) -> None:
        self.heading.setText(tr("checkin.heading"))
        self.hint.setText(tr("checkin.hint"))
        self.code.retranslate()
        self.back.setText("‹ " + tr("common.back"))
        self.submit.setText("✔ " + tr("checkin.submit"))
        key, role, text = self._state
        if key:
            self.show_state(key, role, text)

    def spoken_prompt(self) -> str:
        return tr("checkin.hint")
