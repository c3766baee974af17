"""Every credential reaches the identify screen through the real device path and the UI:
the social-security card through pcscd + vpcd, the e-voucher from a serial scanner and from a
keyboard-wedge scanner (resolved by the hub over HTTP), with clear messages when things go wrong.
"""
from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QApplication

from kiosk.ui.journey import Journey, click, wait_until
from pcscd_fixture import pcscd, vpcd_card  # noqa: F401 (fixtures)

PROJECT = Path(__file__).resolve().parent.parent
SSCARDS = PROJECT / "assets" / "cards" / "sscard"
VOUCHER = "YBPZ-DEMO-11010519491231002X"


@pytest.fixture
def kiosk(kiosk_shell):
    return kiosk_shell()[0]


@pytest.fixture
def sscard_kiosk(kiosk_shell, pcscd):  # noqa: F811
    return kiosk_shell(sscard=True)[0]


def test_voucher_from_serial_scanner_identifies_through_the_hub(kiosk) -> None:
    j = Journey(kiosk.window, log=lambda _: None)
    j.choose_service("record_query")
    j.on_screen("identify")
    kiosk.runtime.sims.qrscan.scan(VOUCHER)
    j.wait_for_person()
    assert kiosk.window.identify.id_value.text() == "110105********002X"
    assert kiosk.controller.session.person.source == "voucher"


def test_unknown_voucher_gets_a_clear_message(kiosk) -> None:
    j = Journey(kiosk.window, log=lambda _: None)
    j.choose_service("record_query")
    j.on_screen("identify")
    kiosk.runtime.sims.qrscan.scan("YBPZ-DEMO-000000000000000000")
    wait_until(lambda: "凭证" in kiosk.window.identify.state.text(), 10, "the voucher message")
    assert not kiosk.window.identify.continue_button.isEnabled()


def _type_burst(window, text: str, start_ms: int, gap_ms: int) -> None:
    target = QApplication.focusWidget() or window
    for i, ch in enumerate(text):
        event = QKeyEvent(QEvent.Type.KeyPress, 0, Qt.KeyboardModifier.NoModifier, ch)
        event.setTimestamp(start_ms + i * gap_ms)
        QApplication.sendEvent(target, event)
    enter = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Return, Qt.KeyboardModifier.NoModifier, "\r")
    enter.setTimestamp(start_ms + len(text) * gap_ms)
    QApplication.sendEvent(target, enter)


def test_keyboard_wedge_scanner_is_told_from_a_person_typing(kiosk) -> None:
    j = Journey(kiosk.window, log=lambda _: None)
    j.choose_service("record_query")
    j.on_screen("identify")
    _type_burst(kiosk.window, VOUCHER, 1_000_000, 150)  # a person: 150 ms between keys — not a scan
    QApplication.processEvents()
    assert not kiosk.window.identify.continue_button.isEnabled()
    _type_burst(kiosk.window, VOUCHER, 2_000_000, 8)  # a scanner: 8 ms between keys
    j.wait_for_person()
    assert kiosk.controller.session.person.source == "voucher"


@pytest.mark.pcscd
def test_sscard_insert_identifies_and_leads_to_the_form(sscard_kiosk, vpcd_card) -> None:  # noqa: F811
    shell = sscard_kiosk
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service("enrol")
    j.on_screen("identify")
    vpcd_card(SSCARDS / "standard.json")
    j.wait_for_person(15)
    assert shell.controller.session.person.source == "sscard"
    assert shell.window.identify.id_value.text().startswith("110105") and "*" in shell.window.identify.id_value.text()
    click(j.find("identify_continue"))
    j.on_screen("form")
    assert shell.window.form.answers()["id_number"] == shell.controller.session.person.id_number


@pytest.mark.pcscd
def test_expired_sscard_is_refused_with_a_message(sscard_kiosk, vpcd_card) -> None:  # noqa: F811
    shell = sscard_kiosk
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service("enrol")
    j.on_screen("identify")
    vpcd_card(SSCARDS / "expired.json")
    wait_until(lambda: "过期" in shell.window.identify.state.text(), 15, "the expiry message")
    assert not shell.window.identify.continue_button.isEnabled()


@pytest.mark.pcscd
def test_sscard_pulled_mid_read_gives_a_clear_message(sscard_kiosk, vpcd_card) -> None:  # noqa: F811
    from drivers.sscard.emulator import CardFaults

    shell = sscard_kiosk
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service("enrol")
    j.on_screen("identify")
    vpcd_card(SSCARDS / "standard.json", CardFaults(pulled_mid_read=6), wait=False)
    wait_until(lambda: "读卡失败" in shell.window.identify.state.text(), 15, "the read-failure message")
    assert shell.controller.session.person is None
    assert shell.window.current.name == "identify"


def test_a_card_placed_first_that_cannot_be_used_says_why(kiosk) -> None:
    """Placed on home, a failed read used to show nothing at all; now the identify screen says why."""
    from drivers.idcard.simulator import profile_from_fields

    j = Journey(kiosk.window, log=lambda _: None)
    j.on_screen("home")
    bad = profile_from_fields("bad-check", name="王五", sex="男", nation="汉", birth_date="1995-06-12",
                              id_number="320682199506120039", valid_from="2020-05-10", valid_until="2040-05-10")
    kiosk.runtime.sims.idcard.insert(bad)  # wrong check character
    j.on_screen("identify")  # the reader layer refuses a number that fails its check: a failed read
    assert "读卡失败" in kiosk.window.identify.state.text()
    assert kiosk.controller.session.person is None and not kiosk.window.identify.continue_button.isEnabled()
    kiosk.runtime.sims.idcard.remove()
    click(j.find("identify_back"))
    j.on_screen("home")

    kiosk.runtime.sims.idcard.faults.remove_mid_read = True  # the card leaves during the read
    from drivers.idcard.simulator import load_profile

    kiosk.runtime.sims.idcard.insert(load_profile(PROJECT / "assets/cards/idcard/young_parent.json"))
    j.on_screen("identify")
    wait_until(lambda: "读卡失败" in kiosk.window.identify.state.text(), 10, "the read failure message")
