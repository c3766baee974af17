"""Idle timeout: a ≥ 20 s warning with one big 继续办理 button (usable again and again), then
every trace of the resident is cleared from memory and screen and the kiosk returns home."""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication, QLabel

from kiosk.ui.journey import Journey, click, wait_until

PROJECT = Path(__file__).resolve().parent.parent


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def shell(kiosk_shell):
    shell, _ = kiosk_shell(hub=False)
    shell.idle.clock = FakeClock()
    shell.idle.touch()
    return shell


def test_warning_continue_and_expiry_clear_everything(shell) -> None:
    from drivers.idcard.simulator import load_profile

    window, idle, clock = shell.window, shell.idle, shell.idle.clock
    j = Journey(window, log=lambda _: None)
    j.choose_service("sporadic_reimburse")
    j.on_screen("identify")
    shell.runtime.sims.idcard.insert(load_profile(PROJECT / "assets/cards/idcard/resident.json"))
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("form")
    j.answer_current("inpatient")
    assert window.metrics.elderly

    timeout, warning = shell.config.kiosk.idle_timeout_s, shell.config.kiosk.idle_warning_s
    assert warning >= 20
    for _ in range(12):  # the continue button works every time, not just once
        clock.now += timeout - warning + 0.5
        idle.tick()
        QApplication.processEvents()
        assert window.idle_overlay.isVisible()
        seconds = int("".join(ch for ch in window.idle_overlay.message.text() if ch.isdigit()))
        assert seconds >= 20
        click(j.find("idle_continue"))
        assert not window.idle_overlay.isVisible()
        assert window.current.name == "form"

    clock.now += timeout + 1
    idle.tick()
    wait_until(lambda: window.current.name == "home", 5, "home after the timeout")
    assert shell.controller.session.person is None and shell.controller.session.answers == {}
    assert not window.idle_overlay.isVisible() and not window.metrics.elderly
    shown = " ".join(w.text() for w in window.findChildren(QLabel))
    for secret in ("张三", "张*", "110105195003070019", "110105********0019"):
        assert secret not in shown
    assert window.form.editors == [] and window.review.grid.count() == 0
