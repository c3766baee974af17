"""The controller acts on kiosk/devices' typed events, and shows an unexpected error as a
generic message with a logged reference — never the exception's text."""
from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from PySide6.QtWidgets import QLabel

from kiosk.devices.events import CardPresented, DeviceStateChanged, PersonRead, ReadFailed
from kiosk.errors import UserFacingError
from kiosk.services.identity import Person
from kiosk.ui.journey import wait_until

PERSON = Person(name="张三", id_number="11010519491231002X", source="idcard", birth_date=dt.date(1990, 1, 1))


@pytest.fixture
def shell(kiosk_shell):
    shell, _ = kiosk_shell(hub=False)
    return shell


def test_typed_events_reach_the_status_strip_and_the_identify_screen(shell) -> None:
    c, w = shell.controller, shell.window
    shell.channel.event.emit("sscard", DeviceStateChanged("sscard", "error"))
    wait_until(lambda: w.status.device_state["sscard"] == "error", 5, "the strip to show the reader's fault")
    c.show(w.identify)
    c.on_device_event("idcard", CardPresented("idcard"))
    assert w.identify.state.text() and w.status.device_state["idcard"] == "ok"
    c.on_device_event("idcard", ReadFailed("idcard", UserFacingError("X", "读卡失败：请重新放卡", "Read failed")))
    assert "读卡失败：请重新放卡" in w.identify.state.text()
    c.on_device_event("idcard", PersonRead("idcard", PERSON, reply_received_at=None))
    assert c.session.person == PERSON and w.identify.continue_button.isEnabled()


def test_unexpected_errors_show_a_reference_not_their_text(shell, caplog: pytest.LogCaptureFixture) -> None:
    c, w = shell.controller, shell.window
    c.show(w.identify)
    with caplog.at_level(logging.ERROR):
        c.on_voucher_failed(RuntimeError("boom in hub_client.py line 12"))
        text = w.identify.state.text()
        assert "boom" not in text and "RuntimeError" not in text
        assert re.search(r"参考号 [0-9A-F]{6}", text)
        c.on_failure(KeyError("secret internals"))
    assert w.current is w.error
    shown = " ".join(label.text() for label in w.error.findChildren(QLabel))
    assert "secret" not in shown and "KeyError" not in shown and "E-INTERNAL" in shown
    reference = re.search(r"参考号 ([0-9A-F]{6})", shown)
    assert reference is not None and reference.group(1) in caplog.text  # the log holds the details under it


def test_demo_hands_and_keys_work_the_simulators(shell) -> None:
    """The demo tooling in kiosk/ui reaches the simulators only through kiosk/devices' DemoHands."""
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from kiosk.devices.simulators import DemoHands
    from kiosk.ui.demo_controls import install_demo_controls

    hands = DemoHands(shell.runtime.sims, shell.config)
    assert hands.has_scanner and not hands.has_sscard and not hands.sscard_inserted
    install_demo_controls(shell.window, hands)
    QTest.keyClick(shell.window, Qt.Key.Key_F2)  # the configured card on the reader
    wait_until(lambda: shell.controller.session.person is not None, 10, "the F2 card to be read")
    QTest.keyClick(shell.window, Qt.Key.Key_F4)  # paper out
    assert shell.runtime.sims.printer.paper == "out"
    hands.set_paper_out(False)
    assert shell.runtime.sims.printer.paper == "ok"
