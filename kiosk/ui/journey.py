"""A scripted resident journey driven through the UI with real clicks (demo and tests share it).

Each step waits for what a resident would see, optionally saves a screenshot, and reports the
step. Nothing here calls the backend directly: cards go in through the simulators.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QInputMethodEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton, QWidget

from kiosk.ui.main_window import MainWindow


class JourneyError(RuntimeError):
    pass


def wait_until(condition: Callable[[], Any], timeout_s: float = 10.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        QApplication.processEvents()
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise JourneyError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def click(widget: QWidget) -> None:
    if not widget.isVisible() or not widget.isEnabled():
        raise JourneyError(f"cannot click {widget.objectName() or widget}: not visible or disabled")
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton, pos=QPoint(widget.width() // 2, widget.height() // 2))
    QApplication.processEvents()


def type_text(editor: QWidget, text: str) -> None:
    """Chinese arrives the way the pinyin keyboard delivers it: an input-method commit."""
    editor.setFocus()
    event = QInputMethodEvent()
    event.setCommitString(text)
    QApplication.sendEvent(editor, event)
    QApplication.processEvents()


class ScreenRecorder:
    """Every distinct screen a resident saw on one window (each form page counts as a screen).
    One per window, connected once: journeys made again and again on a window (the benchmarks)
    add no connections."""

    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.views: list[str] = []
        window.stack.currentChanged.connect(self.note)
        window.form.pages.currentChanged.connect(self.note)
        self.note()

    @staticmethod
    def of(window: MainWindow) -> ScreenRecorder:
        recorder = getattr(window, "_screen_recorder", None)
        if recorder is None:
            recorder = window._screen_recorder = ScreenRecorder(window)  # type: ignore[attr-defined]  # rides on the window it watches
        return recorder

    def note(self, *_: Any) -> None:
        current = self.window.current
        if current is None:
            return
        view = current.name
        if current is self.window.form:
            if not self.window.form.steps:
                return  # a form being loaded or reset, not a page a resident sees
            view = f"form:{self.window.form.index + 1}"
        if not self.views or self.views[-1] != view:
            self.views.append(view)

    def restart(self) -> None:
        self.views.clear()
        self.note()


@dataclass
class Journey:
    """Plays a resident through the window. `views` is every distinct screen the resident saw (each
    form page counts as a screen) since `start_counting`, and `touches` every tap made through `tap`."""

    window: MainWindow
    shots_dir: Path | None = None
    log: Callable[[str], None] = print
    steps: list[str] = field(default_factory=list)
    touches: int = 0

    @property
    def views(self) -> list[str]:
        return ScreenRecorder.of(self.window).views

    def start_counting(self) -> None:
        """From here on: the screen on show now is screen 1, and no touch made yet."""
        ScreenRecorder.of(self.window).restart()
        self.touches = 0

    def tap(self, widget: QWidget) -> None:
        click(widget)
        self.touches += 1

    def step(self, name: str, description: str) -> None:
        QApplication.processEvents()
        self.steps.append(name)
        if self.shots_dir is not None:
            self.shots_dir.mkdir(parents=True, exist_ok=True)
            path = self.shots_dir / f"{len(self.steps):02d}-{name}.png"
            self.window.grab().save(str(path))
            self.log(f"[{len(self.steps):02d}] {description}  → {path}")
        else:
            self.log(f"[{len(self.steps):02d}] {description}")

    def find(self, name: str, kind: type = QPushButton) -> Any:
        widget = self.window.findChild(kind, name)
        if widget is None:
            raise JourneyError(f"no widget named {name}")
        return widget

    def on_screen(self, name: str, timeout_s: float = 10.0) -> None:
        wait_until(lambda: self.window.current.name == name, timeout_s, f"the {name} screen")

    def choose_service(self, code: str, start: bool = True) -> None:
        """Tap the service's tile, turning the menu's pages (更多服务) until it is on screen; with
        `start`, tap 开始填写 on the 办事指南 that comes first for a service with questions (an
        information service stays on its guide)."""
        tile = self.find(f"tile_{code}")
        for _ in range(len(self.window.home.tiles)):
            if tile.isVisible():
                break
            self.tap(self.find("home_more"))
        self.tap(tile)
        if start and self.window.current is self.window.guide and self.window.guide.start.isVisible():
            self.tap(self.window.guide.start)

    def start_from_guide(self) -> None:
        """The 办事指南 shown before a service with questions: its prominent 开始填写."""
        self.on_screen("guide")
        self.tap(self.find("guide_start"))

    def wait_for_person(self, timeout_s: float = 10.0) -> None:
        wait_until(lambda: self.window.identify.continue_button.isEnabled(), timeout_s, "the card to be read")

    def answer_field(self, spec: Any, value: Any) -> None:
        """Answer one question through its editor's buttons (no Next)."""
        if spec.type in ("choice", "multichoice"):
            for v in value if isinstance(value, list) else [value]:
                self.tap(self.find(f"option_{spec.name}_{v}"))
        elif spec.type == "consent":
            if value:
                self.tap(self.find(f"consent_{spec.name}"))
        elif spec.type in ("id_number", "phone", "amount", "integer"):
            for ch in str(value):
                self.tap(self.find(f"key_{spec.name}_{ch}"))
        elif spec.type == "date":
            pass  # keep the preset date (today); the pickers are exercised in their own tests
        else:
            editor = self.find(f"input_{spec.name}", QWidget)
            type_text(editor, str(value))  # the pinyin keyboard's own taps are counted in its test

    def answer_current(self, value: Any) -> None:
        """Answer the page on screen, then press Next. A page of several fields takes a dict of
        answers by field name; a one-question page takes the answer itself."""
        form = self.window.form
        page = form.steps[form.index]
        if len(page) == 1 and not (isinstance(value, dict) and page[0].name in value):
            self.answer_field(page[0], value)
        else:
            for spec in page:
                self.answer_field(spec, value.get(spec.name))
        self.tap(self.find("form_next"))

    def fill_form(self, answers: dict[str, Any]) -> None:
        form = self.window.form
        while self.window.current is form:
            page = form.steps[form.index]
            before = (form.index, self.window.current)
            self.answer_current({spec.name: answers.get(spec.name) for spec in page})
            QApplication.processEvents()
            if (form.index, self.window.current) == before:
                raise JourneyError(f"form did not accept {', '.join(s.name for s in page)}: {form.error.text()}")


