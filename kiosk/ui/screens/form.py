"""One generic form screen for every service in forms/: one page per step, checked as you go.

A page is one question, or several consecutive fields that share a `page` name in the form's
TOML (e.g. 病种 and 定点医院 together), so a journey takes fewer screens. Fields the card or this
visit already answered (read-only card data, the phone given earlier in the visit) are not asked
again; the review screen shows them and 修改 asks every field.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QStackedWidget, QVBoxLayout, QWidget

from kiosk.services.forms import FieldSpec, FormSpec, validate_field
from kiosk.ui.i18n import language, tr
from kiosk.ui.screens.base import Screen, button, card, label
from kiosk.ui.theme import Metrics
from kiosk.ui.widgets.editors import FieldEditor, editor_for

if TYPE_CHECKING:  # the keyboard (Qt Quick, ~45 ms to import) loads when first shown (issue 20)
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
        self.steps: list[list[FieldSpec]] = []  # one list of fields per page on screen
        self.asked: list[FieldSpec] = []  # every field asked, in order; `editors` runs parallel
        self.editors: list[FieldEditor] = []
        self.captions: list[tuple[FieldSpec, QLabel, QLabel]] = []  # 2nd+ field of a page: its own title
        self.skipped: list[str] = []  # fields answered earlier in the visit, not asked again
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

    def load(self, form: FormSpec, prefilled: dict[str, Any], answers: dict[str, Any] | None = None,
             ask_all: bool = False) -> None:
        """`ask_all`: ask again what this visit already answered (修改 from the review screen)."""
        self.reset()
        self.form, self.prefilled = form, dict(prefilled)
        for spec in form.fields:
            if spec.readonly and prefilled.get(spec.name):
                continue  # the card filled it and it cannot change; the review screen shows it
            if not ask_all and spec.prefill.startswith("visit.") and prefilled.get(spec.name):
                self.skipped.append(spec.name)  # given earlier in this visit: asked once per visit
                continue
            if self.steps and spec.page and self.steps[-1][-1].page == spec.page:
                self.steps[-1].append(spec)
            else:
                self.steps.append([spec])
            self.asked.append(spec)
        for page in self.steps:
            holder = QWidget()
            column = QVBoxLayout(holder)
            column.setContentsMargins(0, 0, 0, 0)
            for position, spec in enumerate(page):
                if position:  # the first field's words are the page's question above
                    caption, hint = label(role="title"), label(role="hint")
                    caption.setObjectName(f"caption_{spec.name}")
                    column.addWidget(caption)
                    column.addWidget(hint)
                    self.captions.append((spec, caption, hint))
                editor = editor_for(spec, self.metrics, compact=len(page) > 1)
                value = (answers or {}).get(spec.name, prefilled.get(spec.name))
                if value is not None:
                    editor.set_value(value)
                editor.changed.connect(lambda: self.set_error(""))
                self.editors.append(editor)
                column.addWidget(editor, 1 if position == len(page) - 1 else 0)
            self.pages.addWidget(holder)
        self.index = 0
        self._show_step()

    def answers(self) -> dict[str, Any]:
        values = dict(self.prefilled)
        values.update({spec.name: editor.value() for spec, editor in zip(self.asked, self.editors, strict=True)})
        return values

    def _page_editors(self) -> list[tuple[FieldSpec, FieldEditor]]:
        on_page = set(id(spec) for spec in self.steps[self.index])
        return [(spec, editor) for spec, editor in zip(self.asked, self.editors, strict=True) if id(spec) in on_page]

    def _label(self, spec: FieldSpec) -> str:
        return spec.label.get(language()) + ("" if spec.required else " " + tr("common.optional"))

    def _show_step(self) -> None:
        if not self.steps:
            return
        page = self.steps[self.index]
        spec = page[0]
        lang = language()
        self.question.setText(self._label(spec))
        self.help.setText(spec.help.get(lang) if spec.help else "")
        self.help.setVisible(spec.help is not None)
        for other, caption, hint in self.captions:
            caption.setText(self._label(other))
            hint.setText(other.help.get(lang) if other.help else "")
            hint.setVisible(other.help is not None)
        self.pages.setCurrentIndex(self.index)
        # A stack is as tall as its tallest page; only the page on screen may ask for room
        # (the keypad of a later step must not push the keyboard off a fixed-size window).
        for number in range(self.pages.count()):
            policy = QSizePolicy.Policy.Preferred if number == self.index else QSizePolicy.Policy.Ignored
            holder = self.pages.widget(number)
            if holder is not None:
                holder.setSizePolicy(policy, policy)
        self.pages.updateGeometry()
        self.step_label.setText(tr("common.step", n=self.index + 1, total=len(self.steps)))
        typed = [editor for f, editor in self._page_editors() if f.type == "text" and not f.readonly]
        self._show_keyboard(bool(typed), typed[0] if typed else None)
        if self.isVisible():
            self.step_prompt.emit("；".join(f.label.get(lang) for f in page))
        self.previous.setText("‹ " + (tr("common.previous") if self.index else tr("common.back")))
        self.next.setText(tr("common.next") + " ›")
        self.set_error("")

    def _show_keyboard(self, wanted: bool, editor: FieldEditor | None = None) -> None:
        if wanted and self.keyboard is None:
            from kiosk.ui.widgets.touch_keyboard import TouchKeyboard

            self.keyboard = TouchKeyboard(self.metrics)
            layout = self.layout()
            assert layout is not None  # the screen's column, made in __init__
            layout.addWidget(self.keyboard)
        if self.keyboard is not None:
            if self.keyboard.metrics != self.metrics:
                self.keyboard.set_metrics(self.metrics)  # follows 长辈版 whenever it is shown
            self.keyboard.set_language(language())
            self.keyboard.setVisible(wanted)
        if wanted and editor is not None:
            editor.setFocus()

    def apply_metrics(self, metrics: Metrics) -> None:
        super().apply_metrics(metrics)
        if self.keyboard is not None:
            self.keyboard.set_metrics(metrics)

    def showEvent(self, event) -> None:  # noqa: N802 (Qt API)
        super().showEvent(event)
        if self.keyboard is not None and self.keyboard.isVisible() and self.steps:
            typed = [editor for f, editor in self._page_editors() if f.type == "text" and not f.readonly]
            if typed:
                typed[0].setFocus()  # the keyboard types into the focused field

    def set_error(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))

    def go_next(self) -> None:
        if not self.steps:
            self.completed.emit(self.answers())
            return
        lang = language()
        page = self._page_editors()
        for spec, editor in page:
            message = validate_field(spec, editor.value())
            if message is not None:
                # icon and words, not colour alone; on a shared page, which question it is about
                text = (spec.label.get(lang) + "：" if len(page) > 1 else "") + message.get(lang)
                self.set_error("⚠ " + text)
                self.step_prompt.emit(text)
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
        while self.pages.count():  # each page holds its editors
            holder = self.pages.widget(0)
            if holder is None:
                break
            self.pages.removeWidget(holder)
            holder.setParent(None)  # gone from screen now; freed at the next loop turn
            holder.deleteLater()
        self.editors, self.steps, self.asked, self.captions, self.skipped = [], [], [], [], []
        self.prefilled, self.form = {}, None
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
