"""A ticket's ESC/POS bytes and the picture of them, as the printer simulator renders it.

The done screen shows this preview beside the printed ticket; the screen tour and the docs'
screenshots use it with sample data. Lives in the translation layer so the UI needs no driver.
"""
from __future__ import annotations

import io
from typing import Any


def ticket_stream_and_png(content: Any, width_chars: int = 32) -> tuple[bytes, bytes]:
    """`content`: a `drivers.printer.ticket.TicketContent`. Returns (ESC/POS stream, PNG)."""
    from drivers.printer.preview import render_preview
    from drivers.printer.ticket import encode_ticket

    stream = encode_ticket(content, width_chars)
    buffer = io.BytesIO()
    render_preview(stream, width_chars).save(buffer, format="PNG")
    return stream, buffer.getvalue()


def sample_ticket_png(service_point: str, service_name: str, number: str, people_ahead: int, wait_min: int,
                      issued_at: Any, priority: bool, ticket_id: str) -> bytes:
    """The preview of a ticket made from plain values (screen tour, screenshots)."""
    from drivers.printer.ticket import TicketContent

    content = TicketContent(service_point, service_name, number, people_ahead, wait_min, issued_at, priority, ticket_id)
    return ticket_stream_and_png(content)[1]
