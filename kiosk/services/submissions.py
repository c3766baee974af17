"""The one way a submission enters the outbox — used by the UI and by `kiosk submit` alike."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from kiosk.config import Config
from kiosk.services.crypto import FieldCipher
from kiosk.services.outbox import OutboxEntry, OutboxStore


def outbox_path(config: Config) -> Path:
    return config.data_dir / "outbox.sqlite3"


def open_outbox(config: Config) -> OutboxStore:
    """The kiosk's outbox at <data_dir>/outbox.sqlite3 with the key at config.outbox_key_path."""
    return OutboxStore(outbox_path(config), FieldCipher.load_or_create(config.outbox_key_path))


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
