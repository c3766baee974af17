"""The on-screen keyboard with Chinese (pinyin) input: Qt Virtual Keyboard's InputPanel in a
QQuickWidget, placed under the form screen for the few free-text questions.

Needs QT_IM_MODULE=qtvirtualkeyboard before the QApplication exists (kiosk.ui.shell sets it).
Where the plugin or QML module is missing the widget says so in the log and stays empty; the
field still accepts a hardware keyboard.
"""
from __future__ import annotations

import logging
import time

from PySide6.QtCore import QLoggingCategory, QMetaObject, Q_ARG, Qt, QUrl
from PySide6.QtGui import QColor
from PySide6.QtQuickWidgets import QQuickWidget
from PySide6.QtWidgets import QApplication

from kiosk.config import PROJECT_ROOT

log = logging.getLogger(__name__)
QML = PROJECT_ROOT / "assets" / "qml" / "touch_keyboard.qml"
# Qt's own virtual-keyboard QML trips this benign warning on the QML loader thread. A Python
# message handler (pytest-qt installs one) would then need the GIL, which the GUI thread holds
# while it waits inside setSource(): a deadlock. Filtered here, the message is never emitted.
QUIET_LOADER_RULES = "qt.qml.propertyCache.append=false\nqt.multimedia.symbolsresolver=false"


class TouchKeyboard(QQuickWidget):
    def __init__(self, height_px: int) -> None:
        super().__init__()
        self.setObjectName("touch_keyboard")
        self.setResizeMode(QQuickWidget.ResizeMode.SizeRootObjectToView)
        self.setClearColor(QColor(0, 0, 0, 0))
        self.setAttribute(Qt.WidgetAttribute.WA_AlwaysStackOnTop)
        QLoggingCategory.setFilterRules(QUIET_LOADER_RULES)
        self.setSource(QUrl.fromLocalFile(str(QML)))
        self.available = self.status() == QQuickWidget.Status.Ready
        if not self.available:
            log.warning("touch keyboard unavailable: %s", "; ".join(e.toString() for e in self.errors()))
        self.setFixedHeight(height_px)

    def set_language(self, language: str) -> None:
        root = self.rootObject()
        if root is not None:
            root.setProperty("language", language)

    # -- driving the keys (tests and the scripted demo) -----------------------------------------
    def type_keys(self, text: str) -> None:
        """Press the letter keys for `text` (pinyin letters in Chinese mode)."""
        self._call("typeText", text)

    def pick_candidate(self, index: int = 0) -> None:
        self._call("pickCandidate", index)

    def _call(self, method: str, argument: object) -> None:
        root = self.rootObject()
        if root is None:
            raise RuntimeError("touch keyboard is not loaded")
        QMetaObject.invokeMethod(root, method, Q_ARG("QVariant", argument))
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline:  # let the engine update candidates and commit
            QApplication.processEvents()
            time.sleep(0.01)
