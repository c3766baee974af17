"""Parser, simulated printer over a real pty and TCP, fault switches, PNG preview."""
import time
from datetime import datetime

import cv2
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from drivers.diagnostics import CheckStatus
from drivers.printer.preview import render_preview
from drivers.printer.printer import TicketPrinter
from drivers.printer.simulator import (Cut, EscPosParser, Feed, PrinterSimulator, QrCode, StatusQuery, TextLine,
                                       parse_escpos, start_simulated_printer)
from drivers.printer.status import PrinterStatus
from drivers.printer.ticket import TicketContent, encode_ticket

CONTENT = TicketContent("示范镇医保服务站", "待遇报销", "B007", 2, 16, datetime(2024, 5, 1, 14, 5), True,
                        "5a1e7c52-2c1b-4a35-9b7d-0f3e6a9c1d22", footer="请留意叫号")


@pytest.fixture
def sim():
    simulator = PrinterSimulator()
    yield simulator
    simulator.stop()


def test_parser_vectors():
    stream = (b"\x1b@\x1c&\x1bE\x01\x1ba\x01" + "医保".encode("gb18030") + b"\n\x1bE\x00\x1d!\x11A1\n"
              b"\x1d(k\x03\x001C\x05\x1d(k\x06\x001P0xyz\x1d(k\x03\x001Q0\x10\x04\x04\x1bd\x03\x1dVB\x00")
    assert parse_escpos(stream) == [
        TextLine("医保", bold=True, align="center"), TextLine("A1", width=2, height=2, align="center"),
        QrCode("xyz", 5), StatusQuery(4), Feed(3), Cut(partial=True),
    ]


def test_unknown_commands_are_skipped():
    stream = b"\x1b@ab\x1bZ\x1d\xf0\x1c\x99\x1b*\x00\x02\x00\xff\xffc\n"
    assert parse_escpos(stream) == [TextLine("abc")]


@given(st.binary(max_size=400), st.lists(st.integers(1, 50), max_size=20))
@settings(max_examples=300, deadline=None)
def test_garbage_never_crashes_and_chunking_does_not_matter(stream, cuts):
    whole = parse_escpos(stream)
    parser, pieces, i = EscPosParser(), [], 0
    for size in cuts:
        pieces += parser.feed(stream[i:i + size])
        i += size
    pieces += parser.feed(stream[i:]) + parser.flush()
    assert pieces == whole


def test_round_trip_over_real_pty(sim):
    url = sim.start_pty()
    assert url.startswith("/dev/")
    with TicketPrinter(url) as printer:
        outcome = printer.print_ticket(CONTENT)
    assert outcome.ok and outcome.confirmed, outcome
    assert sim.wait_for_tickets(1)
    (ticket,) = sim.tickets
    assert "B007" in ticket.lines and "待遇报销" in ticket.lines
    assert "★ 绿色通道 优先" in ticket.lines
    assert "前面等候：2 人" in ticket.lines and "预计等候：约 16 分钟" in ticket.lines
    assert ticket.qr_payloads == [CONTENT.ticket_id]
    assert ticket.cut
    assert bytes(sim.received).count(encode_ticket(CONTENT)) == 1


def test_round_trip_over_raw_tcp_and_serial_prefix(sim):
    tcp = sim.start_tcp()
    pty_path = sim.start_pty()
    for url in (tcp, f"serial:{pty_path}"):
        with TicketPrinter(url) as printer:
            assert printer.print_ticket(CONTENT).ok
    assert sim.wait_for_tickets(2)
    assert [t.qr_payloads for t in sim.tickets] == [[CONTENT.ticket_id]] * 2


