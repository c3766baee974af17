"""长辈版 restyles only the screen on show; the others take the style when shown (issue 20)."""
from __future__ import annotations

from pathlib import Path

from kiosk.services.forms import load_forms
from kiosk.ui.main_window import MainWindow
from kiosk.ui.panel import fix_to_panel

PROJECT = Path(__file__).resolve().parent.parent


def test_a_screen_shown_after_the_switch_has_the_new_style(qtbot) -> None:
    w = MainWindow(load_forms(PROJECT / "forms").forms, 96, "Noto Sans CJK SC")
    qtbot.addWidget(w)
    fix_to_panel(w, (1280, 1024))
    w.show()
    w.show_screen(w.home)
    w.set_elderly(True)
    assert w.styled_like_window(w.home)
    assert not w.styled_like_window(w.done)  # not restyled while hidden
    w.show_screen(w.done)
    assert w.styled_like_window(w.done)
    qtbot.waitUntil(lambda: w.done.isVisible())
    buttons = [b for b in w.done.findChildren(type(w.elderly_button)) if b.isVisible()]
    assert buttons and min(b.height() for b in buttons) >= w.metrics.mm(20) - 1  # 长辈版 targets
    w.set_elderly(False)  # while done is on show
    assert w.styled_like_window(w.done) and not w.styled_like_window(w.home)
    w.show_screen(w.home)
    assert w.styled_like_window(w.home)
