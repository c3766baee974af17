"""The on-screen keyboard types Chinese through pinyin on the form screen: "zhang" on the keys,
张 touched in the candidate bar, 张 in the field — in normal mode and in 长辈版, where the keys are
at least 20 mm tall and the keyboard follows the mode whenever it is shown."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from kiosk.services.forms import load_form
from kiosk.ui.audit import rendered_contrast, window_pixels
from kiosk.ui.journey import Journey, click
from kiosk.ui.main_window import MainWindow
from kiosk.ui.panel import fix_to_panel

PROJECT = Path(__file__).resolve().parent.parent
DPI = 96


@pytest.fixture
def note_window(qtbot, tmp_path: Path):
    form_file = tmp_path / "note.toml"
    form_file.write_text(
        'code = "note"\ntitle = { zh_CN = "留言", en = "Note" }\n'
        '[[fields]]\nname = "note"\ntype = "text"\nlabel = { zh_CN = "留言", en = "Note" }\n'
        '[guide]\nwho = { zh_CN = "任何人", en = "Anyone" }\nmaterials = [{ zh_CN = "无", en = "Nothing" }]\n'
        'days = 0\nresult = { zh_CN = "当场", en = "At once" }\n', encoding="utf-8")
    form = load_form(form_file)

    def make(size: tuple[int, int] = (1280, 1024)) -> MainWindow:
        window = MainWindow([form], DPI, "Noto Sans CJK SC")
        qtbot.addWidget(window)
        fix_to_panel(window, size)
        window.show()
        window.form.load(form, {})
        window.show_screen(window.form)
        qtbot.waitUntil(lambda: window.form.editors[0].line.hasFocus())
        # the keys are made a slice per event-loop turn (issue 20): they come a moment after the form
        qtbot.waitUntil(lambda: window.form.keyboard is not None and window.form.keyboard.available)
        return window

    return make


# Belt and braces with kiosk.ui.widgets.touch_keyboard.QUIET_LOADER_RULES: no Python message
# handler while the QML loader thread runs (see that module for the deadlock it avoids).
@pytest.mark.no_qt_log
@pytest.mark.parametrize("elderly", [False, True], ids=["normal", "elderly"])
def test_zhang_typed_and_picked_from_the_candidate_bar(qtbot, note_window, elderly: bool) -> None:
    window = note_window()
    keyboard = window.form.keyboard
    assert keyboard is not None and keyboard.available and keyboard.isVisible()
    window.set_elderly(elderly)  # after the keyboard was first shown: it must follow
    qtbot.waitUntil(lambda: keyboard.metrics.elderly == elderly)
    target_mm = 20 if elderly else 15
    assert keyboard.key_height_px() >= window.metrics.mm(target_mm) - 1
    keyboard.type_keys("zhang")
    assert "张" in keyboard.candidates()
    index = keyboard.candidates().index("张")
    rect = keyboard.candidate_rect(index)
    assert rect is not None and rect.height() >= window.metrics.mm(target_mm) - 1  # a big candidate
    assert keyboard.rect().contains(rect)  # drawn inside the widget, not cut off above it
    QTest.mouseClick(keyboard, Qt.MouseButton.LeftButton, pos=rect.center())  # a finger on 张
    editor = window.form.editors[0].line
    qtbot.waitUntil(lambda: editor.text() == "张")
    assert window.geometry().size().toTuple() == (1280, 1024)  # the keyboard never grows the window
    click(Journey(window).find("form_next"))
    assert window.form.answers()["note"] == "张"


@pytest.mark.no_qt_log
def test_elderly_keyboard_fits_a_portrait_panel_and_the_space_label_is_readable(note_window) -> None:
    window = note_window((1080, 1920))
    window.set_elderly(True)
    QApplication.processEvents()
    keyboard = window.form.keyboard
    assert keyboard.key_height_px() >= window.metrics.mm(20) - 1
    top_left = keyboard.mapTo(window, keyboard.rect().topLeft())
    assert top_left.x() >= 0 and top_left.x() + keyboard.width() <= 1080 and top_left.y() + keyboard.height() <= 1920
    space = keyboard.space_rect()
    assert space is not None
    space.translate(top_left)
    ratio = rendered_contrast(window_pixels(window), space.adjusted(6, 6, -6, -6))
    assert ratio is not None and ratio >= 4.5


@pytest.mark.no_qt_log
def test_the_keyboard_keeps_its_room_while_its_keys_are_made(qtbot) -> None:
    """The widget takes the keys' height at once and keeps it when they appear: the form above
    never jumps, and a field focused before the keys existed gets pinyin from the first key."""
    from PySide6.QtWidgets import QLineEdit, QVBoxLayout, QWidget

    from kiosk.ui.theme import Metrics
    from kiosk.ui.widgets.touch_keyboard import TouchKeyboard

    host = QWidget()
    qtbot.addWidget(host)
    layout = QVBoxLayout(host)
    field = QLineEdit()
    layout.addWidget(field)
    host.resize(1280, 800)
    host.show()
    keyboard = TouchKeyboard(Metrics(DPI))
    layout.addWidget(keyboard)
    keyboard.set_language("zh_CN")
    field.setFocus()
    qtbot.waitUntil(lambda: keyboard.width() > 0 and field.hasFocus())
    before = keyboard.height()
    with qtbot.waitSignal(keyboard.ready, timeout=20_000, raising=False):
        pass
    qtbot.waitUntil(lambda: keyboard.available, timeout=20_000)
    assert abs(keyboard.height() - before) <= 2
    keyboard.type_keys("zhang")
    assert "张" in keyboard.candidates()
