"""Paper runs out mid-ticket: the number stays valid, is listed for reprint, no ghost, no gap."""
from datetime import datetime

from drivers.printer.printer import TicketPrinter
from drivers.printer.simulator import PrinterSimulator
from kiosk.config import QueueSection
from kiosk.services.queue import QueueService


def test_paper_out_during_print_then_reprint(tmp_path):
    clock = lambda: datetime(2024, 5, 1, 9, 0)  # noqa: E731
    queue = QueueService(tmp_path / "queue.sqlite3", QueueSection(), 65, clock=clock)
    sim = PrinterSimulator()
    try:
        printer = TicketPrinter(sim.start_pty())
        ticket = queue.issue("SB01", "参保登记", "A", None)
        sim.run_out_after(3)  # paper ends after three printed lines of this ticket
        outcome = printer.print_ticket(queue.ticket_content(ticket, "示范站"))
        assert not outcome.ok
        assert outcome.error_code == "PRINTER_PAPER_OUT_DURING"
        assert "号码仍然有效" in outcome.message_zh and "reprint" in outcome.message_en
        assert outcome.status_before.paper == "ok" and outcome.status_after.paper == "out"
        queue.mark_print_failed(ticket.ticket_id, outcome.error_code)
        assert sim.wait_for_tickets(1) and sim.tickets == [] and len(sim.spoiled) == 1

        assert [t.number for t in queue.reprint_candidates()] == ["A001"]
        assert [t.number for t in queue.waiting()] == ["A001"]  # still in the queue, not a ghost

        assert not printer.print_ticket(queue.ticket_content(ticket, "示范站")).ok  # still out: refused
        sim.reload_paper()
        again = printer.print_ticket(queue.ticket_content(ticket, "示范站"))
        assert again.ok
        queue.mark_printed(ticket.ticket_id)
        assert queue.reprint_candidates() == []
        assert sim.wait_for_tickets(2)
        (printed,) = sim.tickets
        assert "A001" in printed.lines and printed.qr_payloads == [ticket.ticket_id]

        following = queue.issue("SB01", "参保登记", "A", None)
        assert following.number == "A002"  # no duplicate, no skipped number
        printer.close()
    finally:
        sim.stop()
        queue.close()
