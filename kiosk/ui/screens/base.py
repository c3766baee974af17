"""Base class for screens: texts come from `tr`, personal data is dropped in `reset()`."""
from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.ui.i18n import register_strings, tr
from kiosk.ui.theme import Metrics

register_strings({
    "entry.elderly_off": ("长辈版 大字 ›", "Large text for seniors ›"),
    "entry.elderly_on": ("✔ 长辈版 已开", "✔ Large text is on"),
})


class Screen(QWidget):
    name = "screen"

    def __init__(self, metrics: Metrics) -> None:
        super().__init__()
        self.setObjectName("Screen")
        self.metrics = metrics

    def retranslate(self) -> None:
        """Re-read every text after a language switch."""

    def apply_metrics(self, metrics: Metrics) -> None:
        """长辈版 switched: sizes not covered by the stylesheet (fixed heights, grids)."""
        self.metrics = metrics

    def reset(self) -> None:
        """Forget everything shown about the resident (idle timeout, sign-out)."""

    def spoken_prompt(self) -> str:
        return ""


def label(text: str = "", role: str = "", wrap: bool = True) -> QLabel:
    widget = QLabel(text)
    if role:
        widget.setProperty("role", role)
    widget.setWordWrap(wrap)
    return widget


def button(text: str = "", role: str = "", name: str = "") -> QPushButton:
    widget = QPushButton(text)
    if role:
        widget.setProperty("role", role)
    if name:
        widget.setObjectName(name)
    return widget


class ElderlyEntry(QPushButton):
    """The big 长辈版 switch on home and identify (MIIT asks for a prominent entry on the home
    page); the header keeps its small one on every screen."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.setObjectName(name)
        self.setProperty("role", "elderly")
        self.setCheckable(True)
        self.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)
        self.toggled.connect(lambda _: self.retranslate())
        self.retranslate()

    def show_mode(self, elderly: bool) -> None:
        self.blockSignals(True)
        self.setChecked(elderly)
        self.blockSignals(False)
        self.retranslate()

    def retranslate(self) -> None:
        self.setText(tr("entry.elderly_on") if self.isChecked() else tr("entry.elderly_off"))


def clause(text: str) -> str:
    """A message placed inside a sentence ("打印失败：{reason}。…") loses its own full stop, so
    the screen never shows "。。"."""
    return text.strip().rstrip("。.！!；;，, ")


def card(parent_layout: QVBoxLayout | None = None) -> tuple[QFrame, QVBoxLayout]:
    frame = QFrame()
    frame.setObjectName("Card")
    layout = QVBoxLayout(frame)
    if parent_layout is not None:
        parent_layout.addWidget(frame)
    return frame, layout


def repolish(widget: QWidget) -> None:
    """Re-apply the stylesheet after a dynamic property (role, invalid) changed."""
    widget.style().unpolish(widget)
    widget.style().polish(widget)
