"""Home: one big tile per service read from forms/, and the hint to swipe a card.

Once a card is read the same screen is the service menu: it names the resident (masked) and
marks the service they chose before identifying, so nothing is asked twice.
"""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.services.forms import FormSpec
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.base import ElderlyEntry, Screen, label, repolish
from kiosk.ui.theme import Metrics

register_strings({
    "home.ticket_only": ("直接取号，无需填表", "Just a number, no form"),
    "home.chosen": ("✔ 您刚才选择的业务", "✔ The service you chose"),
    "home.identified": ("{name}，身份已验证，请点选要办理的业务", "{name}, you are identified: choose a service"),
})


class ServiceTile(QPushButton):
    def __init__(self, form: FormSpec) -> None:
        super().__init__()
        self.form = form
        self.chosen = False
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

    def set_chosen(self, chosen: bool) -> None:
        self.chosen = chosen
        self.setProperty("chosen", chosen)  # a thicker border, and words on the tile (not colour alone)
        repolish(self)
        self.retranslate()

    def retranslate(self) -> None:
        lang = language()
        self.title.setText(self.form.title.get(lang))
        if self.chosen:
            self.kind.setText(tr("home.chosen"))
        elif self.form.ticket_only:
            self.kind.setText(tr("home.ticket_only"))
        else:
            self.kind.setText(tr("home.instant") if self.form.instant else tr("home.counter"))
        self.setAccessibleName(self.form.title.get(lang))


class HomeScreen(Screen):
    name = "home"
    service_chosen = Signal(object)  # FormSpec

    def __init__(self, metrics: Metrics, forms: list[FormSpec]) -> None:
        super().__init__(metrics)
        self._person_name = ""  # masked; set once a card is read (the menu names the resident)
        self._priority = False
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

    def show_person(self, masked_name: str, priority: bool) -> None:
        """The service menu for an identified resident: named (masked), priority shown."""
        self._person_name, self._priority = masked_name, priority
        self.retranslate()

    def mark_chosen(self, code: str | None) -> None:
        for tile in self.tiles:
            if tile.chosen != (tile.form.code == code):
                tile.set_chosen(tile.form.code == code)

    def reset(self) -> None:
        self._person_name, self._priority = "", False
        self.mark_chosen(None)
        self.retranslate()

    def retranslate(self) -> None:
        self.heading.setText(tr("home.heading"))
        if self._person_name:
            self.hint.setText(tr("home.identified", name=self._person_name))
            self.hint.setProperty("role", "ok")
        else:
            self.hint.setText(tr("home.swipe_hint"))
            self.hint.setProperty("role", "hint")
        self.hint.setProperty("data", bool(self._person_name))
        repolish(self.hint)
        self.elderly_entry.retranslate()
        if self._person_name and self._priority:
            self.green.setText("✚ " + tr("identify.priority"))
        else:
            self.green.setText("✚ " + tr("home.green_channel").replace("65", str(getattr(self, "_elderly_age", 65))))
        self.green.setVisible(not self._person_name or self._priority)
        for tile in self.tiles:
            tile.retranslate()

    def spoken_prompt(self) -> str:
        return tr("home.heading")
