"""Issue 19 through the UI (pytest-qt, real clicks, cards through the simulators): 帮办代办 — a
helper identifies with their own card, the resident is typed in (checked by the hub, or marked
unverified offline) or read from their card, relation and 委托 recorded, and the outbox holds both
persons; the self-declared priority reaches the payload and the ticket; 预约签到 through the hall."""
from __future__ import annotations

from contextlib import closing
from pathlib import Path

import pytest
from PySide6.QtWidgets import QWidget

from test_hall_support import TOKEN, clerk_client, clock, hall  # noqa: F401 (fixtures)
from test_kiosk_hall import closed_port_url

PROJECT = Path(__file__).resolve().parent.parent
HELPER_CARD = PROJECT / "assets/cards/idcard/young_parent.json"  # 李明, 31: the relative who came
RESIDENT_CARD = PROJECT / "assets/cards/idcard/resident.json"  # 张三, born 1950: bed-ridden at home
RESIDENT_ID, RESIDENT_NAME = "110105195003070019", "张三"
HELPER_ID = "320682199506120038"
CHRONIC = {"disease": "diabetes", "hospitals": ["h_township", "h_county_tcm"], "phone": "13912345678"}

pytestmark = pytest.mark.no_qt_log  # the name page shows the pinyin keyboard (QML loader thread)


def insert(shell, profile: Path) -> None:
    from drivers.idcard.simulator import load_profile

    shell.runtime.sims.idcard.insert(load_profile(profile))


def remove(shell) -> None:
    """Lift the card, until the reader has looked for it and found nothing (a card placed next is read)."""
    from kiosk.ui.journey import wait_until

    sim = shell.runtime.sims.idcard.device
    seen = len(sim.requests)
    sim.remove()
    wait_until(lambda: any(cmd == 0x20 for _, cmd, _ in sim.requests[seen:]), 10, "the reader to see the card gone")


def to_form(j) -> None:
    """After identify: the form, through the service's 办事指南 where it has one."""
    from kiosk.ui.journey import wait_until

    wait_until(lambda: j.window.current.name in ("form", "guide"), 10, "the form or its guide")
    if j.window.current.name == "guide":
        j.tap(j.find("guide_start"))
    j.on_screen("form")


def choose(j, code: str) -> None:
    """A tile, then identify (through the service's 办事指南 where one comes first)."""
    from kiosk.ui.journey import wait_until

    j.choose_service(code)
    wait_until(lambda: j.window.current.name in ("identify", "guide"), 10, "identify or the guide")
    if j.window.current.name == "guide":
        j.tap(j.find("guide_start"))
    j.on_screen("identify")


def helper_identifies(shell, j, priority: str | None = None) -> None:
    choose(j, "chronic_disease")
    j.tap(j.find("identify_proxy"))
    if priority:
        j.tap(j.find(f"priority_{priority}"))
    insert(shell, HELPER_CARD)
    j.wait_for_person()
    remove(shell)
    j.tap(j.find("identify_continue"))
    j.on_screen("proxy")


def type_resident(j, id_number: str, name: str) -> None:
    from kiosk.ui.journey import type_text, wait_until

    j.tap(j.find("proxy_type"))
    for ch in id_number:
        j.tap(j.find(f"key_proxy_id_{ch}"))
    j.tap(j.find("proxy_next"))
    proxy = j.window.proxy  # the pinyin keyboard makes its keys a slice per loop turn: let it finish
    wait_until(lambda: proxy.keyboard is not None and proxy.keyboard.available, 20, "the keyboard")
    type_text(j.find("input_proxy_name", QWidget), name)
    j.tap(j.find("proxy_next"))


def authorise(j, relation: str) -> None:
    j.tap(j.find(f"option_proxy_relation_{relation}"))
    j.tap(j.find("proxy_consent"))
    j.tap(j.find("proxy_next"))


def submit_chronic(shell, j) -> dict:
    from kiosk.ui.journey import wait_until

    to_form(j)
    j.fill_form(CHRONIC)
    j.on_screen("review")
    review_text = " ".join(w.text() for w in shell.window.review.sheet.findChildren(QWidget) if hasattr(w, "text"))
    j.tap(j.find("review_submit"))
    view = lambda: shell.controller.done_view  # noqa: E731
    wait_until(lambda: view().settled and not view().printing, 20, "the number")
    entry = shell.runtime.outbox.get(view().reference)
    return {"payload": entry.payload, "review": review_text, "ticket": shell.controller.last_ticket}


