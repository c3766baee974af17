"""The clerk's 零星报销 scan station window: the screen in the house style.

The station itself (camera, OCR reader, outbox, card readers) is composed in
`kiosk.stations.clerk` (`kiosk run --station clerk`).
"""
from __future__ import annotations

from PySide6.QtWidgets import QMainWindow

from kiosk.ui.i18n import tr
from kiosk.ui.panel import apply_kiosk_style
from kiosk.ui.screens.clerk_station import ClerkStationScreen


class ClerkWindow(QMainWindow):
    def __init__(self, screen: ClerkStationScreen, font_family: str, theme: str = "standard") -> None:
        super().__init__()
        self.screen = screen  # type: ignore[assignment,method-assign]  # shadows QWidget.screen(); stations and tests use it
        self.setCentralWidget(screen)
        self.setWindowTitle(tr("clerk.title"))
        apply_kiosk_style(self, screen.metrics, theme, font_family)
