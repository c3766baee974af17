"""A ticket's ESC/POS bytes and the picture of them, as the printer simulator renders it.

The done screen shows this preview beside the printed ticket; the screen tour and the docs'
screenshots use it with sample data. Lives in the translation layer so the UI needs no driver.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TicketPicture:
    """The preview as raw RGB rows: the done screen copies them straight into a pixmap, where a PNG
    cost ~30 ms to encode and ~15–25 ms to decode again, with the GIL held (issue 20)."""

    width: int
    height: int
    rgb: bytes

    def __repr__(self) -> str:
        return f"TicketPicture({self.width}x{self.height})"


def ticket_stream_and_picture(content: Any, width_chars: int = 32) -> tuple[bytes, TicketPicture]:
    """`content`: a `drivers.printer.ticket.TicketContent`. Returns (ESC/POS stream, picture)."""
    from drivers.printer.preview import render_preview
    from drivers.printer.ticket import encode_ticket

    stream = encode_ticket(content, width_chars)
    image = render_preview(stream, width_chars).convert("RGB")
    return stream, TicketPicture(image.width, image.height, image.tobytes())


def sample_ticket_picture(service_point: str, service_name: str, number: str, people_ahead: int, wait_min: int,
                          issued_at: Any, priority: bool, ticket_id: str) -> TicketPicture:
    """The preview of a ticket made from plain values (screen tour, screenshots)."""
    from drivers.printer.ticket import TicketContent

    content = TicketContent(service_point, service_name, number, people_ahead, wait_min, issued_at, priority, ticket_id)
    return ticket_stream_and_picture(content)[1]
