"""One generic form screen for every service in forms/: one question per step, checked as you go."""
from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QSizePolicy, QStackedWidget, QVBoxLayout

from kiosk.services.forms import FieldSpec, FormSpec, validate_field
from kiosk.ui.i18n import language, tr
from kiosk.ui.screens.base import Screen, button, card, label
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets.editors import FieldEditor, editor_for
from kiosk.ui.widgets.touch_keyboard import TouchKeyboard


class FormScreen(Screen):
    name = "form"
    completed = Signal(dict)  # answers
    step_prompt = Signal(str)  # the question now on screen, for the voice
    back_clicked = Signal()

    def __init__(self, metrics: Metrics) -> None:
        super().__init__(metrics)
        self.form: FormSpec | None = None
        self.prefilled: dict[str, Any] = {}
        self.steps: list[FieldSpec] = []
        self.editors: list[FieldEditor] = []
        self.index = 0
        outer = QVBoxLayout(self)
        outer.setContentsMargins(metrics.mm(10), metrics.mm(5), metrics.mm(10), metrics.mm(5))
        top = QHBoxLayout()
        self.title = label(role="title")
        self.step_label = label(role="hint", wrap=False)
        top.addWidget(self.title, 1)
        top.addWidget(self.step_label)
        outer.addLayout(top)
        frame, body = card(outer)
        self.question = label(role="title")
        self.question.setObjectName("form_question")
        self.help = label(role="hint")
        self.pages = QStackedWidget()
        self.error = label(role="error")
        self.error.setObjectName("form_error")
        body.addWidget(self.question)
        body.addWidget(self.help)
        body.addWidget(self.pages, 1)
        body.addWidget(self.error)
        self.error.hide()  # takes room only when there is something to say
        outer.setStretch(1, 1)
        buttons = QHBoxLayout()
        self.previous = button(name="form_previous")
        self.next = button(role="primary", name="form_next")
        buttons.addWidget(self.previous)
        buttons.addStretch(1)
        buttons.addWidget(self.next)
        outer.addLayout(buttons)
        self.keyboard: TouchKeyboard | None = None  # made on the first free-text question
        self.previous.clicked.connect(self.go_previous)
        self.next.clicked.connect(self.go_next)

    def load(self, form: FormSpec, prefilled: dict[str, Any], answers: dict[str, Any] | None = None) -> None:
        self.reset()
        self.form, self.prefilled = form, dict(prefilled)
        # A read-only field the card already filled needs no step; the review screen shows it.
        self.steps = [f for f in form.fields if not (f.readonly and prefilled.get(f.name))]
        for spec in self.steps:
            editor = editor_for(spec, self.metrics)
            value = (answers or {}).get(spec.name, prefilled.get(spec.name))
            if value is not None:
                editor.set_value(value)
            editor.changed.connect(lambda: self.set_error(""))
            self.editors.append(editor)
            self.pages.addWidget(editor)
        self.index = 0
        self._show_step()

    def answers(self) -> dict[str, Any]:
        values = dict(self.prefilled)
        values.update({spec.name: editor.value() for spec, editor in zip(self.steps, self.editors)})
        return values

    def _show_step(self) -> None:
        if not self.steps:
            return
        spec = self.steps[self.index]
        lang = language()
        optional = "" if spec.required else " " + tr("common.optional")
        self.question.setText(spec.label.get(lang) + optional)
        self.help.setText(spec.help.get(lang) if spec.help else "")
        self.help.setVisible(spec.help is not None)
        self.pages.setCurrentIndex(self.index)
        # A stack is as tall as its tallest page; only the question on screen may ask for room
        # (the keypad of a later step must not push the keyboard off a fixed-size window).
        for number, editor in enumerate(self.editors):
            policy = QSizePolicy.Policy.Preferred if number == self.index else QSizePolicy.Policy.Ignored
            editor.setSizePolicy(policy, policy)
        self.pages.updateGeometry()
        self.step_label.setText(tr("common.step", n=self.index + 1, total=len(self.steps)))
        self._show_keyboard(spec.type == "text" and not spec.readonly)
        if self.isVisible():
            self.step_prompt.emit(spec.label.get(lang))
        self.previous.setText("‹ " + (tr("common.previous") if self.index else tr("common.back")))
        self.next.setText(tr("common.next") + " ›")
        self.set_error("")

    def _show_keyboard(self, wanted: bool) -> None:
        if wanted and self.keyboard is None:
            self.keyboard = TouchKeyboard(self.metrics)
            self.layout().addWidget(self.keyboard)
        if self.keyboard is not None:
            if self.keyboard.metrics != self.metrics:
                self.keyboard.set_metrics(self.metrics)  # follows 长辈版 whenever it is shown
            self.keyboard.set_language(language())
            self.keyboard.setVisible(wanted)
        if wanted:
            self.editors[self.index].setFocus()

    def apply_metrics(self, metrics: Metrics) -> None:
        super().apply_metrics(metrics)
        if self.keyboard is not None:
            self.keyboard.set_metrics(metrics)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self.keyboard is not None and self.keyboard.isVisible() and self.editors:
            self.editors[self.index].setFocus()  # the keyboard types into the focused field

    def set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def go_next(self) -> None:
        if not self.steps:
            self.completed.emit(self.answers())
            return
        spec, editor = self.steps[self.index], self.editors[self.index]
        message = validate_field(spec, editor.value())
        if message is not None:
            self.set_error("⚠ " + message.get(language()))  # icon and words, not colour alone
            self.step_prompt.emit(message.get(language()))
            return
        if self.index + 1 < len(self.steps):
            self.index += 1
            self._show_step()
        else:
            self.completed.emit(self.answers())

    def go_previous(self) -> None:
        if self.index == 0:
            self.back_clicked.emit()
        else:
            self.index -= 1
            self._show_step()

    def reset(self) -> None:
        for editor in self.editors:
            self.pages.removeWidget(editor)
            editor.setParent(None)  # gone from screen now; freed at the next loop turn
            editor.deleteLater()
        self.editors, self.steps, self.prefilled, self.form = [], [], {}, None
        self.title.clear()
        self.question.clear()
        self.set_error("")

    def retranslate(self) -> None:
        if self.form:
            self.title.setText(self.form.title.get(language()))
        for editor in self.editors:
            editor.retranslate()
        self._show_step()

    def spoken_prompt(self) -> str:
        return self.question.text()
