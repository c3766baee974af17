"""Base class for screens: texts come from `tr`, personal data is dropped in `reset()`."""
from __future__ import annotations

from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.ui.theme import Metrics


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
