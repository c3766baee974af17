"""Accessibility audit over every screen, both modes, both languages, from the live widgets.

The audit measures rendered pixels and real widget sizes, so it fails when a button shrinks or
a colour lightens — the last two tests show that it does.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QPushButton

from kiosk.services.forms import load_forms
from kiosk.ui.audit import audit, contrast_ratio
from kiosk.ui.i18n import STRINGS, set_language
from kiosk.ui.main_window import MainWindow
from kiosk.ui.screen_tour import all_modes, tour
from kiosk.ui.theme import ELDERLY, HIGH_CONTRAST, STANDARD, Metrics

PROJECT = Path(__file__).resolve().parent.parent
DPI = 96


@pytest.fixture
def window(qtbot):
    def make(elderly: bool, language: str, theme: str = "standard") -> MainWindow:
        set_language(language)
        catalog = load_forms(PROJECT / "forms")
        w = MainWindow(catalog.forms, DPI, "Noto Sans CJK SC", theme, service_point="示范镇医保服务站")
        qtbot.addWidget(w)
        w.resize(1280, 800)
        w.show()
        w.set_elderly(elderly)
        w.set_language(language)
        w.catalog = catalog
        return w

    yield make
    set_language("zh_CN")


# no_qt_log: the tour shows the pinyin keyboard (QML); see tests/test_touch_keyboard.py for why.
@pytest.mark.no_qt_log
@pytest.mark.parametrize(("elderly", "language"), list(all_modes()))
def test_every_screen_passes_the_audit(window, elderly: bool, language: str) -> None:
    w = window(elderly, language)
    problems = []
    states = 0
    for state in tour(w, w.catalog):
        states += 1
        scope = w.idle_overlay if state == "idle-warning" else None
        minimum = 7.0 if elderly else 4.5  # 长辈版 is the high-contrast elderly theme
        problems += [f"{state}: {f}" for f in audit(w, w.metrics, min_contrast=minimum, language=language, scope=scope)]
    assert states >= 12
    assert problems == []


@pytest.mark.no_qt_log
def test_high_contrast_theme_reaches_7_to_1(window) -> None:
    w = window(True, "zh_CN", theme="high_contrast")
    problems = []
    for state in tour(w, w.catalog):
        scope = w.idle_overlay if state == "idle-warning" else None
        problems += [f"{state}: {f}" for f in audit(w, w.metrics, min_contrast=7.0, scope=scope) if f.rule == "contrast"]
    assert problems == []


def test_palettes_meet_contrast_on_paper() -> None:
    def rgb(hex_colour: str) -> tuple[int, int, int]:
        return tuple(int(hex_colour[i : i + 2], 16) for i in (1, 3, 5))  # type: ignore[return-value]

    for palette, minimum in ((STANDARD, 4.5), (ELDERLY, 7.0), (HIGH_CONTRAST, 7.0)):
        pairs = [(palette.text, palette.surface), (palette.text, palette.window), (palette.muted_text, palette.window),
                 (palette.on_primary, palette.primary), (palette.on_accent, palette.accent),
                 (palette.on_danger, palette.danger), (palette.on_header, palette.header)]
        for fg, bg in pairs:
            assert contrast_ratio(rgb(fg), rgb(bg)) >= minimum, (fg, bg)


def test_elderly_mode_sizes() -> None:
    normal, elderly = Metrics(DPI), Metrics(DPI, elderly=True)
    assert elderly.body_px >= 1.5 * normal.body_px
    assert elderly.body_pt >= 18
    assert elderly.target_px >= Metrics(DPI).mm(20) and normal.target_px >= Metrics(DPI).mm(15)
    assert Metrics(160).target_px > Metrics(96).target_px  # millimetres hold on a denser panel


def test_every_string_has_both_languages() -> None:
    for key, (zh, en) in STRINGS.items():
        assert zh.strip() and en.strip(), key


def test_audit_fails_when_a_button_shrinks(window) -> None:
    w = window(True, "zh_CN")
    next(iter(tour(w, w.catalog)))  # home
    w.elderly_button.setFixedSize(40, 40)
    findings = audit(w, w.metrics)
    assert any(f.rule == "touch-target" and "header_elderly" in f.widget for f in findings)


def test_audit_fails_when_a_colour_lightens(window) -> None:
    w = window(False, "zh_CN")
    next(iter(tour(w, w.catalog)))
    w.home.heading.setStyleSheet("color: #C8CDD2;")
    findings = audit(w, w.metrics)
    assert any(f.rule == "contrast" for f in findings)


def test_audit_fails_on_clipped_and_untranslated_text(window) -> None:
    w = window(False, "en")
    next(iter(tour(w, w.catalog)))
    w.home.heading.setText("请选择要办理的业务 — a heading far too long to fit in its narrow box " * 3)
    w.home.heading.setWordWrap(False)
    findings = audit(w, w.metrics, language="en")
    assert {"clipped", "untranslated"} <= {f.rule for f in findings}
