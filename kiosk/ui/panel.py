"""How any kiosk window takes the panel: the house style (font, palette, stylesheet for the
current size mode) and full screen or a desk-sized window. Resident kiosk, clerk station,
counter and lobby all go through here, so they look and scale alike."""
from __future__ import annotations

from PySide6.QtGui import QFont
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.ui.theme import Metrics, palette_for, stylesheet

DESK_SIZE = (1280, 800)  # when not full screen (development, the demo)


def apply_kiosk_style(window: QWidget, metrics: Metrics, theme: str, font_family: str) -> None:
    font = QFont(font_family)
    font.setPixelSize(metrics.body_px)
    QApplication.instance().setFont(font)
    window.setStyleSheet(stylesheet(metrics, palette_for(theme, metrics.elderly), font_family))


def show_on_panel(window: QWidget, fullscreen: bool) -> None:
    if fullscreen:
        window.showFullScreen()
    else:
        window.resize(*DESK_SIZE)
        window.show()
