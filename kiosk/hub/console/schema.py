"""The console's tables, created with the hub's own (one database, one engine, one transaction
for an item and its facts). Dialect words come from the HubStore subclass."""
from __future__ import annotations


def console_schema(real: str, serial: str, blob: str) -> list[str]:
    return [
        # clear, non-personal facts of each stored item (kiosk/hub/console/facts.py)
        f"""CREATE TABLE IF NOT EXISTS submission_facts (
            kiosk_id TEXT NOT NULL, id TEXT NOT NULL, category TEXT NOT NULL, service TEXT NOT NULL,
            day TEXT NOT NULL, at {real} NOT NULL, source TEXT NOT NULL, score INTEGER, band TEXT, event TEXT,
            outcome TEXT, waiting_s {real}, handling_s {real}, PRIMARY KEY (kiosk_id, id))""",
        # covering index for the figures: a month of a county's items is read from the index alone
        # (1M facts on SQLite: a month 125 ms instead of 900 ms with an index on day only)
        "DROP INDEX IF EXISTS submission_facts_day",
        """CREATE INDEX IF NOT EXISTS submission_facts_figures ON submission_facts(category, day, service, kiosk_id,
            score, band, event, waiting_s, handling_s)""",
        "CREATE INDEX IF NOT EXISTS submission_facts_id ON submission_facts(id)",
        "CREATE INDEX IF NOT EXISTS submission_facts_recent ON submission_facts(category, at, id)",  # the back office's newest first
        "CREATE TABLE IF NOT EXISTS hub_meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)",
        # which service point (station) a kiosk or hall belongs to: set by `kiosk hub add-kiosk`
        "CREATE TABLE IF NOT EXISTS kiosk_stations (kiosk_id TEXT PRIMARY KEY, station TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS kiosk_stations_station ON kiosk_stations(station)",
        f"""CREATE TABLE IF NOT EXISTS kiosk_heartbeats (kiosk_id TEXT PRIMARY KEY, last_seen {real} NOT NULL,
            body TEXT NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS console_staff (name TEXT PRIMARY KEY, role TEXT NOT NULL, station TEXT,
            password_hash TEXT NOT NULL, created_at {real} NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS console_sessions (token_hash TEXT PRIMARY KEY, name TEXT NOT NULL,
            role TEXT NOT NULL, station TEXT, csrf TEXT NOT NULL, created_at {real} NOT NULL, last_seen {real} NOT NULL)""",
        f"""CREATE TABLE IF NOT EXISTS console_audit (seq {serial}, at {real} NOT NULL, name TEXT NOT NULL,
            action TEXT NOT NULL, kiosk_id TEXT, submission_id TEXT, address TEXT, detail TEXT)""",
        # the back office's current state of an application, and every change (notes sealed)
        f"""CREATE TABLE IF NOT EXISTS application_states (kiosk_id TEXT NOT NULL, id TEXT NOT NULL,
            state TEXT NOT NULL, key_id TEXT NOT NULL, sealed_note {blob} NOT NULL, updated_at {real} NOT NULL,
            updated_by TEXT NOT NULL, change_seq BIGINT NOT NULL, PRIMARY KEY (kiosk_id, id))""",
        "CREATE INDEX IF NOT EXISTS application_states_state ON application_states(state)",
        f"""CREATE TABLE IF NOT EXISTS application_state_log (seq {serial}, kiosk_id TEXT NOT NULL, id TEXT NOT NULL,
            state TEXT NOT NULL, key_id TEXT NOT NULL, sealed_note {blob} NOT NULL, at {real} NOT NULL, name TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS application_state_log_kiosk ON application_state_log(kiosk_id, seq)",
    ]
