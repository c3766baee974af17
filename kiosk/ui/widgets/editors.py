"""Touch editors for form fields: big option buttons, a numeric keypad, a date picker.

Pickers instead of typing wherever possible; the keypad covers digits; free text uses the
system input method (Qt Virtual Keyboard with pinyin on the kiosk).
"""
from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QGridLayout, QHBoxLayout, QLabel, QLineEdit, QPushButton, QVBoxLayout, QWidget

from kiosk.services.forms import FieldSpec
from kiosk.ui.i18n import language, tr
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets.reflow import ReflowGrid


class FieldEditor(QWidget):
    changed = Signal()

    def __init__(self, spec: FieldSpec, metrics: Metrics) -> None:
        super().__init__()
        self.spec = spec
        self.metrics = metrics

    def value(self) -> Any:
        raise NotImplementedError

    def set_value(self, value: Any) -> None:
        raise NotImplementedError

    def retranslate(self) -> None:
        pass


class OptionsEditor(FieldEditor):
    """choice (one) or multichoice (up to max_choices) as big checkable buttons.

    `compact` (a page shared with another question): as many columns as the words allow, up to
    three, so two questions fit on one screen without shrinking a button or cutting a label."""

    def __init__(self, spec: FieldSpec, metrics: Metrics, compact: bool = False) -> None:
        super().__init__(spec, metrics)
        layout: ReflowGrid | QGridLayout = ReflowGrid(self, spacing=metrics.gap_px, max_columns=3) if compact else QGridLayout(self)
        layout.setSpacing(metrics.gap_px)
        self.group = QButtonGroup(self)
        self.group.setExclusive(spec.type == "choice")
        self.buttons: dict[str, QPushButton] = {}
        columns = 1 if len(spec.options) <= 3 else 2
        for index, option in enumerate(spec.options):
            widget = QPushButton()
            widget.setCheckable(True)
            widget.setProperty("role", "option")
            widget.setObjectName(f"option_{spec.name}_{option.value}")
            widget.setMinimumHeight(metrics.target_px)
            self.group.addButton(widget)
            self.buttons[option.value] = widget
            if isinstance(layout, ReflowGrid):
                layout.add(widget)
            else:
                layout.addWidget(widget, index // columns, index % columns)
            widget.toggled.connect(lambda checked, v=option.value: self._toggled(v, checked))
        if isinstance(layout, QGridLayout):
            layout.setRowStretch(layout.rowCount(), 1)  # options stay together at the top on a tall panel
        self.retranslate()

    def _toggled(self, value: str, checked: bool) -> None:
        if checked and self.spec.type == "multichoice" and len(self.value()) > self.spec.max_choices:
            self.buttons[value].setChecked(False)  # refuse a 4th hospital; the label says why
            return
        self.changed.emit()

    def value(self) -> Any:
        chosen = [v for v, b in self.buttons.items() if b.isChecked()]
        if self.spec.type == "choice":
            return chosen[0] if chosen else None
        return chosen

    def set_value(self, value: Any) -> None:
        values = value if isinstance(value, list) else [value]
        for v, b in self.buttons.items():
            b.setChecked(v in values)

    def retranslate(self) -> None:
        lang = language()
        for option in self.spec.options:
            self.buttons[option.value].setText(option.label.get(lang))


class ConsentEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, metrics: Metrics) -> None:
        super().__init__(spec, metrics)
        layout = QVBoxLayout(self)
        self.box = QPushButton()
        self.box.setCheckable(True)
        self.box.setProperty("role", "option")
        self.box.setObjectName(f"consent_{spec.name}")
        self.box.toggled.connect(self._on_toggled)
        layout.addWidget(self.box)
        self.retranslate()

    def _on_toggled(self, _checked: bool) -> None:
        self._update_text()
        self.changed.emit()

    def _update_text(self) -> None:
        self.box.setText(("☑ " if self.box.isChecked() else "☐ ") + tr("form.agree"))

    def value(self) -> Any:
        return self.box.isChecked()

    def set_value(self, value: Any) -> None:
        self.box.setChecked(bool(value))

    def retranslate(self) -> None:
        self._update_text()