def test_offline_and_paper_out_refuse_before_sending(sim):
    url = sim.start_pty()
    with TicketPrinter(url) as printer:
        sim.offline = True
        outcome = printer.print_ticket(CONTENT)
        assert not outcome.ok and outcome.error_code == "PRINTER_OFFLINE" and "号码仍然有效" in outcome.message_zh
        sim.offline, sim.paper = False, "out"
        outcome = printer.print_ticket(CONTENT)
        assert not outcome.ok and outcome.error_code == "PRINTER_PAPER_OUT" and "缺纸" in outcome.message_zh
        assert printer.status() == PrinterStatus(True, "out")
    assert encode_ticket(CONTENT) not in bytes(sim.received)  # refused: nothing was sent


def test_near_end_prints_and_self_test_warns(sim):
    url = sim.start_pty()
    sim.paper = "near_end"
    with TicketPrinter(url) as printer:
        assert printer.print_ticket(CONTENT).ok
        checks = {c.name: c for c in printer.self_test()}
    assert checks["printer.connection"].status is CheckStatus.OK
    assert checks["printer.status"].status is CheckStatus.DEGRADED and "near end" in checks["printer.status"].detail


def test_silent_printer_is_unknown_not_ok(sim):
    url = sim.start_pty()
    sim.silent = True
    with TicketPrinter(url, status_timeout_s=0.2) as printer:
        started = time.monotonic()
        assert printer.status() == PrinterStatus.unknown()
        assert time.monotonic() - started < 1.0  # one timeout, not one per query
        outcome = printer.print_ticket(CONTENT)
        checks = {c.name: c for c in printer.self_test()}
    assert outcome.ok and not outcome.confirmed  # best effort: sent, but nobody confirmed it
    assert checks["printer.status"].status is CheckStatus.DEGRADED


def test_unreachable_printer_is_an_outcome_not_an_exception(tmp_path):
    with TicketPrinter(str(tmp_path / "no-such-tty")) as printer:
        outcome = printer.print_ticket(CONTENT)
        assert printer.status() == PrinterStatus.unknown()
        assert printer.self_test()[0].status is CheckStatus.ERROR
    assert not outcome.ok and outcome.error_code == "PRINTER_IO" and outcome.message_zh


def test_file_backend_appends_exact_bytes(tmp_path):
    path = tmp_path / "spool.bin"
    with TicketPrinter(f"file:{path}") as printer:
        assert printer.print_ticket(CONTENT).ok
        assert printer.print_ticket(CONTENT).ok
        assert [c.status for c in printer.self_test()] == [CheckStatus.OK, CheckStatus.OK]
    assert path.read_bytes() == encode_ticket(CONTENT) * 2


def test_usb_without_pyusb_is_disabled_with_a_message():
    pytest.importorskip("escpos")
    try:
        import usb  # noqa: F401
        pytest.skip("pyusb is installed here")
    except ImportError:
        pass
    printer = TicketPrinter("usb:0416:5011")
    (check,) = printer.self_test()
    assert check.status is CheckStatus.MISSING and "pyusb" in check.detail
    outcome = printer.print_ticket(CONTENT)
    assert not outcome.ok and outcome.error_code == "PRINTER_USB_UNAVAILABLE"


def test_sim_url_helper_gives_a_working_printer():
    url, simulator = start_simulated_printer()
    try:
        with TicketPrinter(url) as printer:
            assert printer.status() == PrinterStatus(True, "ok")
            assert printer.print_ticket(CONTENT).ok
        assert simulator.wait_for_tickets(1)
    finally:
        simulator.stop()


def test_preview_is_paper_width_with_readable_qr():
    image = render_preview(encode_ticket(CONTENT), width_chars=32, scale=2)
    assert image.width == (32 * 12 + 24) * 2
    assert image.height > image.width  # a ticket strip, not a blank
    pixels = cv2.cvtColor(np.array(image), cv2.COLOR_RGB2BGR)
    payload, _, _ = cv2.QRCodeDetector().detectAndDecode(pixels)
    assert payload == CONTENT.ticket_id
    gray = np.array(image.convert("L"))
    ink_rows = np.where((gray < 128).any(axis=1))[0]
    assert len(ink_rows) > 200  # text lines and the QR left ink
