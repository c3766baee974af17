"""The on-screen keyboard with Chinese (pinyin) input: Qt Virtual Keyboard's InputPanel in a
QQuickWidget, placed under the form screen for the few free-text questions.

Sized from the panel's millimetres: the panel is made just wide enough that a letter key is
15 mm tall (20 mm in 长辈版), and the pinyin candidate bar above it (the keyboard's own word
candidate list) has candidates as tall as a touch target in the title font. The widget's height
is whatever that keyboard needs, so it never overflows or squeezes the form.

Never stalls the GUI thread (issue 20: its first show once took 60–240 ms): the QML is compiled
on Qt's loader thread (asynchronous component, one engine shared by every keyboard, so it is
compiled once per process; `warm_up()` starts that early), and the panel's hundreds of items and
the pinyin engine are made by an asynchronous Loader that `SlicedIncubation` feeds a few
milliseconds per event-loop turn. Until the keys exist the widget keeps the height they will
take (`available` turns True and `ready` is emitted then), so the form never jumps.

Needs QT_IM_MODULE=qtvirtualkeyboard before the QApplication exists (kiosk.stations.qt sets it).
Where the plugin or QML module is missing the widget says so in the log and stays empty; the
field still accepts a hardware keyboard.
"""
from __future__ import annotations

import logging
import time
from typing import Any

import shiboken6
from PySide6.QtCore import (
    Q_ARG, Q_RETURN_ARG, QLoggingCategory, QMetaObject, QObject, QPoint, QRect, Qt, QTimer, QUrl, Signal,
)
from PySide6.QtGui import QColor, QResizeEvent
from PySide6.QtQml import QQmlComponent, QQmlEngine, QQmlIncubationController
from PySide6.QtQuickWidgets import QQuickWidget
from PySide6.QtWidgets import QApplication, QSizePolicy

from kiosk.config import PROJECT_ROOT
from kiosk.ui.theme import Metrics

log = logging.getLogger(__name__)
QML = PROJECT_ROOT / "assets" / "qml" / "touch_keyboard.qml"
# Qt's own virtual-keyboard QML trips this benign warning on the QML loader thread. A Python
# message handler (pytest-qt installs one) would then need the GIL, which the GUI thread holds
# while it waits inside setSource(): a deadlock. Filtered here, the message is never emitted.
QUIET_LOADER_RULES = "qt.qml.propertyCache.append=false\nqt.multimedia.symbolsresolver=false"
# Qt Virtual Keyboard's default style: a letter key is this fraction of the panel's width tall.
KEY_HEIGHT_PER_WIDTH = 0.0765


class SlicedIncubation(QQmlIncubationController):
    """Makes asynchronous QML objects SLICE_MS at a time, one slice per event-loop turn. A
    QQuickWidget's engine has no incubation controller, and without one an asynchronous Loader is
    made in one go — the whole keyboard in one 100+ ms stall."""

    SLICE_MS = 4

    def __init__(self, owner: QObject) -> None:
        super().__init__()
        self._timer = QTimer(owner)  # goes with the engine: never fires into a deleted one
        self._timer.setInterval(0)
        self._timer.timeout.connect(lambda: self.incubateFor(self.SLICE_MS))

    def incubatingObjectCountChanged(self, count: int) -> None:  # noqa: N802 (Qt API)
        if count:
            self._timer.start()
        else:
            self._timer.stop()


_engine: QQmlEngine | None = None
_incubation: SlicedIncubation | None = None  # lives as long as the engine that uses it
_warm: QQmlComponent | None = None


def shared_engine() -> QQmlEngine:
    """One QML engine for every keyboard (the form's, the proxy's): the QML is compiled once per
    process. Owned by the QApplication, so it goes before the application does."""
    global _engine, _incubation
    if _engine is None:
        QLoggingCategory.setFilterRules(QUIET_LOADER_RULES)
        _engine = QQmlEngine(QApplication.instance())
        _incubation = SlicedIncubation(_engine)
        _engine.setIncubationController(_incubation)
        _engine.destroyed.connect(_forget_engine)
    return _engine


def _forget_engine() -> None:
    global _engine, _incubation, _warm
    _engine = _incubation = _warm = None


def warm_up() -> None:
    """Start compiling the keyboard's QML on Qt's loader thread now (say, once the home screen is
    painted), so the first keyboard only has its objects to make."""
    global _warm
    engine = shared_engine()
    if _warm is None:
        _warm = QQmlComponent(engine, QUrl.fromLocalFile(str(QML)), QQmlComponent.CompilationMode.Asynchronous, engine)


