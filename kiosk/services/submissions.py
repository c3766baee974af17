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


RELATION_LABELS_ZH = {"spouse": "配偶", "child": "子女", "relative": "亲属", "grid_worker": "网格员",
                      "village_cadre": "村干部", "other": "其他"}


def with_visit_context(payload: dict[str, Any], priority_reason: str | None, declared_priority: str | None,
                       proxy: Any = None) -> dict[str, Any]:
    """The payload with what the identify screen recorded (issue 19): the priority reason (and
    whether it was self-declared), and for 帮办代办 the helper — the same shape as `applicant`, so
    every output masks the helper's name and ID number exactly like the resident's — the relation,
    when the helper confirmed the resident's authorisation (委托), and how the resident was
    identified (card | hub | unverified: the counter checks an unverified resident)."""
    out = dict(payload)
    if priority_reason is not None:
        out["priority"] = {"reason": priority_reason, "self_declared": priority_reason == declared_priority}
    if proxy is not None:
        helper = proxy.helper
        out["proxy"] = {
            "helper": {"name": helper.name, "id_number": helper.id_number, "source": helper.source,
                       "birth_date": helper.birth_date.isoformat() if helper.birth_date else None},
            "relation": proxy.relation,
            "authorised_at": proxy.authorised_at.isoformat(timespec="seconds"),
            "resident_check": proxy.resident_check,
        }
    return out


def ticket_hint(priority_reason: str | None, application: dict[str, Any] | None) -> str:
    """The ticket's hint line: the priority reason and, for 代办, 代办 with the helper's masked name
    and the relation (the helper holds the ticket; the clerk sees whom they act for)."""
    from kiosk.privacy import mask_name
    from kiosk.services.queue import PRIORITY_LABELS_ZH

    parts = [PRIORITY_LABELS_ZH[priority_reason]] if priority_reason in PRIORITY_LABELS_ZH else []
    proxy = application.get("proxy") if isinstance(application, dict) else None
    if isinstance(proxy, dict) and isinstance(proxy.get("helper"), dict):
        relation = RELATION_LABELS_ZH.get(str(proxy.get("relation")), "")
        parts.append(f"代办：{mask_name(str(proxy['helper'].get('name', '')))}（{relation}）")
    return "  ".join(parts)


def reference(submission_id: str) -> str:
    """The 业务编号 the resident is shown and a counter finds the submission by."""
    return submission_id[:8].upper()
