"""Sizes and colours: millimetre-true touch targets from the panel DPI, 长辈版 scaling, QSS.

Numbers from the MIIT 适老化 guidelines and WCAG 2.2 (see DESIGN.md): targets ≥ 15 mm
(≥ 20 mm in 长辈版), body text ≥ 1.5× in 长辈版 and never below 18 pt there, contrast ≥ 4.5:1
(≥ 7:1 in the high-contrast theme).
"""
from __future__ import annotations

from dataclasses import dataclass

MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Palette:
    window: str
    surface: str
    text: str
    muted_text: str
    primary: str
    on_primary: str
    accent: str  # green channel
    on_accent: str
    danger: str
    on_danger: str
    border: str
    header: str
    on_header: str


STANDARD = Palette(
    window="#EEF3F8", surface="#FFFFFF", text="#1B1F24", muted_text="#4A5560",
    primary="#0A4F9C", on_primary="#FFFFFF", accent="#1E6B34", on_accent="#FFFFFF",
    danger="#A4161A", on_danger="#FFFFFF", border="#6F7D8B", header="#0A4F9C", on_header="#FFFFFF",
)
# 长辈版: the same light look with every pair at ≥ 7:1 (WCAG AAA), as DESIGN.md asks of the
# elderly theme; darker muted text, accent and header.
ELDERLY = Palette(
    window="#F4F7FA", surface="#FFFFFF", text="#111417", muted_text="#3A434C",
    primary="#083F7D", on_primary="#FFFFFF", accent="#185A2B", on_accent="#FFFFFF",
    danger="#8E1216", on_danger="#FFFFFF", border="#5E6B78", header="#083F7D", on_header="#FFFFFF",
)
HIGH_CONTRAST = Palette(
    window="#000000", surface="#111111", text="#FFFFFF", muted_text="#F0F0F0",
    primary="#FFE14D", on_primary="#000000", accent="#7CFC8A", on_accent="#000000",
    danger="#FF8A80", on_danger="#000000", border="#FFFFFF", header="#000000", on_header="#FFE14D",
)


@dataclass(frozen=True)
class Metrics:
    dpi: float
    elderly: bool = False

    def mm(self, millimetres: float) -> int:
        return round(millimetres * self.dpi / MM_PER_INCH)

    def pt(self, points: float) -> int:
        """Points → pixels at the panel DPI (Qt font pixel sizes keep text physical)."""
        return round(points * self.dpi / 72)

    @property
    def scale(self) -> float:
        return 1.5 if self.elderly else 1.0

    @property
    def body_pt(self) -> float:
        return 18.0 if self.elderly else 12.0  # 1.5×, and ≥ 18 pt in 长辈版

    @property
    def target_mm(self) -> float:
        return 20.0 if self.elderly else 15.0

    @property
    def body_px(self) -> int:
        return self.pt(self.body_pt)

    @property
    def title_px(self) -> int:
        return self.pt(self.body_pt * 1.6)

    @property
    def huge_px(self) -> int:
        return self.pt(self.body_pt * 3.2)

    @property
    def small_px(self) -> int:
        # status strip and hints: never below 12 pt, and ≥ 18 pt in 长辈版
        return self.pt(18.0 if self.elderly else 11.0)

    @property
    def target_px(self) -> int:
        return self.mm(self.target_mm)

    @property
    def gap_px(self) -> int:
        return self.mm(3 * self.scale)


def palette_for(theme: str, elderly: bool = False) -> Palette:
    if theme == "high_contrast":
        return HIGH_CONTRAST
    return ELDERLY if elderly else STANDARD


