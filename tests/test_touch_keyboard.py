"""The on-screen keyboard types Chinese through pinyin: "yibao" offers 医保 on the form screen."""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.services.forms import load_form
from kiosk.ui.journey import Journey, click
from kiosk.ui.main_window import MainWindow

PROJECT = Path(__file__).resolve().parent.parent


# Belt and braces with kiosk.ui.widgets.touch_keyboard.QUIET_LOADER_RULES: no Python message
# handler while the QML loader thread runs (see that module for the deadlock it avoids).
@pytest.mark.no_qt_log
def test_pinyin_on_the_embedded_keyboard_types_chinese(qtbot, tmp_path: Path) -> None:
    form_file = tmp_path / "note.toml"
    form_file.write_text(
        'code = "note"\ntitle = { zh_CN = "留言", en = "Note" }\n'
        '[[fields]]\nname = "note"\ntype = "text"\nlabel = { zh_CN = "留言", en = "Note" }\n', encoding="utf-8")
    form = load_form(form_file)
    window = MainWindow([form], 96, "Noto Sans CJK SC")
    qtbot.addWidget(window)
    window.resize(1280, 900)
    window.show()
    window.form.load(form, {})
    window.show_screen(window.form)
    qtbot.waitUntil(lambda: window.form.editors[0].line.hasFocus())
    keyboard = window.form.keyboard
    assert keyboard is not None and keyboard.available and keyboard.isVisible()
    keyboard.type_keys("yibao")
    keyboard.pick_candidate(0)
    editor = window.findChild(type(window.form.editors[0].line), "input_note")
    assert editor.text() == "医保"
    click(Journey(window).find("form_next"))
    assert window.form.answers()["note"] == "医保"
