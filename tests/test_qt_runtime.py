"""The Qt binding itself must not corrupt the interpreter: a kiosk emits signals all day.

PySide6 6.12.0 dropped a reference to the value `emit()` returns (True) on every call; after a
few thousand emits CPython aborts with "deallocating True or False". This guards the pin in
pyproject.toml: a binding that leaks references fails here instead of on a kiosk at noon.
"""
from __future__ import annotations

import sys

from PySide6.QtCore import QObject, Qt, Signal


class Emitter(QObject):
    text = Signal(str)
    anything = Signal(object)


def test_emitting_signals_keeps_reference_counts(qapp) -> None:
    emitter, received = Emitter(), [0]

    def count(_value: object) -> None:  # keeps no reference to what it got
        received[0] += 1

    emitter.text.connect(count, Qt.ConnectionType.DirectConnection)
    emitter.anything.connect(count, Qt.ConnectionType.QueuedConnection)
    true_before, none_before = sys.getrefcount(True), sys.getrefcount(None)
    for _ in range(200):
        emitter.text.emit("x")
        emitter.anything.emit(None)
    qapp.processEvents()
    assert received[0] == 400
    assert abs(sys.getrefcount(True) - true_before) < 20
    assert abs(sys.getrefcount(None) - none_before) < 20
