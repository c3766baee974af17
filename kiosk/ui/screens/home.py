"""Home: one big tile per service read from forms/, and the hint to swipe a card."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.services.forms import FormSpec
from kiosk.ui.i18n import language, tr
from kiosk.ui.screens.base import ElderlyEntry, Screen, label
from kiosk.ui.theme import Metrics


class ServiceTile(QPushButton):
    def __init__(self, form: FormSpec) -> None:
        super().__init__()
        self.form = form
        self.setObjectName(f"tile_{form.code}")
        self.setProperty("role", "tile")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 8, 4)
        self.badge = QLabel(form.icon or form.title.zh_CN[:1])
        self.badge.setProperty("role", "badge")
        self.badge.setProperty("data", True)  # a pictogram character, not text to translate
        self.badge.setAlignment(Qt.AlignmentFlag.AlignCenter)
        row.addWidget(self.badge)
        texts = QVBoxLayout()
        texts.setSpacing(0)
        self.title = QLabel()
        self.title.setProperty("role", "tiletitle")
        self.title.setWordWrap(True)
        self.kind = QLabel()
        self.kind.setProperty("role", "hint")
        texts.addStretch(1)
        texts.addWidget(self.title)
        texts.addWidget(self.kind)
        texts.addStretch(1)
        row.addLayout(texts, 1)
        for child in (self.badge, self.title, self.kind):  # the whole tile is the touch target
            child.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)

    def retranslate(self) -> None:
        lang = language()
        self.title.setText(self.form.title.get(lang))
        self.kind.setText(tr("home.instant") if self.form.instant else tr("home.counter"))
        self.setAccessibleName(self.form.title.get(lang))


class HomeScreen(Screen):
    name = "home"
    service_chosen = Signal(object)  # FormSpec

    def __init__(self, metrics: Metrics, forms: list[FormSpec]) -> None:
        super().__init__(metrics)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(8), metrics.mm(5), metrics.mm(8), metrics.mm(5))
        self.heading = label(role="title")
        self.hint = label(role="hint")
        self.elderly_entry = ElderlyEntry("home_elderly")
        top = QHBoxLayout()
        texts = QVBoxLayout()
        texts.addWidget(self.heading)
        texts.addWidget(self.hint)
        top.addLayout(texts, 1)
        top.addWidget(self.elderly_entry, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(top)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        outer.addWidget(self.grid_host, 1)
        self.green = label(role="ok")
        outer.addWidget(self.green)
        self.tiles = [ServiceTile(form) for form in forms]
        for tile in self.tiles:
            tile.clicked.connect(lambda _=False, t=tile: self.service_chosen.emit(t.form))
        self._layout_tiles()

    def _layout_tiles(self) -> None:
        columns = self._shown_columns = self._columns()
        for index, tile in enumerate(self.tiles):
            self.grid.addWidget(tile, index // columns, index % columns)
            tile.setMinimumHeight(self.metrics.mm(24 if self.metrics.elderly else 22))
        gap = self.metrics.gap_px
        self.grid.setHorizontalSpacing(gap)
        self.grid.setVerticalSpacing(gap)

    def apply_metrics(self, metrics: Metrics) -> None:
        super().apply_metrics(metrics)
        for tile in self.tiles:
            self.grid.removeWidget(tile)
        self._layout_tiles()

    def _columns(self) -> int:
        """Three columns on a landscape panel, two on a portrait one (wider tiles, bigger words)."""
        return 2 if self.height() > self.width() else 3

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self._columns() != self._shown_columns:
            self.apply_metrics(self.metrics)

    def set_elderly_age(self, age: int) -> None:
        self._elderly_age = age

    def retranslate(self) -> None:
        self.heading.setText(tr("home.heading"))
        self.hint.setText(tr("home.swipe_hint"))
        self.elderly_entry.retranslate()
        self.green.setText("✚ " + tr("home.green_channel").replace("65", str(getattr(self, "_elderly_age", 65))))
        for tile in self.tiles:
            tile.retranslate()

    def spoken_prompt(self) -> str:
        return tr("home.heading")
