"""How any kiosk window takes the panel: the house style (font, palette, stylesheet for the
current size mode), the panel's DPI, and a window that is exactly the panel and never grows.

Resident kiosk, clerk station, counter and lobby all go through here, so they look and scale
alike. Full screen means the window's geometry *is* the screen's (frameless, fixed size): that
works under a window manager and without one (a kiosk image started from `xinit`, where
`showFullScreen()` alone does nothing). A fixed size also stops a screen whose content is too
wide from growing the window past the panel; the accessibility audit then finds the overflow.
"""
from __future__ import annotations

import math
import os

from PySide6.QtCore import QRect, QSize, Qt
from PySide6.QtGui import QFont, QGuiApplication
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.ui.panel_size import parse_size  # noqa: F401 (re-exported for the window side)
from kiosk.ui.theme import MM_PER_INCH, Metrics, palette_for, stylesheet

DESK_SIZE = (1280, 800)  # a desk window (clerk station) when not full screen and no size is given
# Platforms whose "physical size" is made up, not read from the panel's EDID.
VIRTUAL_PLATFORMS = ("offscreen", "minimal", "vnc", "wayland-egl-virtual")
# The offscreen platform cannot take a window's size hints and says "This plugin does not support
# propagateSizeHints()" on every layout change of a resizable window: hundreds of lines in tests,
# `kiosk demo` and `make bench`. Qt writes it with a plain qWarning (category "default"), so only
# offscreen — where nobody sees a window — default-category warnings are off. A rule, not a Python
# message handler: that would deadlock with the QML loader thread (docs/architecture.md).
OFFSCREEN_LOGGING_RULE = "default.warning=false"


def quiet_offscreen_warnings(environ: os._Environ[str] | dict[str, str] = os.environ) -> None:
    """Add the rule to QT_LOGGING_RULES (kept: any rules already there). Qt reads it when the
    QApplication is made; every kiosk window module imports this one first."""
    if environ.get("QT_QPA_PLATFORM") != "offscreen":
        return
    rules = environ.get("QT_LOGGING_RULES", "")
    if OFFSCREEN_LOGGING_RULE not in rules:
        environ["QT_LOGGING_RULES"] = ";".join(r for r in (rules, OFFSCREEN_LOGGING_RULE) if r)


quiet_offscreen_warnings()


def panel_dpi(pixels: tuple[int, int], physical_mm: tuple[float, float] | None, diagonal_in: float,
              fallback_dpi: float) -> float:
    """Pixels per inch of the panel: from the size the screen reports (EDID) when it is plausible,
    else from the configured diagonal, else the configured DPI. A 21.5" 1920×1080 panel is ~102
    DPI: sizing at 96 would make 20 mm targets 19 mm."""
    width_px, height_px = pixels
    if physical_mm is not None:
        width_mm, height_mm = physical_mm
        if width_mm > 50 and height_mm > 50:
            dpi_x, dpi_y = width_px * MM_PER_INCH / width_mm, height_px * MM_PER_INCH / height_mm
            # Square pixels and a kiosk panel's density (10"–55"), or the EDID is lying: some
            # panels report 160×90 mm, an aspect ratio rather than a size.
            if 60 <= dpi_x <= 250 and abs(dpi_x - dpi_y) / dpi_x < 0.1:
                return round((dpi_x + dpi_y) / 2, 1)
    if diagonal_in > 0:
        return round(math.hypot(width_px, height_px) / diagonal_in, 1)
    return fallback_dpi


def screen_dpi(panel_pixels: tuple[int, int], diagonal_in: float, fallback_dpi: float) -> float:
    """`panel_dpi` on the running application's primary screen: its reported physical size is
    used on a real display; offscreen (tests, the scripted demo) only the configured values."""
    screen = QGuiApplication.primaryScreen()
    if screen is not None and QGuiApplication.platformName() not in VIRTUAL_PLATFORMS:
        size = screen.geometry().size() * screen.devicePixelRatio()
        physical = screen.physicalSize()
        dpi = panel_dpi((size.width(), size.height()), (physical.width(), physical.height()), 0, 0)
        if dpi:
            return dpi
    return panel_dpi(panel_pixels, None, diagonal_in, fallback_dpi)


def kiosk_font(metrics: Metrics, font_family: str) -> None:
    """The application font for the mode (what widgets outside any stylesheet take)."""
    font = QFont(font_family)
    font.setPixelSize(metrics.body_px)
    if QApplication.font() != font:
        QApplication.setFont(font)


def apply_kiosk_style(window: QWidget, metrics: Metrics, theme: str, font_family: str) -> None:
    kiosk_font(metrics, font_family)
    window.setStyleSheet(stylesheet(metrics, palette_for(theme, metrics.elderly), font_family))


def panel_geometry(fullscreen: bool, size: tuple[int, int] | None) -> QRect:
    """Where the window goes: the whole screen, or `size` (offscreen, tests, a desk preview)."""
    screen = QGuiApplication.primaryScreen()
    if fullscreen and screen is not None:
        return screen.geometry()
    width, height = size or DESK_SIZE
    top_left = screen.availableGeometry().topLeft() if screen is not None else QRect().topLeft()
    return QRect(top_left, QSize(width, height))


def fix_to_panel(window: QWidget, size: tuple[int, int]) -> None:
    """Fix the window to exactly `size`: content can never grow it (tests and the demo call this
    directly; `show_on_panel` does it for the real screen)."""
    window.setFixedSize(QSize(*size))


def paint_ahead(window: QWidget, fullscreen: bool, size: tuple[int, int] | None = None) -> None:
    """Lay out, polish and paint `window` once, off screen, at the size `show_on_panel` will give
    it: the first frame's work (style polish of every widget, layouts, rasterising the glyphs of
    the home screen's large CJK text) is done before the event loop runs, as part of start-up,
    instead of stalling the loop for ~40 ms once the window is up (issue 20)."""
    window.resize(panel_geometry(fullscreen, size).size())
    # What building the window posted: the application font's change (FontChange to every widget
    # of every screen), polish and layout requests. Left queued, the first turn after show did it.
    QApplication.sendPostedEvents()
    window.grab()


def show_on_panel(window: QWidget, fullscreen: bool, size: tuple[int, int] | None = None) -> None:
    """Show `window` as exactly the panel. With no size and not full screen (a clerk's desk
    window) it stays an ordinary resizable window."""
    geometry = panel_geometry(fullscreen, size)
    if fullscreen or size is not None:
        if fullscreen:
            # Frameless + on top: with no window manager nothing else places or decorates it.
            window.setWindowFlags(window.windowFlags() | Qt.WindowType.FramelessWindowHint)
        window.setFixedSize(geometry.size())
        window.setGeometry(geometry)
    else:
        window.resize(geometry.size())
    if fullscreen:
        window.showFullScreen()  # with a window manager: no panels or bars over the kiosk
    else:
        window.show()
