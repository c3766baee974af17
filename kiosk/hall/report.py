"""What the hall reports to the hub, through its own outbox (the same OutboxStore + Syncer as the
kiosk, so the WAN can be down all day and nothing is lost or sent twice).

Two kinds of item, both accepted by the hub's `POST /v1/submissions` today:
- kind "submission", service `hall_ticket`: one per finished ticket — outcome, note, counter,
  issued/first-called/finished times, waiting_s and handling_s, the linked submission id. The
  service code of the ticket is inside the payload, so hub figures per service stay separate
  from the kiosk's own submissions.
- kind "rating", service = the ticket's service: `kiosk.services.ratings.rating_payload` (the
  kiosk's one builder; reference = the linked submission id, else the ticket id) plus `ticket_id`,
  `counter`, `tags` and `source: "counter"`. No personal data.

Item ids are UUIDv5 of the ticket id and event (and the finish time), so a retried report is the
same item: idempotent all the way to the hub.
"""
from __future__ import annotations

import uuid
from typing import Any
from collections.abc import Callable

from kiosk.services.outbox import OutboxEntry, OutboxStore
from kiosk.services.queue import Ticket
from kiosk.services.ratings import rating_payload

HALL_TICKET_SERVICE = "hall_ticket"
_NAMESPACE = uuid.UUID("9b4f3c1e-2a57-4d0e-9a8e-5f1d7c6b2e10")


def _iso(value: Any) -> str | None:
    return value.isoformat(timespec="seconds") if value is not None else None


def outcome_payload(ticket: Ticket) -> dict[str, Any]:
    return {
        "event": "ticket_finished", "ticket_id": ticket.ticket_id, "number": ticket.number, "band": ticket.band,
        "service": ticket.service_code, "submission_id": ticket.submission_id, "priority": ticket.priority,
        "counter": ticket.counter, "outcome": ticket.outcome, "note": ticket.note or "",
        "issued_at": _iso(ticket.issued_at), "first_called_at": _iso(ticket.first_called_at),
        "finished_at": _iso(ticket.finished_at), "waiting_s": ticket.waiting_s, "handling_s": ticket.handling_s,
    }


def rating_item(ticket: Ticket, score: int, tags: list[str], counter: int | None) -> dict[str, Any]:
    reference = ticket.submission_id or ticket.ticket_id
    return {**rating_payload(ticket.service_code, reference, score, "、".join(tags)),
            "ticket_id": ticket.ticket_id, "counter": counter, "tags": list(tags), "source": "counter"}


class HallReporter:
    def __init__(self, outbox: OutboxStore, hall_id: str, wake: Callable[[], None] | None = None) -> None:
        self.outbox = outbox
        self.hall_id = hall_id
        self.wake = wake  # the sync worker's wake(): send now rather than at its next idle tick

    def _enqueue(self, item_id: str, service: str, payload: dict[str, Any], kind: str = "submission") -> OutboxEntry:
        entry = self.outbox.enqueue(item_id, service, self.hall_id, payload, kind=kind)
        if self.wake is not None:
            self.wake()
        return entry

    def ticket_finished(self, ticket: Ticket) -> OutboxEntry:
        event_id = str(uuid.uuid5(_NAMESPACE, f"{ticket.ticket_id}:finished:{_iso(ticket.finished_at)}:{ticket.outcome}"))
        return self._enqueue(event_id, HALL_TICKET_SERVICE, outcome_payload(ticket))

    def transferred(self, ticket: Ticket) -> OutboxEntry:
        # one transfer per call: the call it ended names it
        event_id = str(uuid.uuid5(_NAMESPACE, f"{ticket.ticket_id}:transferred:{_iso(ticket.called_at)}"))
        payload = {**outcome_payload(ticket), "event": "ticket_transferred", "route_band": ticket.route_band,
                   "route_counter": ticket.route_counter}
        return self._enqueue(event_id, HALL_TICKET_SERVICE, payload)

    def rating(self, ticket: Ticket, score: int, tags: list[str], counter: int | None) -> OutboxEntry:
        rating_id = str(uuid.uuid5(_NAMESPACE, f"{ticket.ticket_id}:rating"))
        return self._enqueue(rating_id, ticket.service_code, rating_item(ticket, score, tags, counter), kind="rating")