# -- the journeys issue 16 measures (demo and tests/test_journey_lengths.py play the same clicks) --

def play_chronic_disease(j: Journey, place_card: Callable[[], None], answers: dict[str, Any],
                         done: Callable[[], bool]) -> None:
    """门诊慢特病认定, service first: tile → 办事指南 开始填写 → card on the reader → 继续 → the pages →
    提交 → number."""
    j.choose_service("chronic_disease")  # its 办事指南, then 开始填写
    j.on_screen("identify")
    place_card()
    j.wait_for_person()
    j.tap(j.find("identify_continue"))
    j.on_screen("form")
    j.fill_form(answers)
    j.on_screen("review")
    j.tap(j.find("review_submit"))
    wait_until(done, 15, "the ticket to print")


def play_record_certificate(j: Journey, place_card: Callable[[], None], done: Callable[[], bool]) -> None:
    """Card first, then 参保信息查询 with 打印参保证明: the certificate prints without another tap."""
    place_card()
    j.on_screen("identify")
    j.wait_for_person()
    j.tap(j.find("identify_continue"))
    j.on_screen("home")  # the service menu, with the person kept
    j.choose_service("record_query")  # its 办事指南, then 开始填写
    j.on_screen("form")
    j.fill_form({"purpose": "certificate"})
    j.on_screen("review")
    j.tap(j.find("review_submit"))
    wait_until(done, 20, "the certificate to print")


def play_ticket_only(j: Journey, done: Callable[[], bool], place_card: Callable[[], None] | None = None) -> None:
    """取号咨询: a band-D number without a form; the card is optional (it gives priority)."""
    j.choose_service("consult")
    if j.window.current.name == "identify":
        if place_card is None:
            j.tap(j.find("identify_skip"))
        else:
            place_card()
            j.wait_for_person()
            j.tap(j.find("identify_continue"))
    j.on_screen("done")
    wait_until(done, 15, "the number to print")