def test_a_helper_acts_for_a_resident_typed_in_and_checked_and_the_outbox_carries_both(kiosk_shell) -> None:
    from kiosk.ui.journey import Journey, wait_until

    shell, _ = kiosk_shell()
    j = Journey(shell.window, log=lambda _: None)
    helper_identifies(shell, j, priority="disabled")
    assert HELPER_ID[6:14] not in shell.window.proxy.helper_line.text()  # masked like any ID number
    type_resident(j, RESIDENT_ID, RESIDENT_NAME)
    wait_until(lambda: shell.window.proxy.page == "auth", 15, "the hub's check")
    assert "参保记录" in shell.window.proxy.check_line.text()
    assert not shell.window.proxy.next.isEnabled()  # relation and 委托 first
    authorise(j, "child")
    assert shell.window.greeting.text().endswith("（代办）")
    result = submit_chronic(shell, j)
    payload = result["payload"]
    assert payload["applicant"]["id_number"] == RESIDENT_ID and payload["applicant"]["name"] == RESIDENT_NAME
    proxy = payload["proxy"]
    assert proxy["helper"]["id_number"] == HELPER_ID and proxy["helper"]["name"] == "李明"
    assert (proxy["relation"], proxy["resident_check"]) == ("child", "hub") and proxy["authorised_at"]
    assert payload["priority"] == {"reason": "disabled", "self_declared": True}
    review = result["review"]
    assert "代办人" in review and "李*" in review and HELPER_ID not in review and RESIDENT_ID not in review
    assert "子女" in review and "残疾人" in review
    ticket = result["ticket"]
    assert ticket.priority_reason == "disabled"
    assert "代办：李*（子女）" in ticket.content.counter_hint and "残疾人优先" in ticket.content.counter_hint

    from kiosk.privacy import mask_fields

    masked = mask_fields(payload)  # every masked output treats the helper like the applicant
    from kiosk.privacy import mask_id_number

    assert masked["proxy"]["helper"]["id_number"] == mask_id_number(HELPER_ID)
    assert masked["applicant"]["id_number"] == mask_id_number(RESIDENT_ID)
    assert HELPER_ID not in str(masked) and "李明" not in str(masked)


def test_a_wrong_name_is_refused_and_offline_the_typed_resident_is_marked_unverified(kiosk_shell) -> None:
    from kiosk.ui.journey import Journey, wait_until

    shell, hub = kiosk_shell()
    j = Journey(shell.window, log=lambda _: None)
    helper_identifies(shell, j)
    type_resident(j, RESIDENT_ID, "王五")
    wait_until(lambda: "不符" in shell.window.proxy.state.text(), 15, "the name refused")
    assert shell.window.proxy.page == "name" and shell.controller.session.person is None
    hub.stop()  # the WAN drops: the pair is accepted for the counter to check
    j.tap(j.find("proxy_back"))
    j.tap(j.find("proxy_back"))
    j.tap(j.find("proxy_back"))
    j.on_screen("identify")
    j.tap(j.find("identify_continue"))
    j.on_screen("proxy")
    type_resident(j, RESIDENT_ID, RESIDENT_NAME)
    wait_until(lambda: shell.window.proxy.page == "auth", 30, "the offline acceptance")
    assert "未能核验" in shell.window.proxy.check_line.text()
    authorise(j, "grid_worker")
    result = submit_chronic(shell, j)
    assert result["payload"]["proxy"]["resident_check"] == "unverified"
    assert "未核验" in result["review"] and "网格员" in result["review"]
    assert "priority" not in result["payload"]  # nobody declared one, and the helper is 31


def test_the_residents_own_card_on_the_proxy_screen_and_everything_cleared_on_idle(kiosk_shell) -> None:
    from kiosk.ui.journey import Journey, wait_until

    shell, _ = kiosk_shell()
    j = Journey(shell.window, log=lambda _: None)
    helper_identifies(shell, j)
    insert(shell, HELPER_CARD)  # the helper's own card again: refused with a reason
    wait_until(lambda: "代办人本人" in shell.window.proxy.state.text(), 10, "the helper's card refused")
    remove(shell)
    insert(shell, RESIDENT_CARD)
    wait_until(lambda: shell.window.proxy.page == "auth", 10, "the resident's card")
    assert "读卡" in shell.window.proxy.check_line.text()
    authorise(j, "spouse")
    to_form(j)
    session = shell.controller.session
    assert session.person.id_number == RESIDENT_ID and session.helper.id_number == HELPER_ID
    shell.controller.on_idle_expired()  # the idle timeout's end: both persons gone
    assert session.person is None and session.helper is None and session.proxy is None and not session.proxy_mode
    proxy = shell.window.proxy
    assert proxy.helper_line.text() == "" and proxy.resident_line.text() == "" and proxy.id_editor.value() == ""
    assert not shell.window.identify.proxy_button.isChecked()


