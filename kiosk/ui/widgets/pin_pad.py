"""`PinPad`: a touch PIN pad — a title and hint, the entry shown as ＊, a message line, digit keys,
clear and delete, and exit / confirm.

It only collects digits: `submitted(pin)` hands the PIN to its owner, which checks it (off the GUI
thread), then says what happened with `set_message` and turns entry off while busy or locked
with `set_entry_enabled`. The entry is cleared on submit, so a PIN never lingers on screen.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.ui.i18n import register_strings, tr
from kiosk.ui.theme import Metrics

register_strings({
    "pin_pad.confirm": ("确认", "Enter"),
    "pin_pad.clear": ("清除", "Clear"),
    "pin_pad.delete": ("删除", "Delete"),
})

MAX_DIGITS = 12
HIDDEN_DIGIT = "＊"


def _label(role: str, name: str = "") -> QLabel:
    widget = QLabel()
    widget.setProperty("role", role)
    widget.setWordWrap(True)
    if name:
        widget.setObjectName(name)
    return widget


def _button(name: str, role: str = "") -> QPushButton:
    widget = QPushButton()
    widget.setObjectName(name)
    if role:
        widget.setProperty("role", role)
    return widget


class PinPad(QWidget):
    """`prefix` names the child widgets (`{prefix}_1`, `{prefix}_confirm` …) for tests and the
    accessibility audit; `title_key`, `hint_key` and `exit_key` are translation keys."""

    submitted = Signal(str)
    exit_clicked = Signal()

    def __init__(self, metrics: Metrics, *, title_key: str, hint_key: str, exit_key: str, prefix: str = "pin") -> None:
        super().__init__()
        self.metrics = metrics
        self._keys = (title_key, hint_key, exit_key)
        self._pin = ""
        self._entry_enabled = True
        layout = QVBoxLayout(self)
        layout.setSpacing(metrics.gap_px)
        self.title = _label("title", f"{prefix}_title")
        self.hint = _label("hint")
        self.display = _label("title", f"{prefix}_display")
        self.display.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message = _label("error", f"{prefix}_message")
        for widget in (self.title, self.hint, self.display, self.message):
            layout.addWidget(widget)

        grid = QGridLayout()
        grid.setSpacing(metrics.gap_px)
        self.digit_buttons: dict[str, QPushButton] = {}
        for i, digit in enumerate("1234567890"):
            key = _button(f"{prefix}_{digit}")
            key.setText(digit)
            key.clicked.connect(lambda _=False, d=digit: self.press(d))
            grid.addWidget(key, *((3, 1) if digit == "0" else (i // 3, i % 3)))
            self.digit_buttons[digit] = key
        self.clear_button = _button(f"{prefix}_clear")
        self.clear_button.clicked.connect(self.clear)
        self.delete_button = _button(f"{prefix}_delete")
        self.delete_button.clicked.connect(self.delete)
        grid.addWidget(self.clear_button, 3, 0)
        grid.addWidget(self.delete_button, 3, 2)
        pad = QHBoxLayout()
        pad.addStretch(1)
        pad.addLayout(grid, 2)
        pad.addStretch(1)
        layout.addLayout(pad)

        actions = QHBoxLayout()
        self.exit_button = _button(f"{prefix}_exit")
        self.exit_button.clicked.connect(self.exit_clicked)
        self.confirm_button = _button(f"{prefix}_confirm", role="primary")
        self.confirm_button.clicked.connect(self.submit)
        actions.addWidget(self.exit_button)
        actions.addStretch(1)
        actions.addWidget(self.confirm_button)
        layout.addLayout(actions)
        layout.addStretch(1)
        self.apply_metrics(metrics)
        self.set_message("")
        self.retranslate()

    @property
    def entry_buttons(self) -> list[QPushButton]:
        return [*self.digit_buttons.values(), self.clear_button, self.delete_button, self.confirm_button]

    @property
    def has_entry(self) -> bool:
        return bool(self._pin)

    def press(self, digit: str) -> None:
        if self._entry_enabled and len(self._pin) < MAX_DIGITS:
            self._pin += digit
            self._show()

    def delete(self) -> None:
        self._pin = self._pin[:-1]
        self._show()

    def clear(self) -> None:
        self._pin = ""
        self._show()

    def submit(self) -> None:
        if not self._entry_enabled or not self._pin:
            return
        pin = self._pin
        self.clear()
        self.submitted.emit(pin)

    def set_message(self, text: str) -> None:
        self.message.setText(text)
        self.message.setVisible(bool(text))

    def set_entry_enabled(self, enabled: bool) -> None:
        self._entry_enabled = enabled
        for widget in self.entry_buttons:
            widget.setEnabled(enabled)

    def _show(self) -> None:
        self.display.setText(" ".join(HIDDEN_DIGIT for _ in self._pin) or " ")

    def retranslate(self) -> None:
        title_key, hint_key, exit_key = self._keys
        self.title.setText(tr(title_key))
        self.hint.setText(tr(hint_key))
        self.exit_button.setText(tr(exit_key))
        self.clear_button.setText(tr("pin_pad.clear"))
        self.delete_button.setText(tr("pin_pad.delete"))
        self.confirm_button.setText(tr("pin_pad.confirm"))
        self._show()

    def apply_metrics(self, metrics: Metrics) -> None:
        """Keys 1.4 touch targets square (larger in 长辈版, whose targets are larger)."""
        self.metrics = metrics
        side = round(metrics.target_px * 1.4)
        for key in [*self.digit_buttons.values(), self.clear_button, self.delete_button]:
            key.setMinimumHeight(side)
            key.setMinimumWidth(side)


__all__ = ["MAX_DIGITS", "PinPad"]
