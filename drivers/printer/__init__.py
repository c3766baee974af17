"""ESC/POS queue-ticket printer: encoder, status parsing, driver, simulator and PNG preview."""
from drivers.printer.printer import PrinterError, PrintOutcome, TicketPrinter
from drivers.printer.status import PrinterStatus
from drivers.printer.ticket import TicketContent, encode_ticket

__all__ = ["PrintOutcome", "PrinterError", "PrinterStatus", "TicketContent", "TicketPrinter", "encode_ticket"]
