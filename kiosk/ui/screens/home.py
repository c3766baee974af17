"""Home: one big tile per service read from forms/, and the hint to swipe a card.

Once a card is read the same screen is the service menu: it names the resident (masked) and
marks the service they chose before identifying, so nothing is asked twice.
"""
from __future__ import annotations

import logging
import threading

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from kiosk.services.forms import FormSpec
from kiosk.services.signage import Signage, qr_png
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.base import ElderlyEntry, Screen, button, label, repolish
from kiosk.ui.theme import Metrics

log = logging.getLogger(__name__)

register_strings({
    "home.checkin": ("预约签到", "Appointment check-in"),
    "home.ticket_only": ("直接取号，无需填表", "Just a number, no form"),
    "home.chosen": ("✔ 您刚才选择的业务", "✔ The service you chose"),
    "home.identified": ("{name}，身份已验证，请点选要办理的业务", "{name}, you are identified: choose a service"),
    "home.info": ("办事指南，可取号帮办", "Guide; a number for help"),
    "home.phone": ("咨询投诉电话 {phone}", "Questions and complaints: {phone}"),
    "home.policy_qr": ("扫码看医保政策", "Scan for the policies"),
    "home.more": ("更多服务 ›", "More services ›"),
    "home.more_page": ("第 {n}/{total} 页", "Page {n} of {total}"),
    "home.first_page": ("‹ 返回常用业务", "‹ Back to main services"),
})


class ServiceTile(QPushButton):
    def __init__(self, form: FormSpec) -> None:
        super().__init__()
        self.form = form
        self.chosen = False
        self.setObjectName(f"tile_{form.code}")
        self.setProperty("role", "tile")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        row = self._row = QHBoxLayout(self)
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

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._fit_title()

    def _title_room(self, width: int, padding: int) -> int:
        margins = self._row.contentsMargins()
        return width - margins.left() - margins.right() - 2 * padding - self.badge.sizeHint().width() - self._row.spacing() - 4

    def needed_height(self, width: int, padding: int) -> int:
        """The tile's height for its words at `width` (a long English title wraps in 长辈版)."""
        margins = self._row.contentsMargins()
        room = self._title_room(width, padding)
        title = self.title.heightForWidth(room) if room > 0 else self.title.sizeHint().height()
        return title + self.kind.sizeHint().height() + margins.top() + margins.bottom() + 2 * padding + 6

    def _fit_title(self) -> None:
        """A long title (English, 长辈版) wraps: the label asks for the height of all its lines,
        which the box layout would otherwise hand to its stretches."""
        room = self.title.width() or self._title_room(self.width(), 0)
        if room > 0:
            self.title.setMinimumHeight(self.title.heightForWidth(room))

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
        elif self.form.info:
            self.kind.setText(tr("home.info"))
        else:
            self.kind.setText(tr("home.instant") if self.form.instant else tr("home.counter"))
        self.setAccessibleName(self.form.title.get(lang))
        self._fit_title()


class _QrImages(QObject):
    """Policy QR PNGs by URL, each made once per process on a thread of its own (importing qrcode
    and PIL and drawing the code took the GUI thread ~0.1 s at start-up); `made` comes on the GUI
    thread when one is ready."""

    made = Signal(str)

    def __init__(self) -> None:
        super().__init__()
        self._done: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self._making: set[str] = set()

    def png(self, url: str) -> bytes | None:
        with self._lock:
            if url in self._done:
                return self._done[url]
            if url not in self._making:
                self._making.add(url)
                threading.Thread(target=self._make, args=(url,), name="policy-qr", daemon=True).start()
        return None

    def _make(self, url: str) -> None:
        try:
            png = qr_png(url)
        except Exception:  # a URL qrcode cannot encode: the band shows no code, as before an error
            log.exception("policy QR code not made")
            png = b""
        with self._lock:
            self._done[url] = png
            self._making.discard(url)
        self.made.emit(url)  # queued: this object lives on the GUI thread


_policy_qr = _QrImages()


