"""Accessibility audit over every screen, both modes, both languages, on every panel size, from
the live widgets.

The window is fixed to the panel (as on the kiosk) and must stay exactly that size; every widget
must lie inside it. The audit measures rendered pixels and real widget sizes, so it fails when a
button shrinks, a colour lightens or a widget sticks out — the last tests show that it does.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QPushButton

from kiosk.services.forms import load_forms
from kiosk.ui.audit import audit, contrast_ratio
from kiosk.ui.i18n import STRINGS, set_language
from kiosk.ui.main_window import MainWindow
from kiosk.ui.panel import fix_to_panel
from kiosk.ui.screen_tour import PANEL_SIZES, all_modes, sample_ticket_picture, tour
from kiosk.ui.theme import ELDERLY, HIGH_CONTRAST, STANDARD, Metrics

PROJECT = Path(__file__).resolve().parent.parent
DPI = 96


@pytest.fixture
def window(qtbot):
    def make(elderly: bool, language: str, theme: str = "standard", size: tuple[int, int] = (1280, 1024)) -> MainWindow:
        set_language(language)
        catalog = load_forms(PROJECT / "forms")
        w = MainWindow(catalog.forms, DPI, "Noto Sans CJK SC", theme, service_point="示范镇医保服务站")
        qtbot.addWidget(w)
        fix_to_panel(w, size)
        w.show()
        w.set_elderly(elderly)
        w.set_language(language)
        w.catalog = catalog
        return w

    yield make
    set_language("zh_CN")


# no_qt_log: the tour shows the pinyin keyboard (QML); see tests/test_touch_keyboard.py for why.
@pytest.mark.no_qt_log
@pytest.mark.parametrize("size", PANEL_SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize(("elderly", "language"), list(all_modes()))
def test_every_screen_passes_the_audit(window, elderly: bool, language: str, size: tuple[int, int]) -> None:
    w = window(elderly, language, size=size)
    problems = []
    states = 0
    seen = set()
    for state in tour(w, w.catalog):
        states += 1
        seen.add(state)
        scope = w.idle_overlay if state == "idle-warning" else None
        minimum = 7.0 if elderly else 4.5  # 长辈版 is the high-contrast elderly theme
        problems += [f"{state}: {f}" for f in audit(w, w.metrics, min_contrast=minimum, language=language, scope=scope, panel=size)]
    assert states >= 13
    # the shorter journeys' screens (issue 16) are audited too
    assert {"home-menu", "identify-card-optional", "form-page-chronic_disease", "done-ticket-only"} <= seen
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
        # WCAG 1.4.11: a button's outline is what shows where to touch; ≥ 3:1 against what surrounds it
        for bg in (palette.surface, palette.window):
            assert contrast_ratio(rgb(palette.border), rgb(bg)) >= 3.0, (palette.border, bg)


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


def test_content_never_grows_the_window(window) -> None:
    """A wide ticket preview and the 长辈版 keyboard once pushed a portrait window past the panel."""
    w = window(True, "en", size=(1080, 1920))
    for _ in tour(w, w.catalog):
        assert (w.width(), w.height()) == (1080, 1920)
    w.show_screen(w.done)
    w.done.show_preview(sample_ticket_picture())
    QApplication.processEvents()
    assert (w.width(), w.height()) == (1080, 1920)
    assert w.done.preview.pixmap().width() <= w.done.preview.width()


def test_audit_fails_on_a_widget_outside_the_window_or_a_wrong_size(window) -> None:
    w = window(False, "zh_CN", size=(1080, 1920))
    next(iter(tour(w, w.catalog)))
    w.home.tiles[0].setMinimumWidth(3000)
    QApplication.processEvents()
    findings = audit(w, w.metrics, panel=(1920, 1080))
    assert {"outside", "window-size"} <= {f.rule for f in findings}


def test_portrait_home_uses_two_columns(window) -> None:
    w = window(True, "zh_CN", size=(1080, 1920))
    next(iter(tour(w, w.catalog)))
    tiles = w.home.tiles
    assert tiles[2].y() > tiles[0].y() and tiles[1].y() == tiles[0].y()


def test_panel_dpi_from_reported_size_then_diagonal_then_config() -> None:
    from kiosk.ui.panel import panel_dpi
    from kiosk.ui.panel_size import parse_size

    # 21.5" 1920×1080 panel reporting 476×268 mm: ~102 DPI, so 20 mm targets are 20 mm
    assert 101 <= panel_dpi((1920, 1080), (476, 268), 0, 96) <= 103
    assert panel_dpi((1920, 1080), (160, 90), 0, 96) == 96  # an EDID that lies is ignored
    assert panel_dpi((1920, 1080), None, 21.5, 96) == round((1920**2 + 1080**2) ** 0.5 / 21.5, 1)
    assert panel_dpi((1920, 1080), None, 0, 96) == 96
    assert Metrics(102.5).mm(20) > Metrics(96).mm(20)
    assert parse_size("1080x1920") == (1080, 1920) and parse_size("1280×1024") == (1280, 1024)
    for bad in ("1080", "axb", "10x10", "1080x1920x3"):
        with pytest.raises(ValueError, match="WIDTHxHEIGHT|480x480"):
            parse_size(bad)
