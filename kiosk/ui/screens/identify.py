"""Identify: place the ID card, insert the social-security card, or show the e-voucher QR code.

For a ticket-only service (取号咨询) the card is optional: 不刷卡，直接取号 issues the number
without one (a card still gives the green channel's priority).

Issue 19: a 代办 switch (the person identifying here is a helper acting for a resident: the
resident comes on the next screen), a self-declared priority choice (残疾人/孕妇/军人/其他, from
config [priority]; one at most, tap again to clear) and the 预约签到 entry."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QGridLayout, QHBoxLayout, QPushButton, QVBoxLayout, QWidget

from kiosk.services.identity import Person
from kiosk.ui.i18n import register_strings, tr
from kiosk.ui.screens.base import ElderlyEntry, Screen, button, card, clause, label, repolish
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets.reflow import ReflowGrid

register_strings({
    "identify.skip": ("不刷卡，直接取号", "Number without a card"),
    "identify.optional": ("刷卡可享绿色通道优先叫号；也可以不刷卡直接取号", "A card gives the green channel's priority; you can also take a number without one"),
    "identify.proxy": ("帮他人办理（代办）", "Acting for someone else"),
    "identify.proxy_on": ("代办：请代办人先刷本人的身份证或社保卡", "Acting for someone: first identify yourself with your own card"),
    "identify.checkin": ("预约签到", "Appointment check-in"),
    "identify.priority_ask": ("需要优先照顾？", "Need priority?"),
    "priority.disabled": ("残疾人", "Disabled"),
    "priority.pregnant": ("孕妇", "Pregnant"),
    "priority.military": ("军人", "Military"),
    "priority.other": ("其他", "Other"),
})


class IdentifyScreen(Screen):
    name = "identify"
    continue_clicked = Signal()
    back_clicked = Signal()
    skip_clicked = Signal()  # a ticket-only service, taken without a card
    proxy_toggled = Signal(bool)  # 代办 switch
    priority_chosen = Signal(object)  # a self-declared reason, or None
    checkin_clicked = Signal()  # 预约签到

    def __init__(self, metrics: Metrics, mask_head: int = 6, mask_tail: int = 4) -> None:
        super().__init__(metrics)
        self._mask = (mask_head, mask_tail)
        self._state_key = "identify.waiting"
        self._state_values: dict[str, str] = {}
        self._state_role = "hint"
        self._person: Person | None = None
        self._priority = False
        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(10), metrics.mm(6), metrics.mm(10), metrics.mm(6))
        self.heading = label(role="title")
        self.elderly_entry = ElderlyEntry("identify_elderly")
        top = QHBoxLayout()
        top.addWidget(self.heading, 1)
        top.addWidget(self.elderly_entry, 0, Qt.AlignmentFlag.AlignTop)
        outer.addLayout(top)
        ways = QHBoxLayout()
        self.way_labels = []
        self.way_frames = []  # the three ways to identify: hidden once a person is read (room for 代办/priority)
        for icon in ("证", "卡", "码"):
            frame, layout = card()
            self.way_frames.append(frame)
            big = label(icon, role="badge", wrap=False)
            big.setProperty("data", True)  # a pictogram character, not text to translate
            big.setAlignment(Qt.AlignmentFlag.AlignCenter)
            text = label()
            layout.addWidget(big)
            layout.addWidget(text)
            ways.addWidget(frame)
            self.way_labels.append(text)
        outer.addLayout(ways)
        self.state = label(role="hint")
        self.state.setObjectName("identify_state")
        outer.addWidget(self.state)
        self.options_card, options = card(outer)
        extras_holder = QWidget()
        extras = ReflowGrid(extras_holder, spacing=metrics.gap_px, max_columns=2)
        self.proxy_button = button(role="option", name="identify_proxy")
        self.proxy_button.setCheckable(True)
        self.checkin_button = button(name="identify_checkin")
        extras.add(self.proxy_button)
        extras.add(self.checkin_button)
        options.addWidget(extras_holder)
        self.priority_caption = label(role="hint")
        options.addWidget(self.priority_caption)
        self.priority_holder = QWidget()
        self._priority_grid = ReflowGrid(self.priority_holder, spacing=metrics.gap_px, max_columns=4)
        options.addWidget(self.priority_holder)
        self.priority_buttons: dict[str, QPushButton] = {}
        self.proxy_button.toggled.connect(self._proxy_changed)
        self.checkin_button.clicked.connect(self.checkin_clicked)
        self.person_card, person_layout = card(outer)
        grid = QGridLayout()
        person_layout.addLayout(grid)
        self.name_caption, self.name_value = label(role="hint"), label(role="title")
        self.id_caption, self.id_value = label(role="hint"), label(role="title")
        self.age_caption, self.age_value = label(role="hint"), label(role="title")
        for row, (caption, value) in enumerate(((self.name_caption, self.name_value), (self.id_caption, self.id_value), (self.age_caption, self.age_value))):
            grid.addWidget(caption, row, 0)
            grid.addWidget(value, row, 1)
        self.name_value.setObjectName("identify_name")
        self.name_value.setProperty("data", True)
        self.id_value.setObjectName("identify_id")
        self.priority_badge = label(role="ok")
        person_layout.addWidget(self.priority_badge)
        outer.addStretch(1)
        buttons = QHBoxLayout()
        self.back = button(role="", name="identify_back")
        self.continue_button = button(role="primary", name="identify_continue")
        self.skip = button(role="", name="identify_skip")
        buttons.addWidget(self.back)
        buttons.addStretch(1)
        buttons.addWidget(self.skip)
        buttons.addWidget(self.continue_button)
        outer.addLayout(buttons)
        self.back.clicked.connect(self.back_clicked)
        self.continue_button.clicked.connect(self.continue_clicked)
        self.skip.clicked.connect(self.skip_clicked)
        self._card_optional = False
        self.reset()

    # -- 代办 and priority (issue 19) ----------------------------------------------------------
    def set_priority_reasons(self, reasons: list[str] | tuple[str, ...]) -> None:
        """The self-declared reasons offered (config [priority] reasons), in that order."""
        for widget in self.priority_buttons.values():
            self._priority_grid.removeWidget(widget)
            widget.setParent(None)
            widget.deleteLater()
        self.priority_buttons = {}
        for reason in reasons:
            widget = button(role="option", name=f"priority_{reason}")
            widget.setCheckable(True)
            widget.toggled.connect(lambda checked, r=reason: self._priority_changed(r, checked))
            self._priority_grid.add(widget)
            self.priority_buttons[reason] = widget
        self.priority_caption.setVisible(bool(reasons))
        self.priority_holder.setVisible(bool(reasons))
        self.retranslate()

    def _priority_changed(self, reason: str, checked: bool) -> None:
        if checked:
            for other, widget in self.priority_buttons.items():
                if other != reason and widget.isChecked():
                    widget.blockSignals(True)  # one reason at most; the newest choice wins
                    widget.setChecked(False)
                    widget.blockSignals(False)
        self.retranslate()
        self.priority_chosen.emit(reason if checked else None)

    @property
    def declared_priority(self) -> str | None:
        return next((r for r, w in self.priority_buttons.items() if w.isChecked()), None)

    @property
    def proxy_on(self) -> bool:
        return self.proxy_button.isChecked()

    def _proxy_changed(self, on: bool) -> None:
        self.retranslate()
        self.proxy_toggled.emit(on)

    def show_state(self, key: str, role: str = "hint", **values: str) -> None:
        values = {name: clause(value) for name, value in values.items()}
        self._state_key, self._state_role, self._state_values = key, role, values
        self.state.setProperty("role", role)
        repolish(self.state)
        self.state.setText(tr(key, **values))

    def show_person(self, person: Person, priority: bool) -> None:
        self._person, self._priority = person, priority
        self.person_card.show()
        self.name_value.setText(person.masked_name())
        self.id_value.setText(person.masked_id(*self._mask))
        age = person.age()
        self.age_value.setText("—" if age is None else str(age))
        self.priority_badge.setVisible(priority)
        self.priority_badge.setText("✚ " + tr("identify.priority"))
        self.continue_button.setEnabled(True)
        for frame in self.way_frames:
            frame.hide()
        self.skip.hide()  # the card is read: 继续 takes the number with its priority
        self.show_state("identify.read_ok", "ok")

    def set_card_optional(self, optional: bool) -> None:
        self._card_optional = optional
        self.skip.setVisible(optional and self._person is None)
        self.retranslate()

    def reset(self) -> None:
        # the 代办 switch and the priority choice are the last resident's: cleared (the
        # controller hears the change and clears the session's copy too)
        self.proxy_button.setChecked(False)
        for widget in self.priority_buttons.values():
            widget.setChecked(False)
        self._card_optional = False
        self.skip.hide()
        self._person = None
        for value in (self.name_value, self.id_value, self.age_value):
            value.clear()
        self.person_card.hide()
        for frame in self.way_frames:
            frame.show()
        self.continue_button.setEnabled(False)
        self.show_state("identify.waiting")

    def retranslate(self) -> None:
        self.heading.setText(tr("identify.heading"))
        self.elderly_entry.retranslate()
        for text, key in zip(self.way_labels, ("identify.idcard", "identify.sscard", "identify.voucher"), strict=True):
            text.setText(tr(key))
        self.name_caption.setText(tr("identify.name"))
        self.id_caption.setText(tr("identify.id_number"))
        self.age_caption.setText(tr("identify.age"))
        self.priority_badge.setText("✚ " + tr("identify.priority"))
        self.back.setText("‹ " + tr("common.back"))
        self.continue_button.setText(tr("identify.continue") + " ›")
        self.skip.setText(tr("identify.skip") + " ›")
        self.proxy_button.setText(("☑ " if self.proxy_button.isChecked() else "☐ ") + tr("identify.proxy"))
        self.checkin_button.setText(tr("identify.checkin") + " ›")
        self.priority_caption.setText(tr("identify.priority_ask"))
        for reason, widget in self.priority_buttons.items():
            widget.setText(("☑ " if widget.isChecked() else "☐ ") + tr(f"priority.{reason}"))
        waiting = self._state_key == "identify.waiting"
        if waiting and self.proxy_button.isChecked():
            self.state.setText(tr("identify.proxy_on"))
        elif waiting and self._card_optional:
            self.state.setText(tr("identify.optional"))
        else:
            self.state.setText(tr(self._state_key, **self._state_values))

    def spoken_prompt(self) -> str:
        if self.proxy_button.isChecked():
            return tr("identify.proxy_on")
        return tr("identify.optional") if self._card_optional else tr("identify.idcard")
