"""A pinyin keyboard deleted while its keys are still being made (a slice per event-loop turn)
must not crash the process: the building stops with the widget (issue 20)."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent
from PySide6.QtWidgets import QApplication, QVBoxLayout, QWidget

from kiosk.ui.theme import Metrics
from kiosk.ui.widgets import touch_keyboard
from kiosk.ui.widgets.touch_keyboard import TouchKeyboard


def _delete_now(widget: QWidget) -> None:
    widget.deleteLater()
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)


@pytest.mark.no_qt_log  # the QML loader thread runs (see tests/test_touch_keyboard.py)
@pytest.mark.parametrize("what", ["window", "keyboard"])
@pytest.mark.parametrize("when", ["compiling", "building"])
def test_a_keyboard_deleted_mid_build_stops_building(qtbot, when: str, what: str) -> None:
    for _ in range(3):  # each round: a fresh keyboard in a fresh window, deleted part-way
        holder = QWidget()
        holder.resize(1000, 600)
        keyboard = TouchKeyboard(Metrics(dpi=96))
        QVBoxLayout(holder).addWidget(keyboard)
        holder.show()
        if when == "building":  # its keys are being incubated a slice at a time
            qtbot.waitUntil(lambda k=keyboard: k.rootObject() is not None)
            assert not keyboard.available
        _delete_now(holder if what == "window" else keyboard)
        # the incubation timer and the loader thread keep running: nothing may reach the dead widget
        turns = {"n": 0}

        def spun(t: dict[str, int] = turns) -> bool:
            t["n"] += 1
            return t["n"] > 60

        qtbot.waitUntil(spun, timeout=5000)
        if what == "keyboard":
            holder.deleteLater()
    # the shared engine still makes a working keyboard afterwards
    survivor = TouchKeyboard(Metrics(dpi=96))
    qtbot.addWidget(survivor)
    survivor.resize(1000, 400)
    survivor.show()
    qtbot.waitUntil(lambda: survivor.available, timeout=20000)
    assert touch_keyboard.shared_engine() is survivor.engine()


@pytest.mark.no_qt_log
def test_the_form_window_closed_while_its_keyboard_is_being_made(qtbot, tmp_path) -> None:
    from pathlib import Path

    from kiosk.services.forms import load_form
    from kiosk.ui.main_window import MainWindow
    from kiosk.ui.panel import fix_to_panel

    form_file = tmp_path / "note.toml"
    form_file.write_text(
        'code = "note"\ntitle = { zh_CN = "留言", en = "Note" }\n'
        '[[fields]]\nname = "note"\ntype = "text"\nlabel = { zh_CN = "留言", en = "Note" }\n'
        '[guide]\nwho = { zh_CN = "任何人", en = "Anyone" }\nmaterials = [{ zh_CN = "无", en = "Nothing" }]\n'
        'days = 0\nresult = { zh_CN = "当场", en = "At once" }\n', encoding="utf-8")
    form = load_form(Path(form_file))
    window = MainWindow([form], 96, "Noto Sans CJK SC")
    fix_to_panel(window, (1280, 1024))
    window.show()
    window.form.load(form, {})
    window.show_screen(window.form)
    qtbot.waitUntil(lambda: window.form.keyboard is not None and window.form.keyboard.rootObject() is not None)
    keyboard = window.form.keyboard
    assert keyboard is not None and not keyboard.available  # half built
    window.close()
    _delete_now(window)
    turns = {"n": 0}

    def spun() -> bool:
        turns["n"] += 1
        return turns["n"] > 60

    qtbot.waitUntil(spun, timeout=5000)
