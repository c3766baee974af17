"""The kiosk window: header (长辈版 and language on every screen), the screen stack, the status strip."""
from __future__ import annotations

from typing import Any, cast

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QFrame, QHBoxLayout, QMainWindow, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from kiosk.services.forms import FormSpec
from kiosk.ui.i18n import language, set_language, tr
from kiosk.ui.screens.base import Screen, button, label
from kiosk.ui.screens.done import DoneScreen
from kiosk.ui.screens.error import ErrorScreen
from kiosk.ui.screens.form import FormScreen
from kiosk.ui.screens.guide import GuideScreen
from kiosk.ui.screens.home import HomeScreen
from kiosk.ui.screens.identify import IdentifyScreen
from kiosk.ui.screens.checkin import CheckinScreen
from kiosk.ui.screens.proxy import ProxyScreen
from kiosk.ui.screens.review import ReviewScreen
from kiosk.ui.panel import kiosk_font
from kiosk.ui.theme import Metrics, palette_for, stylesheet
from kiosk.ui.widgets.idle import IdleOverlay
from kiosk.ui.widgets.status_strip import StatusStrip


class MainWindow(QMainWindow):
    elderly_toggled = Signal(bool)
    title_tapped = Signal()  # the technician's hidden gesture counts these
    language_toggled = Signal(str)
    sign_out_clicked = Signal()
    mute_toggled = Signal(bool)

    def __init__(self, forms: list[FormSpec], dpi: float, font_family: str, theme: str = "standard",
                 service_point: str = "", mask: tuple[int, int] = (6, 4)) -> None:
        super().__init__()
        self.font_family, self.theme_name = font_family, theme
        self.metrics = Metrics(dpi=dpi, elderly=False)
        self.setWindowTitle("医保自助 Kiosk")
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.setCentralWidget(central)

        header = QFrame()
        header.setObjectName("Header")
        rows = self._header_rows = QVBoxLayout(header)
        row = self._header_top = QHBoxLayout()
        self._header_bottom = QHBoxLayout()
        rows.addLayout(row)
        rows.addLayout(self._header_bottom)
        self.header_buttons = QWidget()
        buttons_row = QHBoxLayout(self.header_buttons)
        buttons_row.setContentsMargins(0, 0, 0, 0)
        self.app_title = label(role="title", wrap=False)
        self.service_point = label(service_point, wrap=False)
        self.greeting = label(wrap=False)
        self.greeting.setObjectName("header_greeting")
        self.greeting.setProperty("data", True)
        self.service_point.setProperty("data", True)
        self.elderly_button = button(role="header", name="header_elderly")
        self.elderly_button.setCheckable(True)
        self.mute_button = button(role="header", name="header_mute")
        self.mute_button.setCheckable(True)  # checked = muted
        self.mute_button.toggled.connect(self._mute_changed)
        self.language_button = button(role="header", name="header_language")
        self.language_button.setProperty("data", True)  # names the other language in that language
        self.sign_out = button(role="header", name="header_sign_out")
        row.addWidget(self.app_title)
        row.addWidget(self.service_point)
        row.addStretch(1)
        row.addWidget(self.greeting)
        buttons_row.addWidget(self.sign_out)
        buttons_row.addWidget(self.mute_button)
        buttons_row.addWidget(self.elderly_button)
        buttons_row.addWidget(self.language_button)
        row.addWidget(self.header_buttons)
        self._header_bottom.addStretch(1)
        for widget in (self.mute_button, self.elderly_button, self.language_button, self.sign_out):
            widget.setSizePolicy(QSizePolicy.Policy.Minimum, QSizePolicy.Policy.Fixed)  # never squeezed
        column.addWidget(header)

        self.header = header
        self.stack = QStackedWidget()
        self._sheet = ""  # the house stylesheet for the current mode and theme (see apply_style)
        self._screen_sheet: dict[int, str] = {}  # id(screen) → the sheet it was last styled with
        self._stale_metrics: set[int] = set()  # id(screen) of screens still sized for the other mode
        self.stack.currentChanged.connect(self._style_current)
        column.addWidget(self.stack, 1)
        self.home = HomeScreen(self.metrics, forms)
        self.identify = IdentifyScreen(self.metrics, *mask)
        self.form = FormScreen(self.metrics)
        self.guide = GuideScreen(self.metrics)  # 办事指南 before a service starts (issue 19)
        self.review = ReviewScreen(self.metrics, *mask)
        self.done = DoneScreen(self.metrics)
        self.error = ErrorScreen(self.metrics)
        self.proxy = ProxyScreen(self.metrics, *mask)  # 帮办代办: the resident a helper acts for (issue 19)
        self.checkin = CheckinScreen(self.metrics)  # 预约签到 (issue 19)
        self.screens: list[Screen] = [self.home, self.identify, self.form, self.review, self.done, self.error,
                                      self.proxy, self.checkin]
        self.screens.insert(2, self.guide)
        self.default_elderly = False  # display.default_mode: the mode every visit starts in
        for entry in (self.home.elderly_entry, self.identify.elderly_entry):
            entry.toggled.connect(self._entry_toggled)
        for screen in self.screens:
            self.stack.addWidget(screen)

        self.status = StatusStrip()
        column.addWidget(self.status)
        self.idle_overlay = IdleOverlay(central)

        self.app_title.installEventFilter(self)
        self.elderly_button.toggled.connect(self.elderly_toggled)
        self.language_button.clicked.connect(
            lambda: self.language_toggled.emit("en" if language() == "zh_CN" else "zh_CN"))
        self.sign_out.clicked.connect(self.sign_out_clicked)
        self._clock = QTimer(self)
        self.set_person_greeting("")
        self.apply_style()
        self.retranslate()

    # -- appearance -------------------------------------------------------------------------
    def apply_style(self) -> None:
        """The house style for the current mode. Not one sheet on the window: restyling it makes Qt
        repolish every widget of every screen (~100 ms on 长辈版, issue 20). The chrome (header,
        status strip, idle overlay) and the screen on show take the sheet now; every other screen
        takes it when it is next shown (`_style_current`, before it is painted)."""
        m = self.metrics
        self._header_rows.setContentsMargins(m.mm(6), m.mm(2), m.mm(6), m.mm(2))
        kiosk_font(m, self.font_family)
        self._sheet = stylesheet(m, palette_for(self.theme_name, m.elderly), self.font_family)
        for chrome in (self.header, self.status, self.idle_overlay):
            chrome.setStyleSheet(self._sheet)
        self._style_current()

    def _bring_up_to_date(self, screen: Screen) -> None:
        if id(screen) in self._stale_metrics:
            self._stale_metrics.discard(id(screen))
            screen.apply_metrics(self.metrics)
            screen.retranslate()

    def _style_current(self, _index: int = -1) -> None:
        screen = self.stack.currentWidget()
        if screen is not None:
            self._bring_up_to_date(cast(Screen, screen))
        if self._sheet and screen is not None and self._screen_sheet.get(id(screen)) != self._sheet:
            self._screen_sheet[id(screen)] = self._sheet
            # the screen paints its own background (QWidget#Screen): the stack behind it is unstyled
            screen.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
            screen.setStyleSheet(self._sheet)

    def styled_like_window(self, screen: Screen) -> bool:
        """Whether `screen` carries the current mode's style (true of the screen on show)."""
        return self._screen_sheet.get(id(screen)) == self._sheet

    def _arrange_header(self) -> None:
        """One header row when it fits the window's width; otherwise the buttons go to a second
        row (portrait, 长辈版, English) rather than being squeezed until their words are cut."""
        top, bottom = self._header_top, self._header_bottom
        in_top = top.indexOf(self.header_buttons) >= 0
        margins = self._header_rows.contentsMargins()
        parts = [w for w in (self.app_title, self.service_point, self.greeting, self.header_buttons) if not w.isHidden()]
        needed = sum(w.sizeHint().width() for w in parts) + top.spacing() * len(parts) + margins.left() + margins.right()
        one_row = needed <= self.width()
        if one_row and not in_top:
            bottom.removeWidget(self.header_buttons)
            top.addWidget(self.header_buttons)
        elif not one_row and in_top:
            top.removeWidget(self.header_buttons)
            bottom.addWidget(self.header_buttons)

    def _entry_toggled(self, elderly: bool) -> None:
        self.set_elderly(elderly)
        self.elderly_toggled.emit(elderly)

    def set_default_mode(self, elderly: bool) -> None:
        self.default_elderly = elderly
        self.set_elderly(elderly)

    def reset_mode(self) -> None:
        """A new visit starts in the site's default mode (the last resident's choice is theirs)."""
        self.set_elderly(self.default_elderly)

    def set_elderly(self, elderly: bool) -> None:
        for entry in (self.home.elderly_entry, self.identify.elderly_entry):
            entry.show_mode(elderly)
        if self.metrics.elderly == elderly:
            return
        self.metrics = Metrics(dpi=self.metrics.dpi, elderly=elderly)
        self.elderly_button.blockSignals(True)
        self.elderly_button.setChecked(elderly)
        self.elderly_button.blockSignals(False)
        self.apply_style()
        self.service_point.setVisible(not elderly)  # room for the bigger header buttons
        # The screen on show takes the new sizes now; every other one when it is next shown
        # (`_style_current`): all nine at once took a card read's turn past 50 ms (issue 20).
        current = self.stack.currentWidget()
        self._stale_metrics.update(id(screen) for screen in self.screens if screen is not current)
        if current is not None:
            cast(Screen, current).apply_metrics(self.metrics)
        self.retranslate()

    def set_language(self, lang: str) -> None:
        set_language(lang)
        self.retranslate()

    def retranslate(self) -> None:
        self.app_title.setText(tr("app.title"))
        self.elderly_button.setText(tr("header.elderly_on") if self.metrics.elderly else tr("header.elderly_off"))
        self.language_button.setText(tr("header.language"))
        self.mute_button.setText(tr("header.muted") if self.mute_button.isChecked() else tr("header.mute"))
        self.sign_out.setText(tr("header.logout"))
        self._refresh_greeting()
        for screen in self.screens:
            if id(screen) not in self._stale_metrics:  # a stale one retranslates when shown
                screen.retranslate()
        self.status.retranslate()
        self._arrange_header()

    def _mute_changed(self, muted: bool) -> None:
        self.mute_button.setText(tr("header.muted") if muted else tr("header.mute"))
        self.mute_toggled.emit(muted)

    def set_muted(self, muted: bool) -> None:
        self.mute_button.blockSignals(True)
        self.mute_button.setChecked(muted)
        self.mute_button.blockSignals(False)
        self.mute_button.setText(tr("header.muted") if muted else tr("header.mute"))

    def eventFilter(self, watched, event) -> bool:  # noqa: N802 (Qt API)
        if watched is self.app_title and event.type() == QEvent.Type.MouseButtonPress:
            self.title_tapped.emit()
        return False

    def set_signage(self, signage: Any) -> None:
        """config [signage] (kiosk.services.signage.Signage): home's signage band and the guides' QR codes."""
        self.home.set_signage(signage)
        self.guide.set_signage(signage)

    def add_screen(self, screen: Screen) -> None:
        """A screen that only some kiosks need (technician), added after start."""
        self.screens.append(screen)
        self.stack.addWidget(screen)
        screen.apply_metrics(self.metrics)
        screen.retranslate()

    # -- navigation -------------------------------------------------------------------------
    def show_screen(self, screen: Screen) -> None:
        self.stack.setCurrentWidget(screen)

    @property
    def current(self) -> Screen:
        return cast(Screen, self.stack.currentWidget())  # every page of the stack is a Screen

    def set_person_greeting(self, masked_name: str) -> None:
        self._masked_name = masked_name
        self._refresh_greeting()

    def _refresh_greeting(self) -> None:
        name = getattr(self, "_masked_name", "")
        self.greeting.setText(tr("header.greeting", name=name) if name else "")
        self.greeting.setVisible(bool(name))
        self.sign_out.setVisible(bool(name))
        self._arrange_header()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt API)
        super().resizeEvent(event)
        self._arrange_header()
        central = self.centralWidget()
        if self.idle_overlay.isVisible() and central is not None:
            self.idle_overlay.setGeometry(central.rect())
