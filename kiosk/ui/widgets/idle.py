"""Idle timeout: warn with a countdown and one big 继续办理 button, then clear and go home."""
from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QObject, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QTabletEvent, QTouchEvent
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from kiosk.ui.i18n import tr

ACTIVITY_EVENTS = {
    QEvent.Type.MouseButtonPress, QEvent.Type.TouchBegin, QEvent.Type.KeyPress, QEvent.Type.TabletPress,
}
# The Python classes those events arrive as. An app-wide filter sees every event of every widget
# (~1,500 while the window is first shown); most are paints and layouts, turned away by one set
# lookup on their class before the slower enum of event.type() is made (issue 20).
ACTIVITY_CLASSES = frozenset({QMouseEvent, QTouchEvent, QKeyEvent, QTabletEvent})


class IdleWatcher(QObject):
    """App-wide event filter; `warn(seconds_left)` then `expired()` when nobody touches the screen."""

    warn = Signal(int)
    expired = Signal()
    resumed = Signal()

    def __init__(self, timeout_s: int, warning_s: int, clock=time.monotonic) -> None:
        super().__init__()
        self.timeout_s, self.warning_s = timeout_s, warning_s
        self.clock = clock
        self._last = clock()
        self._armed = False
        self._warning = False
        self._timer = QTimer(self)
        self._timer.setInterval(500)
        self._timer.timeout.connect(self.tick)
        self._timer.start()

    def arm(self, armed: bool) -> None:
        """Only a session in progress times out; the empty home screen just waits."""
        self._armed = armed
        self.touch()

    def touch(self) -> None:
        self._last = self.clock()
        if self._warning:
            self._warning = False
            self.resumed.emit()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if type(event) in ACTIVITY_CLASSES and event.type() in ACTIVITY_EVENTS and not self._warning:
            self.touch()
        return False

    def tick(self) -> None:
        if not self._armed:
            return
        idle = self.clock() - self._last
        left = int(round(self.timeout_s - idle))
        if idle >= self.timeout_s:
            self._warning = False
            self._armed = False
            self.expired.emit()
        elif left <= self.warning_s:
            self._warning = True
            self.warn.emit(left)


class IdleOverlay(QFrame):
    """Covers the window during the warning; the only control is the big continue button."""

    continue_clicked = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("IdleOverlay")
        self.setStyleSheet("QFrame#IdleOverlay { background: rgba(0, 0, 0, 170); }")
        layout = QVBoxLayout(self)
        layout.setAlignment(Qt.AlignmentFlag.AlignCenter)
        box = QFrame()
        box.setObjectName("Card")
        inner = QVBoxLayout(box)
        self.title = QLabel()
        self.title.setProperty("role", "title")
        self.message = QLabel()
        self.message.setObjectName("idle_message")
        self.button = QPushButton()
        self.button.setObjectName("idle_continue")
        self.button.setProperty("role", "primary")
        self.button.clicked.connect(self.continue_clicked)
        for widget in (self.title, self.message, self.button):
            inner.addWidget(widget)
        layout.addWidget(box)
        self.hide()

    def show_countdown(self, seconds: int) -> None:
        self.title.setText(tr("idle.title"))
        self.message.setText(tr("idle.message", n=seconds))
        self.button.setText(tr("idle.continue"))
        parent = self.parentWidget()
        if parent is not None:
            self.setGeometry(parent.rect())
        self.show()
        self.raise_()