def test_a_declared_priority_alone_reaches_the_payload_the_ticket_and_the_front_of_the_line(kiosk_shell) -> None:
    from kiosk.ui.journey import Journey

    shell, _ = kiosk_shell()  # no hall: the kiosk's own queue
    queue = shell.runtime.queue
    earlier = queue.issue("chronic_disease", "门诊慢特病认定", "C", None)  # someone already waiting
    j = Journey(shell.window, log=lambda _: None)
    choose(j, "chronic_disease")
    insert(shell, HELPER_CARD)  # 李明, 31: no green channel by age
    j.wait_for_person()
    assert not shell.window.identify.priority_badge.isVisible()
    j.tap(j.find("priority_military"))
    assert shell.window.identify.priority_badge.isVisible()
    j.tap(j.find("identify_continue"))
    result = submit_chronic(shell, j)
    assert result["payload"]["priority"] == {"reason": "military", "self_declared": True}
    assert "proxy" not in result["payload"] and result["payload"]["applicant"]["id_number"] == HELPER_ID
    ticket = result["ticket"]
    assert ticket.priority_reason == "military" and "军人优先" in ticket.content.counter_hint
    assert [t.ticket_id for t in queue.waiting()][0] == ticket.ticket.ticket_id != earlier.ticket_id  # served first


def test_leaving_identify_with_the_switch_on_ends_proxy_mode(kiosk_shell) -> None:
    from kiosk.ui.journey import Journey

    shell, _ = kiosk_shell()
    j = Journey(shell.window, log=lambda _: None)
    choose(j, "chronic_disease")
    j.tap(j.find("identify_proxy"))
    insert(shell, HELPER_CARD)
    j.wait_for_person()
    j.tap(j.find("identify_back"))
    j.on_screen("home")
    assert not shell.controller.session.proxy_mode and not shell.window.identify.proxy_button.isChecked()
    j.choose_service("chronic_disease")  # the person read applies for themselves, as the menu says
    to_form(j)
    assert shell.controller.session.helper is None


def test_appointment_check_in_through_the_ui_and_the_hall(kiosk_shell, hall) -> None:
    from kiosk.ui.journey import Journey, wait_until

    with closing(clerk_client(hall.url)) as clerk:
        import datetime as dt

        booked = clerk.post("/api/appointments", json={"service": "chronic_disease", "day": dt.date.today().isoformat()}).json()
    shell, _ = kiosk_shell(hall={"url": hall.url, "token": TOKEN})
    j = Journey(shell.window, log=lambda _: None)
    checkin = shell.window.checkin

    def check_in(code: str, from_home: bool = False) -> None:
        if from_home:  # the home screen's own 预约签到 entry: no service to choose first
            j.on_screen("home")
            j.tap(j.find("home_checkin"))
        else:
            choose(j, "chronic_disease")
            j.tap(j.find("identify_checkin"))
        j.on_screen("checkin")
        for ch in code:
            j.tap(j.find(f"key_appointment_code_{ch}"))
        j.tap(j.find("checkin_submit"))

    check_in("1234")
    assert "8 位" in checkin.state.text()  # a short code never leaves the kiosk
    j.tap(j.find("checkin_back"))
    check_in(booked["code"])
    view = lambda: shell.controller.done_view  # noqa: E731
    j.on_screen("done")
    wait_until(lambda: bool(view().number) and not view().printing, 15, "the number")
    ticket = hall.service.queue.get(shell.controller.last_ticket.ticket.ticket_id)
    assert ticket.priority_reason == "appointment" and ticket.number == view().number and view().priority
    assert "预约优先" in shell.controller.last_ticket.content.counter_hint
    shell.controller.sign_out()
    check_in(booked["code"], from_home=True)  # used already
    wait_until(lambda: "已签到" in checkin.state.text(), 10, "the used code refused")
    shell.controller.sign_out()
    check_in("00000000" if booked["code"] != "00000000" else "11111111")
    wait_until(lambda: "不正确" in checkin.state.text(), 10, "the wrong code refused")
    shell.controller.sign_out()
    choose(j, "chronic_disease")  # a scanned code on the check-in screen is the appointment's
    j.tap(j.find("identify_checkin"))
    j.on_screen("checkin")
    shell.runtime.sims.qrscan.scan(booked["code"])
    wait_until(lambda: "已签到" in checkin.state.text(), 10, "the scanned code")


def test_check_in_with_the_hall_down_says_what_to_do(kiosk_shell) -> None:
    from kiosk.ui.journey import Journey, wait_until

    shell, _ = kiosk_shell(hall={"url": closed_port_url(), "token": TOKEN})
    j = Journey(shell.window, log=lambda _: None)
    choose(j, "chronic_disease")
    j.tap(j.find("identify_checkin"))
    for ch in "12345678":
        j.tap(j.find(f"key_appointment_code_{ch}"))
    j.tap(j.find("checkin_submit"))
    wait_until(lambda: "服务台" in shell.window.checkin.state.text(), 20, "the hall-down message")
    assert "预约码" in shell.window.checkin.state.text() and shell.window.checkin.submit.isEnabled()