def stylesheet(metrics: Metrics, palette: Palette, font_family: str) -> str:
    m, p = metrics, palette
    radius = m.mm(2)
    badge = round(m.title_px * 1.8)
    return f"""
* {{ font-family: "{font_family}"; font-size: {m.body_px}px; color: {p.text}; }}
QMainWindow, QWidget#Screen, QStackedWidget {{ background: {p.window}; }}
QLabel {{ background: transparent; }}
QLabel[role="title"] {{ font-size: {m.title_px}px; font-weight: bold; }}
QLabel[role="tiletitle"] {{ font-size: {round(m.body_px * 1.15)}px; font-weight: bold; }}
QLabel[role="huge"] {{ font-size: {m.huge_px}px; font-weight: bold; color: {p.primary}; }}
QLabel[role="badge"] {{
  background: {p.primary}; color: {p.on_primary}; font-size: {m.title_px}px; font-weight: bold;
  min-width: {badge}px; max-width: {badge}px; min-height: {badge}px; max-height: {badge}px;
  border-radius: {m.mm(3)}px;
}}
QLabel[role="hint"] {{ color: {p.muted_text}; }}
QLabel[role="error"] {{ color: {p.danger}; font-weight: bold; }}
QLabel[role="ok"] {{ color: {p.accent}; font-weight: bold; }}
QFrame#Card QStackedWidget {{ background: transparent; }}
QFrame#Card {{ background: {p.surface}; border: 2px solid {p.border}; border-radius: {radius}px; }}
QFrame#Header {{ background: {p.header}; }}
QFrame#Header QLabel {{ color: {p.on_header}; }}
QFrame#Header QLabel[role="title"] {{ color: {p.on_header}; }}
QFrame#StatusStrip {{ background: {p.surface}; border-top: 2px solid {p.border}; }}
QFrame#StatusStrip QLabel {{ font-size: {m.small_px}px; }}
QPushButton {{
  min-height: {m.target_px}px; min-width: {m.target_px}px; padding: 0 {m.mm(4)}px;
  background: {p.surface}; color: {p.text}; border: 2px solid {p.border}; border-radius: {radius}px;
}}
QPushButton:pressed {{ background: {p.window}; border-color: {p.primary}; }}
QPushButton:disabled {{ color: {p.muted_text}; border-style: dashed; }}
QPushButton[role="primary"] {{ background: {p.primary}; color: {p.on_primary}; border-color: {p.primary}; font-weight: bold; }}
QPushButton[role="accent"] {{ background: {p.accent}; color: {p.on_accent}; border-color: {p.accent}; font-weight: bold; }}
QPushButton[role="danger"] {{ background: {p.danger}; color: {p.on_danger}; border-color: {p.danger}; }}
QPushButton[role="primary"]:disabled, QPushButton[role="accent"]:disabled, QPushButton[role="danger"]:disabled {{
  background: {p.surface}; color: {p.muted_text}; border-color: {p.border};
}}
QPushButton[role="header"] {{ background: transparent; color: {p.on_header}; border: 2px solid {p.on_header}; }}
QPushButton[role="header"]:checked {{ background: {p.on_header}; color: {p.header}; }}
QPushButton[role="elderly"] {{
  min-height: {round(m.target_px * 1.2)}px; font-size: {m.title_px}px; font-weight: bold;
  background: {p.accent}; color: {p.on_accent}; border: 3px solid {p.accent};
}}
QPushButton[role="elderly"]:checked {{ background: {p.surface}; color: {p.accent}; border: 3px solid {p.accent}; }}
QPushButton[role="tile"] {{ background: {p.surface}; text-align: left; padding: {m.mm(3)}px; }}
QPushButton[role="tile"][chosen="true"] {{ border: 4px solid {p.primary}; }}
QPushButton[role="option"]:checked {{ background: {p.primary}; color: {p.on_primary}; border-color: {p.primary}; font-weight: bold; }}
QLineEdit, QSpinBox, QComboBox {{
  min-height: {m.target_px}px; background: {p.surface}; color: {p.text};
  border: 2px solid {p.border}; border-radius: {radius}px; padding: 0 {m.mm(2)}px;
}}
QLineEdit:focus {{ border: 3px solid {p.primary}; }}
QLineEdit[invalid="true"] {{ border: 3px solid {p.danger}; }}
QScrollArea {{ background: transparent; border: none; }}
QScrollArea > QWidget > QWidget#ScrollContent {{ background: transparent; }}
QScrollBar:vertical {{ width: {m.mm(8)}px; }}
"""
