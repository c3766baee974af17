"""Accessibility audit of live widgets (MIIT 适老化 + WCAG 2.2 numbers from DESIGN.md).

Measures what a resident would meet, from the rendered screen: text size, contrast of the text
against its own background (from the widget's pixels, so stylesheets count), touch target size
in millimetres at the panel DPI, clipped text, overlapping siblings, untranslated text, and the
window's own geometry: exactly the panel's size, every widget inside it and inside its parents
(a scroll area's content may scroll; the scroll area itself must fit).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from PySide6.QtCore import QRect, QSize
from PySide6.QtGui import QImage
from PySide6.QtQuickWidgets import QQuickWidget
from PySide6.QtWidgets import (QAbstractButton, QAbstractScrollArea, QLabel, QLineEdit, QPushButton, QStyle,
                               QStyleOptionButton, QWidget)

from kiosk.ui.theme import Metrics

CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Finding:
    rule: str
    widget: str
    detail: str

    def __str__(self) -> str:
        return f"{self.rule}: {self.widget}: {self.detail}"


def relative_luminance(rgb: tuple[int, int, int]) -> float:
    def channel(c: int) -> float:
        s = c / 255
        return s / 12.92 if s <= 0.03928 else ((s + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(a: tuple[int, int, int], b: tuple[int, int, int]) -> float:
    la, lb = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def rendered_contrast(shot: np.ndarray, rect: QRect) -> float | None:
    """Text colour vs background colour as drawn, from a screenshot of the whole window (so
    inherited backgrounds and stylesheets count). The background is the most common colour in
    the widget's rectangle; the text is the solid glyph core, i.e. the colour furthest from it in
    luminance among colours with a few pixels at least (anti-aliasing makes the shades between)."""
    region = shot[max(0, rect.top()) : rect.bottom(), max(0, rect.left()) : rect.right()].ravel() & 0xFFFFFF
    if region.size < 16:
        return None
    colours, counts = np.unique(region, return_counts=True)
    rgb = np.stack([(colours >> 16) & 255, (colours >> 8) & 255, colours & 255], axis=1)
    lum = _luminance_array(rgb)
    background = int(np.argmax(counts))
    solid = counts >= 3
    solid[background] = False
    if not solid.any():
        return None
    distance = np.where(solid, np.abs(lum - lum[background]), -1.0)
    text = int(np.argmax(distance))
    high, low = max(lum[text], lum[background]), min(lum[text], lum[background])
    return float((high + 0.05) / (low + 0.05))


def window_pixels(root: QWidget) -> np.ndarray:
    image = root.grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    words = image.bytesPerLine() // 4
    pixels = np.frombuffer(image.constBits(), dtype=np.uint32, count=image.height() * words)
    return pixels.reshape(image.height(), words)[:, : image.width()].copy()


def _luminance_array(rgb: np.ndarray) -> np.ndarray:
    s = rgb / 255.0
    linear = np.where(s <= 0.03928, s / 12.92, ((s + 0.055) / 1.055) ** 2.4)
    return linear @ np.array([0.2126, 0.7152, 0.0722])


def _name(widget: QWidget) -> str:
    text = widget.text() if hasattr(widget, "text") else ""
    return f"{type(widget).__name__}#{widget.objectName() or '?'}({text[:16]!r})"


def _visible_text_widgets(root: QWidget) -> list[QWidget]:
    found: list[QWidget] = []
    for widget in root.findChildren(QWidget):
        if not widget.isVisibleTo(root) or not widget.isVisible():
            continue
        if isinstance(widget, (QLabel, QAbstractButton, QLineEdit)):
            found.append(widget)
    return found


def audit(root: QWidget, metrics: Metrics, min_contrast: float = 4.5, language: str = "zh_CN",
          untranslated_ok: frozenset[str] = frozenset(), scope: QWidget | None = None,
          panel: tuple[int, int] | None = None) -> list[Finding]:
    """Check every visible text widget under `scope` (default: all of `root`, the window whose
    pixels are measured). A modal overlay is audited by passing it as the scope. With `panel`,
    the window must be exactly that size."""
    findings: list[Finding] = []
    if panel is not None and root.size() != QSize(*panel):
        findings.append(Finding("window-size", _name(root), f"{root.width()}x{root.height()} is not the panel's {panel[0]}x{panel[1]}"))
    findings += _outside(scope or root, root)
    min_text_px = metrics.pt(18.0 if metrics.elderly else 11.0) - 1
    target_px = metrics.mm(metrics.target_mm) - 1
    widgets = _visible_text_widgets(scope or root)
    shot = window_pixels(root)
    for widget in widgets:
        text = widget.text() if hasattr(widget, "text") else ""
        name = _name(widget)
        font_px = widget.font().pixelSize() if widget.font().pixelSize() > 0 else metrics.pt(widget.font().pointSizeF())
        if text.strip() and font_px < min_text_px:
            findings.append(Finding("text-size", name, f"{font_px}px < {min_text_px}px"))
        if (isinstance(widget, (QAbstractButton, QLineEdit)) and widget.isEnabled()
                and (widget.width() < target_px or widget.height() < target_px)):
            findings.append(Finding("touch-target", name, f"{widget.width()}x{widget.height()}px < {target_px}px"))
        seen = _visible_rect(widget, root)  # measured when fully in view (scroll areas cut content)
        if text.strip() and widget.width() > 0 and seen.size() == widget.size():
            ratio = rendered_contrast(shot, seen)
            if ratio is not None and ratio < min_contrast:
                findings.append(Finding("contrast", name, f"{ratio:.2f}:1 < {min_contrast}:1"))
        if text.strip():
            fm = widget.fontMetrics()
            if isinstance(widget, QLabel) and widget.wordWrap():
                needed = widget.heightForWidth(widget.width())
                if needed > widget.height() + 2:
                    findings.append(Finding("clipped", name, f"needs {needed}px height, has {widget.height()}px"))
                room = widget.contentsRect().width()
                word = max((w for w in text.split() if not CJK.search(w)), key=fm.horizontalAdvance, default="")
                if word and fm.horizontalAdvance(word) > room:  # an English word cannot wrap
                    findings.append(Finding("clipped", name, f"word {word!r} wider than {room}px"))
            elif isinstance(widget, (QLabel, QAbstractButton)) and widget.layout() is None:
                longest = max(fm.horizontalAdvance(line) for line in text.split("\n"))
                room = _text_room(widget)
                if longest > room:
                    findings.append(Finding("clipped", name, f"text {longest}px wide in {room}px"))
        # Personal data and the language button itself are not UI text to translate.
        if language == "en" and text.strip() and CJK.search(text) and not widget.property("data") and text not in untranslated_ok:
            findings.append(Finding("untranslated", name, text[:30]))
    findings += _overlaps(widgets, root)
    return findings


def _text_room(widget: QWidget) -> int:
    """Width the text may use: inside the border and padding the stylesheet gives a button."""
    if isinstance(widget, QPushButton):
        option = QStyleOptionButton()
        widget.initStyleOption(option)
        return widget.style().subElementRect(QStyle.SubElement.SE_PushButtonContents, option, widget).width()
    return widget.contentsRect().width()


def _visible_rect(widget: QWidget, root: QWidget) -> QRect:
    """The part of `widget` the resident can see: its rectangle cut by every ancestor's."""
    rect = QRect(widget.mapTo(root, widget.rect().topLeft()), widget.size())
    parent = widget.parentWidget()
    while parent is not None:
        rect = rect.intersected(QRect(parent.mapTo(root, parent.rect().topLeft()) if parent is not root else parent.rect().topLeft(), parent.size()))
        if parent is root:
            break
        parent = parent.parentWidget()
    return rect


