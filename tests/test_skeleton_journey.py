"""The walking skeleton, through the UI with clicks: card → service → form → outbox → ticket → hub.

Every device is its simulator behind the real transport (pty), the hub is a real HTTP server on
127.0.0.1, and the assertions look at what each end actually received.
"""
from __future__ import annotations

from pathlib import Path

import pytest

from kiosk.ui.journey import Journey, click, wait_until

PROJECT = Path(__file__).resolve().parent.parent
ELDERLY_ID = "110105195003070019"  # assets/cards/idcard/resident.json


@pytest.fixture
def kiosk(kiosk_shell):
    from drivers.idcard.simulator import load_profile

    shell, hub = kiosk_shell()
    shell.insert_card = lambda path="assets/cards/idcard/resident.json": shell.runtime.sims.idcard.insert(load_profile(PROJECT / path))
    return shell, hub


def test_resident_journey_end_to_end(kiosk) -> None:
    shell, hub = kiosk
    window, sims = shell.window, shell.runtime.sims
    j = Journey(window, log=lambda _: None)

    j.on_screen("home")
    shell.insert_card()  # the resident places the card first
    j.on_screen("identify")
    j.wait_for_person()
    assert window.identify.id_value.text() == "110105********0019"  # masked on screen
    assert window.identify.name_value.text() == "张*"
    assert window.metrics.elderly  # 76 years old: 长辈版 switched on by itself
    click(j.find("identify_continue"))
    j.on_screen("home")
    j.choose_service("chronic_disease")
    j.on_screen("form")
    j.fill_form({"disease": "diabetes", "hospitals": ["h_township", "h_county_tcm"], "phone": "13912345678"})
    j.on_screen("review")
    submission_id = shell.controller.session.submission_id
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.number and not shell.controller.done_view.printing, 15, "the ticket")
    assert not shell.controller.done_view.print_error

    # The ticket on paper: the simulator parsed the ESC/POS bytes it received.
    assert sims.printer.wait_for_tickets(1)
    ticket = sims.printer.tickets[0]
    number = shell.controller.done_view.number
    assert number.startswith("C") and number in ticket.text
    assert "门诊慢特病认定" in ticket.text and "绿色通道" in ticket.text
    assert ticket.qr_payloads == [shell.controller.last_ticket.ticket.ticket_id]
    assert ticket.cut
    assert window.done.number.text() == number
    # Beside it, the picture of what was printed (decoded on the printer lane, shown scaled).
    assert window.done.preview.ticket is not None and not window.done.preview.ticket.isNull()
    assert window.done.preview.ticket.height() > window.done.preview.ticket.width()  # a slip of paper

    # The outbox row, committed before the screen said 提交成功, then acknowledged by the hub.
    wait_until(lambda: shell.runtime.outbox.get(submission_id).state == "acked", 20, "the hub to acknowledge")
    entry = shell.runtime.outbox.get(submission_id)
    assert entry.service == "chronic_disease"
    assert entry.payload["answers"] == {"disease": "diabetes", "hospitals": ["h_township", "h_county_tcm"], "phone": "13912345678"}
    assert entry.payload["applicant"]["id_number"] == ELDERLY_ID

    # The hub's copy is the same submission, once.
    stored = hub.store.payload(submission_id)
    assert stored == entry.payload
    assert hub.store.ids().count(submission_id) == 1
    wait_until(lambda: window.status.online and window.status.pending_count == 0, 10, "the status strip to show synced")

    # Leaving clears the resident from the screens.
    click(j.find("done_home"))
    j.on_screen("home")
    assert shell.controller.session.person is None
    assert window.identify.id_value.text() == "" and not window.greeting.isVisible()


def test_ticket_print_failure_keeps_number_and_offers_reprint(kiosk) -> None:
    shell, hub = kiosk
    window, sims = shell.window, shell.runtime.sims
    j = Journey(window, log=lambda _: None)
    j.on_screen("home")
    j.choose_service("transfer")
    j.on_screen("identify")
    shell.insert_card("assets/cards/idcard/young_parent.json")
    j.wait_for_person()
    assert not window.metrics.elderly
    click(j.find("identify_continue"))
    j.on_screen("form")
    sims.printer.paper = "out"
    j.fill_form({"direction": "in", "phone": "13812345678"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.print_error, 15, "the print failure")
    number = window.done.number.text()
    assert number.startswith("C") and window.done.reprint.isVisible()
    assert "缺纸" in window.done.message.text() and "。。" not in window.done.message.text()
    assert window.status.device_state["printer"] == "error"  # the strip tells staff, from the same print
    sims.printer.paper = "ok"
    click(j.find("done_reprint"))
    wait_until(lambda: not shell.controller.done_view.printing and not shell.controller.done_view.print_error, 15, "the reprint")
    wait_until(lambda: window.status.device_state["printer"] == "ok", 5, "the strip to clear the printer fault")
    assert [t for t in sims.printer.tickets if number in t.text]
    assert shell.runtime.queue.reprint_candidates() == []



def test_status_poll_clears_the_printer_fault_when_paper_is_back(kiosk) -> None:
    shell, _hub = kiosk
    window, sims = shell.window, shell.runtime.sims
    sims.printer.paper = "out"
    shell.controller.refresh_printer_state()
    wait_until(lambda: window.status.device_state["printer"] == "error", 10, "the paper-out state")
    sims.printer.paper = "ok"
    shell.controller._printer_poll.setInterval(50)  # the 20 s poll, sped up
    wait_until(lambda: window.status.device_state["printer"] == "ok", 10, "the poll to clear the fault")


def test_default_mode_elderly_starts_every_visit_in_large_text(kiosk_shell) -> None:
    shell, _hub = kiosk_shell(display={"default_mode": "elderly"})
    window = shell.window
    assert window.metrics.elderly and window.home.elderly_entry.isChecked()
    click(window.home.elderly_entry)  # this resident prefers standard size
    assert not window.metrics.elderly
    shell.controller.sign_out()
    assert window.metrics.elderly  # the next visit starts in the site's default again


def test_elderly_entry_on_home_holds_for_the_whole_visit(kiosk) -> None:
    shell, _hub = kiosk
    window = shell.window
    j = Journey(window, log=lambda _: None)
    j.on_screen("home")
    assert not window.metrics.elderly
    click(j.find("home_elderly"))  # the big entry, before any card
    assert window.metrics.elderly and window.header_buttons.isVisible()
    j.choose_service("transfer")
    j.on_screen("identify")
    assert window.identify.elderly_entry.isChecked()
    shell.insert_card("assets/cards/idcard/young_parent.json")  # a young resident keeps their choice
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("form")
    assert window.metrics.elderly