class HomeScreen(Screen):
    name = "home"
    service_chosen = Signal(object)  # FormSpec
    checkin_clicked = Signal()  # 预约签到: a resident with an appointment code goes straight to it

    def __init__(self, metrics: Metrics, forms: list[FormSpec]) -> None:
        super().__init__(metrics)
        self._person_name = ""  # masked; set once a card is read (the menu names the resident)
        self._priority = False
        outer = self._outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(8), metrics.mm(5), metrics.mm(8), metrics.mm(5))
        self.heading = label(role="title")
        self.hint = label(role="hint")
        self.elderly_entry = ElderlyEntry("home_elderly")
        top = self._top = QHBoxLayout()
        texts = QVBoxLayout()
        texts.addWidget(self.heading)
        texts.addWidget(self.hint)
        top.addLayout(texts, 1)
        self.checkin_entry = button(name="home_checkin")
        self.checkin_entry.clicked.connect(self.checkin_clicked)
        top.addWidget(self.checkin_entry, 0, Qt.AlignmentFlag.AlignTop)
        top.addWidget(self.elderly_entry, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(top)
        self.grid_host = QWidget()
        self.grid = QGridLayout(self.grid_host)
        outer.addWidget(self.grid_host, 1)
        self.green = label(role="ok")
        outer.addWidget(self.green)
        self.band = self._signage_band()
        outer.addWidget(self.band)
        self.signage = Signage()
        _policy_qr.made.connect(self._qr_made)
        self._paint_signage()
        self.tiles = [ServiceTile(form) for form in forms]
        for tile in self.tiles:
            tile.clicked.connect(lambda _=False, t=tile: self.service_chosen.emit(t.form))
        # 更多服务: when the tiles do not fit the panel at a readable size, they go on pages and
        # the last place of each page turns the page (services keep their order from forms/).
        self.more = QPushButton()
        self.more.setObjectName("home_more")
        self.more.setProperty("role", "tile")
        self.more.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.more.clicked.connect(self.next_page)
        self.page = 0
        self._pages: list[list[ServiceTile]] = [self.tiles]
        self._layout_tiles()

    def _signage_band(self) -> QFrame:
        """The service point's signage (config [signage]): CHS logo, name and slogan, the public
        consultation/complaint phone, and the policy-publicity QR code."""
        band = QFrame()
        band.setObjectName("home_signage")
        row = QHBoxLayout(band)
        row.setContentsMargins(0, 0, 0, 0)
        self.logo = QLabel()
        self.logo.setObjectName("home_logo")
        self.point_name = label(role="tiletitle")
        self.point_name.setObjectName("home_point_name")
        self.point_name.setProperty("data", True)  # the site's own name, as configured
        self.slogan = label(role="hint")
        self.slogan.setObjectName("home_slogan")
        self.phone = label(role="ok")
        self.phone.setObjectName("home_phone")
        self.policy_qr = QLabel()
        self.policy_qr.setObjectName("home_policy_qr")
        self.policy_caption = label(role="hint")
        self.policy_caption.setObjectName("home_policy_caption")
        names = QVBoxLayout()
        names.setSpacing(0)
        names.addWidget(self.point_name)
        names.addWidget(self.slogan)
        names.addWidget(self.phone)
        qr = QHBoxLayout()
        qr.addWidget(self.policy_caption, 0, Qt.AlignmentFlag.AlignVCenter)
        qr.addWidget(self.policy_qr)
        row.addWidget(self.logo, 0, Qt.AlignmentFlag.AlignVCenter)
        row.addLayout(names, 1)
        row.addLayout(qr)
        return band

    def set_signage(self, signage: Signage) -> None:
        self.signage = signage
        self._paint_signage()
        self.retranslate()

    def _paint_signage(self) -> None:
        side = self.metrics.mm(16)
        logo = QPixmap(str(self.signage.logo)) if self.signage.logo else QPixmap()
        self.logo.setVisible(not logo.isNull())
        if not logo.isNull():
            self.logo.setPixmap(logo.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation))
            self.logo.setFixedSize(side, side)
        self.policy_qr.setFixedSize(side, side)
        png = _policy_qr.png(self.signage.policy_qr_url)
        if png is None:  # being made off the GUI thread (qrcode + PIL, issue 20): blank until it comes
            self.policy_qr.clear()
            return
        qr = QPixmap()
        qr.loadFromData(png, "PNG")
        self.policy_qr.setPixmap(qr.scaled(side, side, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.FastTransformation))

    def _qr_made(self, url: str) -> None:
        if url == self.signage.policy_qr_url:
            self._paint_signage()

    def _tile_height(self) -> int:
        """At least 22 mm (24 in 长辈版), and as tall as the wordiest tile needs at this width."""
        columns, gap = self._columns(), self.metrics.gap_px
        margins = self._outer.contentsMargins()
        width = (self.width() - margins.left() - margins.right() - gap * (columns - 1)) // columns
        needed = max((t.needed_height(width, self.metrics.mm(3)) for t in self.tiles), default=0)
        return max(self.metrics.mm(24 if self.metrics.elderly else 22), needed)

    def _capacity(self) -> int:
        """How many tiles fit the panel at their minimum height (from the room the rest of the
        screen leaves); every tile when the screen has not been laid out yet."""
        if not self.isVisible() and self.height() <= 480:
            return len(self.tiles)
        outer = self._outer
        margins = outer.contentsMargins()
        others = self._top.sizeHint().height() + self.green.sizeHint().height() + self.band.sizeHint().height()
        room = self.height() - margins.top() - margins.bottom() - others - 3 * outer.spacing()
        gap = self.metrics.gap_px
        rows = max(2, (room + gap) // (self._tile_height() + gap))
        return rows * self._columns()

    def _paginate(self) -> None:
        capacity = self._shown_capacity = self._capacity()
        if len(self.tiles) <= capacity:
            self._pages = [self.tiles]
        else:
            per_page = capacity - 1  # the last place turns the page
            self._pages = [self.tiles[i:i + per_page] for i in range(0, len(self.tiles), per_page)]
        self.page = min(self.page, len(self._pages) - 1)

    def _layout_tiles(self) -> None:
        if getattr(self, "_laying_out", False):
            return  # a tile shown below resizes this screen: that resize must not re-enter mid-layout
        self._laying_out = True
        try:
            self._place_tiles()
        finally:
            self._laying_out = False
        if self._capacity() != self._shown_capacity or self._columns() != self._shown_columns:
            self._laying_out = True
            try:
                self._place_tiles()
            finally:
                self._laying_out = False

    def _place_tiles(self) -> None:
        for widget in [*self.tiles, self.more]:
            self.grid.removeWidget(widget)
            widget.hide()
        self._paginate()
        columns = self._shown_columns = self._columns()
        shown: list[QPushButton] = list(self._pages[self.page])
        if len(self._pages) > 1:
            shown.append(self.more)
        height = self._tile_height()  # one measure of every tile's words, not one per tile placed
        for index, tile in enumerate(shown):
            self.grid.addWidget(tile, index // columns, index % columns)
            tile.setMinimumHeight(height)
            tile.show()
        gap = self.metrics.gap_px
        self.grid.setHorizontalSpacing(gap)
        self.grid.setVerticalSpacing(gap)
        self._retranslate_more()

    def _retranslate_more(self) -> None:
        if len(self._pages) > 1:
            last = self.page == len(self._pages) - 1
            words = tr("home.first_page") if last else tr("home.more")
            self.more.setText(words + "\n" + tr("home.more_page", n=self.page + 1, total=len(self._pages)))
            self.more.setAccessibleName(words)

    def next_page(self) -> None:
        self.page = (self.page + 1) % len(self._pages)
        self._layout_tiles()

    def show_page_of(self, code: str) -> None:
        for number, page in enumerate(self._pages):
            if any(t.form.code == code for t in page) and number != self.page:
                self.page = number
                self._layout_tiles()

    def apply_metrics(self, metrics: Metrics) -> None:
        super().apply_metrics(metrics)
        self._paint_signage()
        self._layout_tiles()

    def _columns(self) -> int:
        """Three columns on a landscape panel, two on a portrait one (wider tiles, bigger words)."""
        return 2 if self.height() > self.width() else 3

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        if self._columns() != self._shown_columns or self._capacity() != self._shown_capacity:
            self._layout_tiles()

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
        if code:
            self.show_page_of(code)  # the service chosen before the card is on screen

    def reset(self) -> None:
        self._person_name, self._priority = "", False
        self.mark_chosen(None)
        if self.page:
            self.page = 0
            self._layout_tiles()
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
        self.checkin_entry.setText(tr("home.checkin") + " ›")
        if self._person_name and self._priority:
            self.green.setText("✚ " + tr("identify.priority"))
        else:
            self.green.setText("✚ " + tr("home.green_channel").replace("65", str(getattr(self, "_elderly_age", 65))))
        self.green.setVisible(not self._person_name or self._priority)
        lang = language()
        self.point_name.setText(self.signage.name)
        self.slogan.setText(self.signage.slogan.get(lang))
        self.slogan.setProperty("data", lang != "en" or not self.signage.slogan.en)  # as configured
        self.phone.setText("☎ " + tr("home.phone", phone=self.signage.phone))
        self.policy_caption.setText(tr("home.policy_qr"))
        for tile in self.tiles:
            tile.retranslate()
        self._retranslate_more()

    def spoken_prompt(self) -> str:
        return tr("home.heading")
