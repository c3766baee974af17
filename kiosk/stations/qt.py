"""The Qt application every station runs in, set up one way.

Environment first (the touch keyboard's input method must be chosen before the QApplication
exists; offscreen warnings are quieted by `kiosk.ui.panel` on import), then the one
QApplication, then SIGTERM/SIGINT handling so a stopped service still closes its devices.
"""
from __future__ import annotations

import os
import signal

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

import kiosk.ui.panel  # noqa: F401  (sets QT_LOGGING_RULES offscreen before the application exists)


def use_touch_keyboard() -> None:
    """Qt Virtual Keyboard (pinyin) as the input method; must happen before QApplication exists.
    DESKTOP_DISABLE keeps it inside our embedded InputPanel instead of a floating window."""
    os.environ.setdefault("QT_IM_MODULE", "qtvirtualkeyboard")
    os.environ.setdefault("QT_VIRTUALKEYBOARD_DESKTOP_DISABLE", "1")
    if os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        os.environ.setdefault("QT_QUICK_BACKEND", "software")  # no GPU offscreen


def qt_application(touch_keyboard: bool = False) -> QApplication:
    """The running QApplication, made now if there is none. `touch_keyboard`: the resident
    kiosk's on-screen pinyin keyboard (a clerk's desk has a real keyboard)."""
    app = QApplication.instance()
    if isinstance(app, QApplication):
        return app
    if touch_keyboard:
        use_touch_keyboard()
    return QApplication([])


def resolve_qt_types(app: QApplication) -> None:
    """PySide6 makes its Python classes lazily. The first object of a class it does not export
    that reaches Python (the app-wide event filters see Qt's input context and event dispatcher)
    makes it create every class of the loaded Qt modules, ~150 enums: 30–40 ms, which fell inside
    the home screen's first paint (issue 20). Asked for here, before the window is shown."""
    app.children()  # the event dispatcher and session manager: classes PySide6 does not export


def quit_on_signals(app: QApplication) -> QTimer:
    """SIGTERM (systemd stop) and SIGINT end the event loop, so the station's `close()` runs and
    simulators, pcscd and threads are stopped. A short timer lets Python see the signal while Qt
    waits."""
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: app.quit())
    timer = QTimer()
    timer.timeout.connect(lambda: None)
    timer.start(250)
    return timer
