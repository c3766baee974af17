"""帮办代办 (issue 19): after the helper identified with their own card, the resident they act for.

Pages, one at a time (each fits the panel in 长辈版):
  way   — place the resident's ID card / social-security card, or 输入证件号码和姓名
  id    — the ID number on the keypad (GB 11643 check before going on)
  name  — the name on the pinyin keyboard, then 核验 (the controller asks the hub on a lane)
  auth  — the resident (masked; 未核验 when it could not be checked), the relation, and the
          helper's confirmation that they hold the resident's authorisation (委托)

The screen only shows and collects; the controller identifies, checks and records. Everything
personal is masked and dropped in `reset()`.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from kiosk.services.forms import FieldSpec, Option, Text
from kiosk.services.identity import Person
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.base import Screen, button, card, clause, label, repolish
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets.editors import KeypadEditor, OptionsEditor, TextEditor

if TYPE_CHECKING:  # the keyboard (Qt Quick, ~45 ms to import) loads when first shown (issue 20)
    from kiosk.ui.widgets.touch_keyboard import TouchKeyboard

register_strings({
    "proxy.heading": ("帮办代办：识别被代办人", "Acting for a resident: who is it?"),
    "proxy.helper": ("代办人：{who}", "Acting person: {who}"),
    "proxy.way": ("请放置被代办人的身份证或插入其社保卡；\n没有卡时，可输入其证件号码和姓名",
                  "Place the resident's ID card or insert their social-security card;\nwithout a card, type their ID number and name"),
    "proxy.type": ("输入证件号码和姓名", "Type ID number and name"),
    "proxy.id_question": ("请输入被代办人的身份证号码", "The resident's ID number"),
    "proxy.name_question": ("请输入被代办人的姓名", "The resident's name"),
    "proxy.id_invalid": ("证件号码校验未通过，请核对后重新输入", "The ID number failed its check; please check it"),
    "proxy.check": ("核验", "Check"),
    "proxy.checking": ("正在核验…", "Checking…"),
    "proxy.resident": ("被代办人：{who}", "Resident: {who}"),
    "proxy.verified_card": ("已读卡核验", "Verified by card"),
    "proxy.verified_hub": ("已与参保记录核对", "Matched with the insurance record"),
    "proxy.unverified": ("网络中断，未能核验：窗口工作人员将核对", "Offline, not checked: the counter will check it"),
    "proxy.relation": ("您与被代办人的关系", "Your relation to the resident"),
    "proxy.consent": ("我已取得被代办人本人的授权（委托），代其办理", "I hold the resident's authorisation to act for them"),
    "proxy.confirm": ("确认代办", "Confirm"),
    "proxy.card_again": ("这是代办人本人的卡，请放置被代办人的卡", "This is your own card; please place the resident's card"),
})

RELATION_OPTIONS = (
    Option("spouse", Text("配偶", "Spouse")), Option("child", Text("子女", "Child")),
    Option("relative", Text("亲属", "Relative")), Option("grid_worker", Text("网格员", "Grid worker")),
    Option("village_cadre", Text("村干部", "Village cadre")), Option("other", Text("其他", "Other")),
)
ID_SPEC = FieldSpec("proxy_id", "id_number", Text("证件号码", "ID number"))
NAME_SPEC = FieldSpec("proxy_name", "text", Text("姓名", "Name"), max_length=30)
RELATION_SPEC = FieldSpec("proxy_relation", "choice", Text("关系", "Relation"), options=RELATION_OPTIONS)
PAGES = ("way", "id", "name", "auth")


class Page(QWidget):
    """A page of the stack. QStackedLayout answers height-for-width with the tallest page's (the
    keypad's), even for pages not on screen, which would push the keyboard off a fixed-size
    window: a page set aside (Ignored, see `_go`) asks for no height."""

    def heightForWidth(self, width: int) -> int:  # noqa: N802 (Qt API)
        if self.sizePolicy().verticalPolicy() == QSizePolicy.Policy.Ignored:
            return 0
        return super().heightForWidth(width)


class ProxyScreen(Screen):
    name = "proxy"
    back_clicked = Signal()
    typed = Signal(str, str)  # ID number, name: the controller checks them
    confirmed = Signal(str)  # the relation; the consent button was checked

    def __init__(self, metrics: Metrics, mask_head: int = 6, mask_tail: int = 4) -> None:
        super().__init__(metrics)
        self._mask = (mask_head, mask_tail)
        self._helper: Person | None = None
        self._resident: tuple[Person, str] | None = None
        self._state: tuple[str, str, dict[str, str]] = ("", "hint", {})
        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(10), metrics.mm(5), metrics.mm(10), metrics.mm(5))
        self.heading = label(role="title")
        self.helper_line = label(role="hint")
        self.helper_line.setObjectName("proxy_helper")
        self.helper_line.setProperty("data", True)
        outer.addWidget(self.heading)
        outer.addWidget(self.helper_line)
        self.pages = QStackedWidget()
        outer.addWidget(self.pages, 1)

        way = Page()
        column = QVBoxLayout(way)
        column.setContentsMargins(0, 0, 0, 0)
        self.way_text = label(role="title")
        self.type_button = button(role="primary", name="proxy_type")
        column.addWidget(self.way_text)
        column.addWidget(self.type_button, 0, Qt.AlignmentFlag.AlignLeft)
        column.addStretch(1)
        self.pages.addWidget(way)

        self.id_editor = KeypadEditor(ID_SPEC, metrics)
        self.id_question = self._question_page(self.id_editor)
        self.name_editor = TextEditor(NAME_SPEC, metrics)
        self.name_question = self._question_page(self.name_editor)

        auth = Page()
        column = QVBoxLayout(auth)
        column.setContentsMargins(0, 0, 0, 0)
        frame, box = card()
        self.resident_line = label(role="title")
        self.resident_line.setObjectName("proxy_resident")
        self.resident_line.setProperty("data", True)
        self.check_line = label(role="ok")
        self.check_line.setObjectName("proxy_check_state")
        box.addWidget(self.resident_line)
        box.addWidget(self.check_line)
        column.addWidget(frame)
        self.relation_caption = label(role="title")
        column.addWidget(self.relation_caption)
        self.relation = OptionsEditor(RELATION_SPEC, metrics, compact=True)
        column.addWidget(self.relation)
        self.consent = QPushButton()
        self.consent.setCheckable(True)
        self.consent.setProperty("role", "option")
        self.consent.setObjectName("proxy_consent")
        column.addWidget(self.consent)
        column.addStretch(1)
        self.pages.addWidget(auth)

        self.state = label(role="hint")
        self.state.setObjectName("proxy_state")
        outer.addWidget(self.state)
        self.keyboard: TouchKeyboard | None = None  # made when the name page is first shown
        buttons = QHBoxLayout()
        self.back = button(name="proxy_back")
        self.next = button(role="primary", name="proxy_next")
        buttons.addWidget(self.back)
        buttons.addStretch(1)
        buttons.addWidget(self.next)
        outer.addLayout(buttons)

        self.type_button.clicked.connect(lambda: self._go("id"))
        self.back.clicked.connect(self._back)
        self.next.clicked.connect(self._next)
        self.id_editor.changed.connect(lambda: self.show_state(""))
        self.name_editor.changed.connect(self._update_next)
        self.relation.changed.connect(self._update_next)
        self.consent.toggled.connect(self._on_consent)
        self.reset()

    # -- what the controller calls ------------------------------------------------------------
    def _question_page(self, editor: QWidget) -> QLabel:
        """A page of one question (its title label, returned) and its editor."""
        page = Page()
        column = QVBoxLayout(page)
        column.setContentsMargins(0, 0, 0, 0)
        question = label(role="title")
        column.addWidget(question)
        column.addWidget(editor)
        column.addStretch(1)
        self.pages.addWidget(page)
        return question

    def start(self, helper: Person) -> None:
        self.reset()
        self._helper = helper
        self.retranslate()

    def show_resident(self, person: Person, check: str) -> None:
        self._resident = (person, check)
        self.relation.set_value(None)
        self.consent.setChecked(False)
        self._go("auth")

    def show_problem(self, message: str) -> None:
        self.show_state("", "error", text=message)
        self._update_next()

    def checking(self) -> None:
        self.next.setEnabled(False)
        self.show_state("proxy.checking")

    @property
    def page(self) -> str:
        return PAGES[self.pages.currentIndex()]

    # -- pages --------------------------------------------------------------------------------
    def _on_consent(self, _checked: bool) -> None:
        self._consent_text()
        self._update_next()

    def _go(self, page: str) -> None:
        index = PAGES.index(page)
        self.pages.setCurrentIndex(index)
        for number in range(self.pages.count()):  # only the page on screen asks for room
            policy = QSizePolicy.Policy.Preferred if number == index else QSizePolicy.Policy.Ignored
            holder = self.pages.widget(number)
            if holder is not None:
                holder.setSizePolicy(policy, policy)
        self.pages.updateGeometry()
        self._show_keyboard(page == "name")
        self.show_state("")
        self.retranslate()
        column = self.layout()
        if column is not None:  # another page (and the keyboard) asks for room: lay out now
            column.invalidate()
            column.activate()

    def _show_keyboard(self, wanted: bool) -> None:
        if wanted and self.keyboard is None:
            from kiosk.ui.widgets.touch_keyboard import TouchKeyboard

            self.keyboard = TouchKeyboard(self.metrics)
            column = self.layout()
            assert column is not None  # the screen's column, made in __init__
            column.addWidget(self.keyboard)
        if self.keyboard is not None:
            if self.keyboard.metrics != self.metrics:
                self.keyboard.set_metrics(self.metrics)
            self.keyboard.set_language(language())
            self.keyboard.setVisible(wanted)
        if wanted:
            self.name_editor.setFocus()

    def _back(self) -> None:
        page = self.page
        if page == "way":
            self.back_clicked.emit()
        elif page == "auth":
            self._resident = None
            self._go("way")
        else:
            self._go(PAGES[PAGES.index(page) - 1])

    def _next(self) -> None:
        from kiosk.services.forms import id_number_is_valid  # kiosk/ui imports no driver (tests/test_import_rules.py)

        page = self.page
        if page == "id":
            if not id_number_is_valid(self.id_editor.value().upper()):
                self.show_state("proxy.id_invalid", "error")
                return
            self._go("name")
        elif page == "name" and self.name_editor.value():
            self.typed.emit(self.id_editor.value().upper(), self.name_editor.value())
        elif page == "auth" and self.relation.value() and self.consent.isChecked():
            self.confirmed.emit(self.relation.value())

    def _update_next(self) -> None:
        page = self.page
        self.next.setVisible(page != "way")
        ready = {"id": True, "name": bool(self.name_editor.value()),
                 "auth": bool(self.relation.value()) and self.consent.isChecked()}.get(page, False)
        self.next.setEnabled(ready)

    def _consent_text(self) -> None:
        self.consent.setText(("☑ " if self.consent.isChecked() else "☐ ") + tr("proxy.consent"))

    def show_state(self, key: str, role: str = "hint", text: str = "", **values: str) -> None:
        self._state = (key, role, {"text": text, **values})
        self.state.setProperty("role", role)
        repolish(self.state)
        shown = text or (tr(key, **{k: clause(v) for k, v in values.items()}) if key else "")
        self.state.setText(("⚠ " if role == "error" and shown else "") + shown)  # not colour alone
        self.state.setVisible(bool(shown))

    # -- Screen -------------------------------------------------------------------------------
    def apply_metrics(self, metrics: Metrics) -> None:
        super().apply_metrics(metrics)
        if self.keyboard is not None:
            self.keyboard.set_metrics(metrics)

    def reset(self) -> None:
        self._helper, self._resident = None, None
        self.id_editor.set_value("")
        self.name_editor.set_value("")
        self.relation.set_value(None)
        self.consent.setChecked(False)
        self.helper_line.clear()
        self.resident_line.clear()
        self._go("way")
        self.show_state("")
        self.retranslate()

    def retranslate(self) -> None:
        mask = self._mask
        self.heading.setText(tr("proxy.heading"))
        helper = self._helper
        self.helper_line.setText(tr("proxy.helper", who=f"{helper.masked_name()}  {helper.masked_id(*mask)}") if helper else "")
        self.way_text.setText(tr("proxy.way"))
        self.type_button.setText(tr("proxy.type") + " ›")
        self.id_question.setText(tr("proxy.id_question"))
        self.name_question.setText(tr("proxy.name_question"))
        self.id_editor.retranslate()
        if self._resident is not None:
            person, check = self._resident
            self.resident_line.setText(tr("proxy.resident", who=f"{person.masked_name()}  {person.masked_id(*mask)}"))
            self.check_line.setText({"card": "✔ " + tr("proxy.verified_card"), "hub": "✔ " + tr("proxy.verified_hub")}
                                    .get(check, "⚠ " + tr("proxy.unverified")))
            self.check_line.setProperty("role", "ok" if check in ("card", "hub") else "error")
            repolish(self.check_line)
        self.relation_caption.setText(tr("proxy.relation"))
        self.relation.retranslate()
        self._consent_text()
        self.back.setText("‹ " + tr("common.back"))
        page = self.page
        self.next.setText({"name": tr("proxy.check"), "auth": "✔ " + tr("proxy.confirm")}.get(page, tr("common.next") + " ›"))
        key, role, values = self._state
        if key:
            self.state.setText(("⚠ " if role == "error" else "") + tr(key, **{k: v for k, v in values.items() if k != "text"}))
        self._update_next()

    def spoken_prompt(self) -> str:
        return {"way": tr("proxy.way"), "id": tr("proxy.id_question"), "name": tr("proxy.name_question"),
                "auth": tr("proxy.relation")}[self.page]
