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


@dataclass
class Journey:
    window: MainWindow
    shots_dir: Path | None = None
    log: Callable[[str], None] = print
    steps: list[str] = field(default_factory=list)

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

    def choose_service(self, code: str) -> None:
        click(self.find(f"tile_{code}"))

    def wait_for_person(self, timeout_s: float = 10.0) -> None:
        wait_until(lambda: self.window.identify.continue_button.isEnabled(), timeout_s, "the card to be read")

    def answer_current(self, value: Any) -> None:
        """Answer the visible question through its editor's buttons, then press Next."""
        form = self.window.form
        spec = form.steps[form.index]
        if spec.type in ("choice", "multichoice"):
            for v in value if isinstance(value, list) else [value]:
                click(self.find(f"option_{spec.name}_{v}"))
        elif spec.type == "consent":
            if value:
                click(self.find(f"consent_{spec.name}"))
        elif spec.type in ("id_number", "phone", "amount", "integer"):
            for ch in str(value):
                click(self.find(f"key_{spec.name}_{ch}"))
        elif spec.type == "date":
            pass  # keep the preset date (today); the pickers are exercised in their own tests
        else:
            editor = self.find(f"input_{spec.name}", QWidget)
            type_text(editor, str(value))
        click(self.find("form_next"))

    def fill_form(self, answers: dict[str, Any]) -> None:
        form = self.window.form
        while self.window.current is form:
            spec = form.steps[form.index]
            before = (form.index, self.window.current)
            self.answer_current(answers.get(spec.name))
            QApplication.processEvents()
            if (form.index, self.window.current) == before:
                raise JourneyError(f"form did not accept {spec.name}: {form.error.text()}")
