"""One resident's data never leaks into the next visit, and trouble after 提交成功 never loses
the number or sends the resident back to start (findings of the code review, kept as tests)."""
from __future__ import annotations

import time
from pathlib import Path

from drivers.idcard import protocol
from drivers.idcard.simulator import load_profile
from kiosk.ui.journey import Journey, click, wait_until

PROJECT = Path(__file__).resolve().parent.parent
ELDERLY = "assets/cards/idcard/resident.json"
YOUNG = "assets/cards/idcard/young_parent.json"


def found_empty_after(sim, since: float) -> bool:
    """The reader has asked the simulated reader "card there?" since `since` (and heard "no")."""
    return any(at > since and (cmd, para) == protocol.FIND_CARD for at, cmd, para in list(sim.device.requests))


def start_form(shell, profile: str, service: str) -> Journey:
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service(service)
    j.on_screen("identify")
    shell.runtime.sims.idcard.insert(load_profile(PROJECT / profile))
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("form")
    return j


def test_a_different_card_mid_form_closes_the_previous_session(kiosk_shell) -> None:
    shell, _ = kiosk_shell(hub=False)
    start_form(shell, ELDERLY, "enrol")
    sim = shell.runtime.sims.idcard
    sim.remove()
    removed = time.monotonic()
    # the reader must see the field empty before it reads the next card
    wait_until(lambda: found_empty_after(sim, removed), 10, "a poll of the empty reader")
    sim.insert(load_profile(PROJECT / YOUNG))  # somebody else's card while 张三's form is open
    wait_until(lambda: shell.controller.session.person and shell.controller.session.person.id_number == "320682199506120038",
               10, "the new resident")
    assert shell.window.current.name == "identify"
    assert shell.window.form.editors == [] and shell.controller.session.form is None


def test_results_of_a_finished_visit_are_dropped(kiosk_shell) -> None:
    shell, _ = kiosk_shell(hub=False)
    seen = []
    shell.controller.for_this_visit(seen.append)("A's record, in time")  # delivered while A is here
    late = shell.controller.for_this_visit(seen.append)
    shell.controller.sign_out()
    late("A's record, late")  # A has gone: dropped, never on B's screen
    shell.controller.for_this_visit(seen.append)("B's record")
    assert seen == ["A's record, in time", "B's record"]


def test_a_print_that_raises_still_leaves_the_number_and_reprint(kiosk_shell, monkeypatch) -> None:
    shell, _ = kiosk_shell(hub=False)
    j = start_form(shell, YOUNG, "transfer")
    queue = shell.runtime.queue
    monkeypatch.setattr(queue, "mark_printed", lambda ticket_id: (_ for _ in ()).throw(OSError("disk")))
    j.fill_form({"direction": "in", "phone": "13812345678"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.print_error, 15, "the print problem")
    assert shell.window.current.name == "done" and shell.window.done.number.text().startswith("C")
    assert shell.window.done.reprint.isVisible()
    assert [t.number for t in queue.reprint_candidates()] == [shell.window.done.number.text()]


def test_undo_takes_the_ticket_out_of_the_queue(kiosk_shell) -> None:
    shell, _ = kiosk_shell(hub=False)  # offline: the submission is still in the outbox
    j = start_form(shell, YOUNG, "transfer")
    j.fill_form({"direction": "out", "phone": "13812345678"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.number and not shell.controller.done_view.printing, 15, "the ticket")
    click(j.find("done_undo"))
    wait_until(lambda: shell.controller.done_view.undone, 10, "the undo")
    assert shell.runtime.queue.waiting() == []


def test_review_masks_free_text_names(kiosk_shell) -> None:
    shell, _ = kiosk_shell(hub=False)
    j = start_form(shell, YOUNG, "newborn")
    j.fill_form({"relationship": "father", "baby_name": "李小宝", "baby_birth_date": None, "consent": True})
    j.on_screen("review")
    shown = " ".join(w.text() for w in shell.window.review.sheet.findChildren(type(shell.window.review.heading)))
    assert "李小宝" not in shown and "李**" in shown