def _outside(scope: QWidget, root: QWidget) -> list[Finding]:
    """Visible widgets that stick out of the window or out of a parent (and so are cut off).
    Content inside a scroll area is exempt: scrolling brings it into view."""
    findings = []
    for widget in scope.findChildren(QWidget):
        if not widget.isVisible() or not isinstance(widget, (QLabel, QAbstractButton, QLineEdit, QAbstractScrollArea, QQuickWidget)):
            continue
        rect = QRect(widget.mapTo(root, widget.rect().topLeft()), widget.size())
        visible = root.rect()
        parent, scrolled = widget.parentWidget(), False
        while parent is not None and parent is not root:
            area = parent.parentWidget()
            if isinstance(area, QAbstractScrollArea) and parent is area.viewport():
                scrolled = True
                break
            visible = visible.intersected(QRect(parent.mapTo(root, parent.rect().topLeft()), parent.size()))
            parent = parent.parentWidget()
        if scrolled or visible.adjusted(-1, -1, 1, 1).contains(rect):
            continue
        where = "the window" if not root.rect().adjusted(-1, -1, 1, 1).contains(rect) else "its parent"
        findings.append(Finding("outside", _name(widget),
                                f"{rect.x()},{rect.y()} {rect.width()}x{rect.height()} outside {where} ({visible.width()}x{visible.height()} visible)"))
    return findings


def _overlaps(widgets: list[QWidget], root: QWidget) -> list[Finding]:
    findings = []
    by_parent: dict[int, list[QWidget]] = {}
    for widget in widgets:
        by_parent.setdefault(id(widget.parentWidget()), []).append(widget)
    for siblings in by_parent.values():
        for i, a in enumerate(siblings):
            for b in siblings[i + 1:]:
                overlap: QRect = a.geometry().intersected(b.geometry())
                if overlap.width() > 2 and overlap.height() > 2:
                    findings.append(Finding("overlap", _name(a), f"overlaps {_name(b)} by {overlap.width()}x{overlap.height()}px"))
    return findings