class TouchKeyboard(QQuickWidget):
    ready = Signal()  # the keys exist: `available` is True from now on

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(shared_engine(), None)  # type: ignore[call-overload]  # (engine, parent) in Qt
        self.setObjectName("touch_keyboard")
        self.setResizeMode(QQuickWidget.ResizeMode.SizeRootObjectToView)
        self.setClearColor(QColor(0, 0, 0, 0))
        self.setAttribute(Qt.WidgetAttribute.WA_AlwaysStackOnTop)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # a touch on a key must leave the focus in the field
        # Never asks for more width than the form has: the panel narrows to the room it gets.
        self.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Fixed)
        self.available = False
        self._closing = False
        self.metrics = metrics
        self._language: str | None = None
        self._fit_height()  # the room the keys will take, kept while they are made
        self._component = QQmlComponent(self.engine(), QUrl.fromLocalFile(str(QML)),
                                        QQmlComponent.CompilationMode.Asynchronous, self)
        self._component.statusChanged.connect(self._compiled)
        if not self._component.isLoading():  # compiled before (another keyboard, warm_up): no signal comes
            self._compiled(self._component.status())

    def _alive(self) -> bool:
        """False once the widget is being destroyed: its keys may still be being made (a slice per
        event-loop turn) or compiled when its window goes; nothing may then touch it (issue 20)."""
        return shiboken6.isValid(self) and not self._closing

    def _compiled(self, status: QQmlComponent.Status) -> None:
        if not self._alive() or status == QQmlComponent.Status.Loading or self.rootObject() is not None:
            return
        root = self._component.create() if status == QQmlComponent.Status.Ready else None
        if root is None:
            errors = self._component.errors() if status == QQmlComponent.Status.Error else []
            log.warning("touch keyboard unavailable: %s", "; ".join(e.toString() for e in errors) or "not created")
            return
        root.panelReady.connect(self._panel_ready)  # type: ignore[attr-defined]  # declared in the QML
        self.setContent(QUrl.fromLocalFile(str(QML)), self._component, root)
        self.set_metrics(self.metrics)
        if self._language is not None:
            self.set_language(self._language)

    def deleteLater(self) -> None:  # noqa: N802 (Qt API)
        self.stop_building()
        super().deleteLater()

    def stop_building(self) -> None:
        """Stop making the keys now and ignore whatever is still on its way (the keyboard is going
        with its keys half built). A keyboard deleted with its window needs no call: its root
        object goes first, and the Loader's incubation is cancelled with it."""
        if not shiboken6.isValid(self) or self._closing:
            return
        self._closing = True
        root = self.rootObject()
        if root is not None and not self.available:
            loader = root.findChild(QObject, "panelLoader")
            if loader is not None:
                loader.setProperty("active", False)  # cancels the incubation at once

    def _panel_ready(self) -> None:
        if not self._alive():
            return
        self.available = True
        self._fit_height()
        # a field focused while the panel was being made: the new input engine learns of it now
        QApplication.inputMethod().update(Qt.InputMethodQuery.ImQueryAll)
        self.ready.emit()

    def set_metrics(self, metrics: Metrics) -> None:
        """长辈版 switched (or first shown): bigger keys and candidates, at once."""
        self.metrics = metrics
        root = self.rootObject()
        if root is not None:
            root.setProperty("panelWidth", metrics.target_px / KEY_HEIGHT_PER_WIDTH + 2)
            root.setProperty("candidateHeight", metrics.target_px)
            root.setProperty("candidatePx", metrics.title_px)
        self._fit_height()

    def _fit_height(self) -> None:
        root = self.rootObject()
        width = self.width() if self.width() > 0 else 10_000
        panel = min(width, self.metrics.target_px / KEY_HEIGHT_PER_WIDTH + 2)
        keyboard = panel * 0.3125  # Qt Virtual Keyboard's own height for this width (until it is made)
        if root is not None:
            root.setProperty("width", width)  # so the panel lays out at its real width now
            if self.available:
                QApplication.processEvents()
                if not self._alive():  # deleted while the events ran
                    return
                keyboard = float(root.property("keyboardHeight") or 0) or keyboard
        self.setFixedHeight(round(keyboard) + self.metrics.target_px + 4)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if event.oldSize().width() != event.size().width():
            self._fit_height()

    def set_language(self, language: str) -> None:
        self._language = language
        root = self.rootObject()
        if root is not None:
            root.setProperty("language", language)

    # -- measuring and driving the keys (tests and the scripted demo) ----------------------------
    def key_height_px(self) -> float:
        return float(self._ask("keyHeight") or 0)

    def candidates(self) -> list[str]:
        return [str(self._ask("candidate", i)) for i in range(int(self._ask("candidateCount") or 0))]

    def candidate_rect(self, index: int) -> QRect | None:
        """Where candidate `index` is drawn on this widget (scrolled into view), or None."""
        return self._rect(self._ask("candidateRect", index))

    def space_rect(self) -> QRect | None:
        return self._rect(self._ask("spaceRect"))

    @staticmethod
    def _rect(value: Any) -> QRect | None:
        values = value.toVariant() if hasattr(value, "toVariant") else value
        if not values:
            return None
        x, y, w, h = (round(float(v)) for v in values)
        return QRect(QPoint(x, y), QRect(0, 0, w, h).size())

    def type_keys(self, text: str) -> None:
        """Press the letter keys for `text` (pinyin letters in Chinese mode)."""
        self._call("typeText", text)

    def pick_candidate(self, index: int = 0) -> None:
        self._call("pickCandidate", index)

    def _ask(self, method: str, *arguments: object) -> Any:  # whatever the QML function returns
        root = self.rootObject()
        if root is None or not self.available:
            raise RuntimeError("touch keyboard is not loaded")
        args = [Q_ARG("QVariant", a) for a in arguments]
        return QMetaObject.invokeMethod(root, method, Q_RETURN_ARG("QVariant"), *args)

    def _call(self, method: str, argument: object) -> None:
        root = self.rootObject()
        if root is None or not self.available:
            raise RuntimeError("touch keyboard is not loaded")
        QMetaObject.invokeMethod(root, method, Q_ARG("QVariant", argument))
        deadline = time.monotonic() + 0.3
        while time.monotonic() < deadline and self._alive():  # let the engine update candidates and commit
            QApplication.processEvents()
            time.sleep(0.01)
