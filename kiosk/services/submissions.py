"""The one way a submission enters the outbox — used by the UI and by `kiosk submit` alike —
and the ticket linked to it, issued only after the submission is stored (kiosk.services.ticket_desk:
the hall when `[hall] url` is set, else the local queue)."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.services.outbox import OutboxEntry, OutboxStore


def outbox_path(config: Config) -> Path:
    return config.data_dir / "outbox.sqlite3"


def open_outbox(config: Config, create_key: bool = True) -> OutboxStore:
    """The kiosk's outbox at <data_dir>/outbox.sqlite3 with the key at config.outbox_key_path.
    A key is created only while the outbox holds no rows (and `create_key`); with rows and no
    fitting key the store opens for status but refuses enqueue and sync (`OutboxKeyError`)."""
    return OutboxStore(outbox_path(config), None, key_path=config.outbox_key_path, create_key=create_key)


def submit(config: Config, service_code: str, data: dict[str, Any], submission_id: str | None = None,
           kind: str = "submission", store: OutboxStore | None = None) -> OutboxEntry:
    """Durably enqueue; returns once committed. Pass the id made when the form started (the UI
    does) so a repeated tap or a retry after a crash cannot create a second submission."""
    own = store is None
    store = store or open_outbox(config)
    try:
        return store.enqueue(submission_id or store.new_submission_id(), service_code, config.kiosk.id, data, kind=kind)
    finally:
        if own:
            store.close()


def linked_ticket(config: Config, form: Any, submission_id: str, payload: dict[str, Any],
                  priority_reason: str | None = None, desk: Any = None) -> Any:
    """The queue ticket for a stored submission (a DeskTicket); a repeat with the same id gets the
    same ticket. Raises HallUnavailable when the hall cannot be reached — the submission stays
    stored, and the resident goes to the counter with the 业务编号 (`reference`)."""
    from kiosk.services.ticket_desk import open_desk

    own = desk is None
    desk = desk or open_desk(config)
    try:
        return desk.issue(form, priority_reason, submission_id, payload)
    finally:
        if own:
            desk.close()


def reference(submission_id: str) -> str:
    """The 业务编号 the resident is shown and a counter finds the submission by."""
    return submission_id[:8].upper()