class KeypadEditor(FieldEditor):
    """Digits through a big on-screen keypad (ID numbers get an X key, amounts a point)."""

    def __init__(self, spec: FieldSpec, metrics: Metrics) -> None:
        super().__init__(spec, metrics)
        layout = QVBoxLayout(self)
        self.line = QLineEdit()
        self.line.setObjectName(f"input_{spec.name}")
        self.line.setReadOnly(spec.readonly)
        self.line.textChanged.connect(lambda _: self.changed.emit())
        layout.addWidget(self.line)
        grid = QGridLayout()
        grid.setSpacing(metrics.gap_px // 2)
        extra = {"id_number": "X", "amount": "."}.get(spec.type, "")
        keys = ["1", "2", "3", "4", "5", "6", "7", "8", "9", extra, "0", "⌫"]
        self.keys: dict[str, QPushButton] = {}
        for index, key in enumerate(keys):
            if not key:
                continue
            widget = QPushButton(key)
            widget.setObjectName(f"key_{spec.name}_{'back' if key == '⌫' else key}")
            widget.setMinimumHeight(metrics.target_px)
            widget.clicked.connect(lambda _=False, k=key: self.press(k))
            grid.addWidget(widget, index // 3, index % 3)
            self.keys[key] = widget
        layout.addLayout(grid)
        self.retranslate()

    def retranslate(self) -> None:
        if "." in self.keys:  # a lone dot is too small to see: name the key
            self.keys["."].setText(tr("form.decimal_point"))
        if "⌫" in self.keys:
            self.keys["⌫"].setText("⌫ " + tr("form.delete"))

    def press(self, key: str) -> None:
        if key == "⌫":
            self.line.backspace()
        elif len(self.line.text()) < 24:
            self.line.insert(key)

    def value(self) -> Any:
        return self.line.text().strip()

    def set_value(self, value: Any) -> None:
        self.line.setText("" if value is None else str(value))


class TextEditor(FieldEditor):
    def __init__(self, spec: FieldSpec, metrics: Metrics) -> None:
        super().__init__(spec, metrics)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.line = QLineEdit()
        self.line.setObjectName(f"input_{spec.name}")
        self.line.setMaxLength(spec.max_length)
        self.line.setReadOnly(spec.readonly)
        self.line.textChanged.connect(lambda _: self.changed.emit())
        layout.addWidget(self.line)
        layout.addStretch(1)

    def setFocus(self, *reason: Qt.FocusReason) -> None:  # noqa: N802 (Qt API) — the keyboard types into the line edit
        self.line.setFocus(*reason)

    def value(self) -> Any:
        return self.line.text().strip()

    def set_value(self, value: Any) -> None:
        self.line.setText("" if value is None else str(value))


class DateEditor(FieldEditor):
    """Year / month / day, each with big − and + buttons: no typing, no tiny calendar."""

    def __init__(self, spec: FieldSpec, metrics: Metrics, today: dt.date | None = None) -> None:
        super().__init__(spec, metrics)
        self._date = today or dt.date.today()
        row = QHBoxLayout(self)
        row.setSpacing(metrics.gap_px)
        self.parts: dict[str, QLabel] = {}
        for part in ("year", "month", "day"):
            column = QVBoxLayout()
            plus, value, minus = QPushButton("＋"), QLabel(), QPushButton("－")
            for widget, suffix in ((plus, "plus"), (minus, "minus")):
                widget.setObjectName(f"date_{spec.name}_{part}_{suffix}")
                widget.setMinimumHeight(metrics.target_px)
            value.setProperty("role", "title")  # the chosen value, big, between its two buttons
            value.setAlignment(Qt.AlignmentFlag.AlignCenter)
            value.setObjectName(f"date_{spec.name}_{part}")
            plus.clicked.connect(lambda _=False, p=part: self.step(p, +1))
            minus.clicked.connect(lambda _=False, p=part: self.step(p, -1))
            column.addWidget(plus)
            column.addWidget(value)
            column.addWidget(minus)
            row.addLayout(column)
            self.parts[part] = value
        self._show()

    def step(self, part: str, delta: int) -> None:
        year, month, day = self._date.year, self._date.month, self._date.day
        if part == "year":
            year += delta
        elif part == "month":
            month = (month - 1 + delta) % 12 + 1
        else:
            day = (day - 1 + delta) % calendar.monthrange(year, month)[1] + 1
        day = min(day, calendar.monthrange(year, month)[1])
        self._date = dt.date(max(1900, min(2100, year)), month, day)
        self._show()
        self.changed.emit()

    def _show(self) -> None:
        self.parts["year"].setText(f"{self._date.year} {tr('form.year')}")
        self.parts["month"].setText(f"{self._date.month} {tr('form.month')}")
        self.parts["day"].setText(f"{self._date.day} {tr('form.day')}")

    def value(self) -> Any:
        return self._date.isoformat()

    def set_value(self, value: Any) -> None:
        try:
            self._date = dt.date.fromisoformat(str(value))
        except ValueError:
            return
        self._show()

    def retranslate(self) -> None:
        self._show()


def editor_for(spec: FieldSpec, metrics: Metrics, compact: bool = False) -> FieldEditor:
    if spec.type in ("choice", "multichoice"):
        return OptionsEditor(spec, metrics, compact)
    if spec.type == "consent":
        return ConsentEditor(spec, metrics)
    if spec.type in ("id_number", "phone", "amount", "integer"):
        return KeypadEditor(spec, metrics)
    if spec.type == "date":
        return DateEditor(spec, metrics)
    return TextEditor(spec, metrics)
