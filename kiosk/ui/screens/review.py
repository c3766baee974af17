"""Review before submit: every answer in words, personal data masked. With 帮办代办 (issue 19) the
helper (masked like the applicant), the relation and the 委托 time are shown, and an applicant
typed in without a card is marked 未核验; a priority reason is named."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QGridLayout, QHBoxLayout, QScrollArea, QVBoxLayout

from kiosk.privacy import mask_id_number, mask_name, mask_phone
from kiosk.services.forms import FieldSpec, FormSpec, display_value
from kiosk.services.identity import Person
from kiosk.ui.i18n import language, register_strings, tr
from kiosk.ui.screens.base import Screen, button, label
from kiosk.ui.theme import Metrics

register_strings({
    "review.reused": ("（本次办理时已填写）", " (given earlier in this visit)"),
    "review.applicant_proxy": ("申请人（被代办人）", "Applicant (acted for)"),
    "review.helper": ("代办人", "Acting person"),
    "review.relation": ("关系", "Relation"),
    "review.authorised": ("授权委托", "Authorisation"),
    "review.authorised_at": ("代办人已确认取得授权（{time}）", "Confirmed by the acting person ({time})"),
    "review.unverified": ("（未核验，窗口核对）", " (not checked: the counter checks)"),
    "review.priority": ("优先", "Priority"),
    "relation.spouse": ("配偶", "Spouse"), "relation.child": ("子女", "Child"), "relation.relative": ("亲属", "Relative"),
    "relation.grid_worker": ("网格员", "Grid worker"), "relation.village_cadre": ("村干部", "Village cadre"),
    "relation.other": ("其他", "Other"),
    "priority.elderly": ("长者（绿色通道）", "Senior (green channel)"),
    "priority.appointment": ("预约", "Appointment"),
})


def masked_display(spec: FieldSpec, value: Any, lang: str, head: int, tail: int) -> str:
    text = display_value(spec, value, lang)
    if spec.type == "id_number":
        return mask_id_number(text, head, tail)
    if spec.type == "phone":
        return mask_phone(text)
    if spec.prefill == "card.name" or (spec.sensitive and spec.type == "text"):
        return mask_name(text)  # free text asked of a resident is mostly names (e.g. the baby's)
    return text


class ReviewScreen(Screen):
    name = "review"
    submit_clicked = Signal()
    edit_clicked = Signal()

    def __init__(self, metrics: Metrics, mask_head: int = 6, mask_tail: int = 4) -> None:
        super().__init__(metrics)
        self._mask = (mask_head, mask_tail)
        self._content: tuple[FormSpec, Person | None, dict[str, Any]] | None = None
        self._reused: frozenset[str] = frozenset()  # answers not asked again: the resident is told why
        self._proxy: Any = None  # kiosk.services.session.ProxyAuthority (代办) or None
        self._priority: str | None = None
        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(10), metrics.mm(5), metrics.mm(10), metrics.mm(5))
        self.heading = label(role="title")
        outer.addWidget(self.heading)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        self.sheet = QFrame()
        self.sheet.setObjectName("Card")
        self.grid = QGridLayout(self.sheet)
        scroll.setWidget(self.sheet)
        outer.addWidget(scroll, 1)
        buttons = QHBoxLayout()
        self.edit = button(name="review_edit")
        self.submit = button(role="primary", name="review_submit")
        buttons.addWidget(self.edit)
        buttons.addStretch(1)
        buttons.addWidget(self.submit)
        outer.addLayout(buttons)
        self.edit.clicked.connect(self.edit_clicked)
        self.submit.clicked.connect(self.submit_clicked)

    def show_review(self, form: FormSpec, person: Person | None, answers: dict[str, Any],
                    reused: frozenset[str] | set[str] = frozenset(), proxy: Any = None, priority: str | None = None) -> None:
        self._content = (form, person, answers)
        self._reused = frozenset(reused)
        self._proxy, self._priority = proxy, priority
        self.submit.setEnabled(True)
        self._fill()

    def _fill(self) -> None:
        items = (self.grid.itemAt(i) for i in range(self.grid.count()))
        for widget in [w for item in items if item is not None and (w := item.widget()) is not None]:
            # removeWidget deletes the layout's item; takeAt would hand it to Python unowned, and
            # one QWidgetItem per label leaked per visit (issue 20).
            self.grid.removeWidget(widget)
            # Detach now, not at the next event loop turn: the last resident's data must be
            # gone from the screen the moment the session ends.
            widget.setParent(None)
            widget.deleteLater()
        for row in range(self.grid.rowCount()):
            self.grid.setRowStretch(row, 0)
        if self._content is None:
            return
        form, person, answers = self._content
        lang = language()
        # (caption, value, is the resident's own data rather than UI text)
        rows: list[tuple[str, str, bool]] = [(tr("review.service"), form.title.get(lang), False)]
        proxy = self._proxy
        if person is not None:
            caption = tr("review.applicant_proxy") if proxy is not None else tr("review.applicant")
            unverified = tr("review.unverified") if proxy is not None and proxy.resident_check == "unverified" else ""
            rows.append((caption, f"{person.masked_name()}  {person.masked_id(*self._mask)}{unverified}", True))
        if proxy is not None:
            helper = proxy.helper
            rows.append((tr("review.helper"), f"{helper.masked_name()}  {helper.masked_id(*self._mask)}", True))
            rows.append((tr("review.relation"), tr(f"relation.{proxy.relation}"), False))
            rows.append((tr("review.authorised"), tr("review.authorised_at", time=f"{proxy.authorised_at:%H:%M}"), False))
        if self._priority is not None:
            rows.append((tr("review.priority"), tr(f"priority.{self._priority}"), False))
        for spec in form.fields:
            if spec.name in answers and spec.prefill not in ("card.name", "card.id_number"):
                value = masked_display(spec, answers[spec.name], lang, *self._mask)
                if spec.name in self._reused:
                    value += tr("review.reused")
                rows.append((spec.label.get(lang), value, spec.type not in ("choice", "multichoice", "consent")))
        for row, (caption, value, is_data) in enumerate(rows):
            self.grid.addWidget(label(caption, role="hint"), row, 0)
            value_label = label(value)
            value_label.setProperty("data", is_data)
            value_label.setObjectName(f"review_value_{row}")
            self.grid.addWidget(value_label, row, 1)
        self.grid.setColumnStretch(1, 1)
        self.grid.setRowStretch(len(rows), 1)

    def reset(self) -> None:
        self._content = None
        self._reused = frozenset()
        self._proxy, self._priority = None, None
        self._fill()

    def retranslate(self) -> None:
        self.heading.setText(tr("review.heading"))
        self.edit.setText("‹ " + tr("common.edit"))
        self.submit.setText("✔ " + tr("common.submit"))
        self._fill()

    def spoken_prompt(self) -> str:
        return tr("review.heading")
