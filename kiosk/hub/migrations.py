"""Versioned, additive schema migrations for the hub database (SQLite and PostgreSQL alike).

The tables the hub has always had are created by `HubStore._schema()` (version 1, the baseline,
`CREATE … IF NOT EXISTS`). Every later change is one `Migration` here: a number, a name and the
statements (in the store's dialect words) or a function. `apply_migrations` runs at start, in one
transaction per migration, the migrations whose number is above the highest row of
`schema_version`, and records each one. Migrations only add (tables, columns, indexes), so an
older hub binary keeps working on a newer database and a half-upgraded fleet never loses a row.

Several `kiosk hub serve --workers N` processes (or hubs) starting together: on PostgreSQL the
migrations run under a transaction-level advisory lock, on SQLite under the database's write
lock (`BEGIN IMMEDIATE` semantics of the first write), and a migration already recorded by
another process is skipped.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

BASELINE = 1
_ADVISORY_KEY = 0x6B696F736B  # "kiosk": one lock id for the hub's migrations


@dataclass(frozen=True)
class Dialect:
    real: str
    serial: str
    blob: str
    postgres: bool


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    statements: Callable[[Dialect], list[str]]


def _followups(d: Dialect) -> list[str]:
    """Issue 18: every 差评 (score ≤ 2) is a follow-up item; its state and each change (notes sealed)."""
    return [
        f"""CREATE TABLE IF NOT EXISTS rating_followups (kiosk_id TEXT NOT NULL, id TEXT NOT NULL,
            state TEXT NOT NULL, key_id TEXT NOT NULL, sealed_note {d.blob} NOT NULL, updated_at {d.real} NOT NULL,
            updated_by TEXT NOT NULL, first_action_at {d.real}, closed_at {d.real}, PRIMARY KEY (kiosk_id, id))""",
        "CREATE INDEX IF NOT EXISTS rating_followups_state ON rating_followups(state)",
        f"""CREATE TABLE IF NOT EXISTS rating_followup_log (seq {d.serial}, kiosk_id TEXT NOT NULL, id TEXT NOT NULL,
            state TEXT NOT NULL, key_id TEXT NOT NULL, sealed_note {d.blob} NOT NULL, at {d.real} NOT NULL,
            name TEXT NOT NULL)""",
        "CREATE INDEX IF NOT EXISTS rating_followup_log_item ON rating_followup_log(kiosk_id, id, seq)",
        # the follow-up list: a point's 差评 newest first, without reading its other ratings
        "CREATE INDEX IF NOT EXISTS submission_facts_ratings ON submission_facts(category, score, at)",
    ]


def _notifications(d: Dialect) -> list[str]:
    """Issue 18 (close the loop): SMS notices of 办结 / 退回补正, queued in the same transaction as
    the state change, sent by kiosk/hub/notify.py. No personal data in the row: the phone and the
    name are read from the sealed submission when the notice is sent."""
    return [
        f"""CREATE TABLE IF NOT EXISTS notify_queue (seq {d.serial}, kiosk_id TEXT NOT NULL, id TEXT NOT NULL,
            state TEXT NOT NULL, change_seq BIGINT NOT NULL, status TEXT NOT NULL, created_at {d.real} NOT NULL,
            next_at {d.real} NOT NULL, attempts INTEGER NOT NULL, claimed_until {d.real}, sent_at {d.real},
            provider_id TEXT, last_error TEXT)""",
        "CREATE UNIQUE INDEX IF NOT EXISTS notify_queue_change ON notify_queue(kiosk_id, id, change_seq)",
        "CREATE INDEX IF NOT EXISTS notify_queue_due ON notify_queue(status, next_at)",
    ]


def _fact_buckets(d: Dialect) -> list[str]:
    """Figures by week and month (issue 18): the figures group by `day`, week and month are
    computed from the day in Python, so only an index on (category, day) per station is needed."""
    return ["CREATE INDEX IF NOT EXISTS submission_facts_kiosk_day ON submission_facts(kiosk_id, category, day)"]


_ROLLUP_KEY = "day, kiosk_id, category, service, score, band, event"
_ROLLUP_VALUES = "day, kiosk_id, category, service, COALESCE(score, 0), COALESCE(band, ''), COALESCE(event, '')"


def _daily_rollup(d: Dialect) -> list[str]:
    """Counts per day × kiosk × category × service × score/band/event, kept by a trigger on every
    insert into submission_facts (whatever the code path: intake, backfill, bulk loads), so the
    figures' counts over a year read a few thousand rows instead of a million (issue 18: rollup
    tables, not full scans). PostgreSQL: statement-level triggers with transition tables (a
    batch of 200 items is one grouped upsert); SQLite: row triggers. Deletes count down."""
    table = """CREATE TABLE IF NOT EXISTS facts_daily (day TEXT NOT NULL, kiosk_id TEXT NOT NULL, category TEXT NOT NULL,
        service TEXT NOT NULL, score INTEGER NOT NULL, band TEXT NOT NULL, event TEXT NOT NULL, n BIGINT NOT NULL,
        PRIMARY KEY (category, day, kiosk_id, service, score, band, event))"""
    backfill = (f"INSERT INTO facts_daily ({_ROLLUP_KEY}, n) SELECT {_ROLLUP_VALUES}, COUNT(*) FROM submission_facts "
                f"GROUP BY {_ROLLUP_VALUES}")
    if d.postgres:
        return [table, "DELETE FROM facts_daily", backfill, f"""CREATE OR REPLACE FUNCTION facts_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                INSERT INTO facts_daily ({_ROLLUP_KEY}, n)
                SELECT {_ROLLUP_VALUES}, COUNT(*) FROM new_facts GROUP BY {_ROLLUP_VALUES}
                ON CONFLICT (category, day, kiosk_id, service, score, band, event)
                DO UPDATE SET n = facts_daily.n + excluded.n;
                RETURN NULL;
            END $$""",
                "DROP TRIGGER IF EXISTS facts_daily_insert ON submission_facts",
                """CREATE TRIGGER facts_daily_insert AFTER INSERT ON submission_facts
                   REFERENCING NEW TABLE AS new_facts FOR EACH STATEMENT EXECUTE FUNCTION facts_daily_add()""",
                f"""CREATE OR REPLACE FUNCTION facts_daily_remove() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                UPDATE facts_daily d SET n = d.n - o.n FROM
                    (SELECT {_ROLLUP_VALUES.replace("COALESCE(score, 0)", "COALESCE(score, 0) AS score").replace(
                        "COALESCE(band, '')", "COALESCE(band, '') AS band").replace("COALESCE(event, '')", "COALESCE(event, '') AS event")},
                            COUNT(*) AS n FROM old_facts GROUP BY {_ROLLUP_VALUES}) o
                WHERE (d.category, d.day, d.kiosk_id, d.service, d.score, d.band, d.event)
                    = (o.category, o.day, o.kiosk_id, o.service, o.score, o.band, o.event);
                RETURN NULL;
            END $$""",
                "DROP TRIGGER IF EXISTS facts_daily_delete ON submission_facts",
                """CREATE TRIGGER facts_daily_delete AFTER DELETE ON submission_facts
                   REFERENCING OLD TABLE AS old_facts FOR EACH STATEMENT EXECUTE FUNCTION facts_daily_remove()"""]
    return [table, "DELETE FROM facts_daily", backfill, f"""CREATE TRIGGER IF NOT EXISTS facts_daily_insert AFTER INSERT ON submission_facts BEGIN
            INSERT INTO facts_daily ({_ROLLUP_KEY}, n) VALUES (NEW.day, NEW.kiosk_id, NEW.category, NEW.service,
                COALESCE(NEW.score, 0), COALESCE(NEW.band, ''), COALESCE(NEW.event, ''), 1)
            ON CONFLICT (category, day, kiosk_id, service, score, band, event) DO UPDATE SET n = n + 1;
        END""", """CREATE TRIGGER IF NOT EXISTS facts_daily_delete AFTER DELETE ON submission_facts BEGIN
            UPDATE facts_daily SET n = n - 1 WHERE category = OLD.category AND day = OLD.day AND kiosk_id = OLD.kiosk_id
                AND service = OLD.service AND score = COALESCE(OLD.score, 0) AND band = COALESCE(OLD.band, '')
                AND event = COALESCE(OLD.event, '');
        END"""]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(2, "rating follow-ups (差评回访)", _followups),
    Migration(3, "SMS notification queue", _notifications),
    Migration(4, "facts index per kiosk and day", _fact_buckets),
    Migration(5, "daily rollup of the figures' counts", _daily_rollup),
)
LATEST = MIGRATIONS[-1].version


def schema_version_table(d: Dialect) -> str:
    return (f"CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
            f"applied_at {d.real} NOT NULL)")


def current_version(cur: Any) -> int:
    cur.execute("SELECT MAX(version) FROM schema_version")
    row = cur.fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def apply_migrations(conn: Any, dialect: Dialect, placeholder: str = "?",
                     migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Bring the database to the latest version; returns the versions applied now. The caller
    has created the baseline tables (and committed)."""
    cur = conn.cursor()
    cur.execute(schema_version_table(dialect))
    insert = f"INSERT INTO schema_version (version, name, applied_at) VALUES ({placeholder}, {placeholder}, {placeholder})"
    if current_version(cur) < BASELINE:
        cur.execute(insert, (BASELINE, "baseline", time.time()))
    conn.commit()
    applied: list[int] = []
    for migration in migrations:
        try:
            if dialect.postgres:
                cur.execute(f"SELECT pg_advisory_xact_lock({_ADVISORY_KEY})")
            else:  # take SQLite's write lock before reading the version (no other process can slip in)
                cur.execute("UPDATE schema_version SET version = version WHERE version = -1")
            if current_version(cur) >= migration.version:
                conn.commit()
                continue
            for statement in migration.statements(dialect):
                cur.execute(statement)
            cur.execute(insert, (migration.version, migration.name, time.time()))
            conn.commit()
            applied.append(migration.version)
        except BaseException:
            try:
                conn.rollback()
            except Exception:
                pass
            raise
    return applied


def dialect_of(store: Any) -> Dialect:
    return Dialect(store._real, store._serial, store._blob, store.kind == "postgresql")
