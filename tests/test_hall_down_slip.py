"""The hall unreachable after a submission is stored (issue 17): the submission is in the outbox, the
done screen says what to do, and the printed slip — read back by the printer simulator — carries
the 业务编号 and 请到窗口出示此凭条 / show this slip at the counter, so the clerk finds the
application. Also the slip's layout by itself (exact text lines, no number, no waiting lines)."""
from __future__ import annotations

import socket
import uuid
from datetime import datetime
from pathlib import Path

from drivers.printer.simulator import parse_escpos, split_tickets
from drivers.printer.ticket import SLIP_LINES, TicketContent, encode_ticket

PROJECT = Path(__file__).resolve().parent.parent
YOUNG = "assets/cards/idcard/young_parent.json"
CHRONIC = {"disease": "diabetes", "hospitals": ["h_township", "h_county_tcm"], "phone": "13912345678"}


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{s.getsockname()[1]}"


def test_the_slip_layout_carries_the_reference_and_says_show_it_at_the_counter() -> None:
    submission_id = str(uuid.uuid4())
    content = TicketContent(service_point="示范镇医保服务站", service_name="门诊慢特病认定", number="", people_ahead=0,
                            estimated_wait_min=0, issued_at=datetime(2026, 12, 2, 9, 30), priority=False,
                            ticket_id=submission_id, reference=submission_id[:8].upper(), checklist=("身份证",))
    (slip,) = split_tickets(parse_escpos(encode_ticket(content)))
    assert submission_id[:8].upper() in slip.lines and "业务编号" in slip.lines
    for line in SLIP_LINES:
        assert line in slip.lines
    assert "请到窗口出示此凭条" in slip.lines and "Show this slip at the counter" in slip.lines
    assert "提交时间：2026-12-02 09:30" in slip.lines
    assert not any(line.startswith(("前面等候", "预计等候", "取号时间")) for line in slip.lines)  # no number, no wait
    assert slip.qr_payloads == [submission_id] and slip.cut and "□ 身份证" in slip.lines
    numbered = encode_ticket(TicketContent("点", "业务", "A001", 0, 0, datetime(2026, 12, 2), False, "t"))
    assert SLIP_LINES[1].encode("gb18030") not in numbered  # a numbered ticket is unchanged


def test_hall_down_the_submission_is_stored_and_the_slip_carries_its_reference(kiosk_shell) -> None:
    from drivers.idcard.simulator import load_profile

    from kiosk.ui.journey import Journey, click, play_chronic_disease, wait_until

    shell, hub = kiosk_shell(hall={"url": closed_port_url(), "token": "hall-test-token-0123456789"})
    hub.stop()  # the WAN down too: the submission waits in the outbox (and can still be withdrawn)
    printer = shell.runtime.sims.printer
    place = lambda: shell.runtime.sims.idcard.insert(load_profile(PROJECT / YOUNG))  # noqa: E731
    view = lambda: shell.controller.done_view  # noqa: E731
    j = Journey(shell.window, log=lambda _: None)
    play_chronic_disease(j, place, CHRONIC, lambda: view().settled)
    submission_id = view().reference
    reference = submission_id[:8].upper()
    entry = shell.runtime.outbox.get(submission_id)
    assert entry is not None and entry.state == "pending" and entry.payload["answers"]["disease"] == "diabetes"
    assert view().saved and not view().number and view().slip and not view().print_error

    assert printer.wait_for_tickets(1, 10)
    (slip,) = printer.tickets
    assert reference in slip.lines and "请到窗口出示此凭条" in slip.lines and "Show this slip at the counter" in slip.lines
    assert slip.qr_payloads == [submission_id]
    assert parse_escpos(bytes(printer.received))  # the bytes on the wire are what was parsed

    message = shell.window.done.message.text()
    assert reference in message and "到窗口办理" in message and "凭条" in message, message
    assert not shell.window.done.ticket_card.isVisible()  # no made-up number

    shell.controller.on_reprint()  # 重新打印 prints the slip again
    wait_until(lambda: len(printer.tickets) >= 2 and not view().printing, 10, "the slip reprinted")
    assert reference in printer.tickets[-1].lines

    click(j.find("done_undo"))  # 撤回 a slip: the submission is withdrawn; there is no hall ticket to withdraw
    wait_until(lambda: view().undone, 10, "the withdrawal")
