"""Hub storage: SQLite (default) or PostgreSQL; one record per (kiosk, submission id) forever.

Ids are scoped per kiosk: the same UUID from two kiosks is two records, so posting another
kiosk's id tells the poster nothing about whether it exists (issue 14).

`insert_batch` answers each item accepted / duplicate / rejected("conflict"): a replay with the
same content is a duplicate and gets the original result; a replay with different content is
refused and the original row is kept; a second copy of an id within one batch is answered the
same way against the first. Each batch is one transaction, committed before the HTTP reply is
sent, so "accepted" always means "on disk".

Payloads (names, ID numbers, phones, diagnoses) are sealed with the hub key ring
(kiosk/hub/keys.py) before they reach the database — SQLite or PostgreSQL alike, the key never
enters the database. What statistics need (kiosk, service, kind, times) stays in clear.
SQLite files are created 0600 (SQLite gives -wal/-shm the database file's mode).
"""
from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Iterator
from urllib.parse import urlsplit

from kiosk.hub.console.facts import item_facts
from kiosk.hub.console.schema import console_schema
from kiosk.hub.keys import HubKeyError, HubKeyring


class HubStoreError(Exception):
    """The database cannot be opened or used as a hub store (message is safe to print: no password)."""


@dataclass(frozen=True)
class HubItem:
    id: str
    kiosk_id: str
    service: str
    kind: str
    created_at: str
    payload: dict[str, Any]

    def content(self) -> dict[str, Any]:
        return {"kiosk_id": self.kiosk_id, "service": self.service, "kind": self.kind, "payload": self.payload}

    def associated_data(self) -> str:
        return f"{self.kiosk_id}/{self.id}"  # a sealed payload copied onto another row does not open


@dataclass(frozen=True)
class ItemOutcome:
    id: str
    result: str  # accepted | duplicate | rejected
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "result": self.result, **({"reason": self.reason} if self.reason else {})}


def token_hash(token: str) -> str:
    import hashlib

    return hashlib.sha256(token.encode("utf-8")).hexdigest()


_COLUMNS = "kiosk_id, id, service, kind, created_at, received_at, content_hash, key_id, sealed, person_mac, ref_id"
_PERSON_DOMAIN = b"kiosk-hub person index v1"
_FACT_COLUMNS = ("kiosk_id, id, category, service, day, at, source, score, band, event, outcome, waiting_s, "
                 "handling_s")


def _columns_of(rows: list[tuple[Any, ...]], width: int) -> list[list[Any]]:
    """Rows → one list per column (PostgreSQL `unnest` of arrays); empty lists when no rows."""
    return [list(column) for column in zip(*rows, strict=True)] if rows else [[] for _ in range(width)]


def person_mac(keyring: HubKeyring, key_id: str, id_number: str) -> str:
    """办理进度查询's blind index: an HMAC of the ID number under a sub-key of a hub key, so the
    database finds a person's applications without holding the number (nor a plain hash a
    guess over the small space of ID numbers could be checked against)."""
    import hashlib
    import hmac

    sub_key = hmac.new(keyring.keys[key_id], _PERSON_DOMAIN, hashlib.sha256).digest()
    return hmac.new(sub_key, id_number.strip().upper().encode("ascii", "replace"), hashlib.sha256).hexdigest()


def _applicant_id(item: HubItem) -> str | None:
    applicant = item.payload.get("applicant") if item.kind == "submission" else None
    number = applicant.get("id_number") if isinstance(applicant, dict) else None
    return number if isinstance(number, str) and number else None


def _ref_id(item: HubItem) -> str | None:
    """The submission a hall's counter outcome reports on (a random UUID, nothing personal)."""
    ref = item.payload.get("submission_id") if item.service == "hall_ticket" else None
    return ref if isinstance(ref, str) and 0 < len(ref) <= 64 else None


class HubStore:
    """Common logic; subclasses provide a DB-API connection and the dialect's SQL."""

    kind = "abstract"
    _ph = "?"
    _blob = "BLOB"
    _real = "REAL"
    _serial = "INTEGER PRIMARY KEY AUTOINCREMENT"
    _legacy_payload = "payload"

    def __init__(self, key_file: str | os.PathLike[str] | None) -> None:
        self._lock = threading.Lock()
        if key_file is None:
            raise HubKeyError(f"a {self.kind} hub needs a key file (--key-file or [hub] key_file)")
        self.key_file = Path(key_file)
        self.keyring: HubKeyring

    # subclass hooks
    def _connect(self) -> Any: raise NotImplementedError
    def _columns(self, cur: Any, table: str) -> list[str]: raise NotImplementedError
    def _after_migration(self) -> None: pass

    def _schema(self) -> list[str]:
        return [
            f"""CREATE TABLE IF NOT EXISTS submissions (
                kiosk_id TEXT NOT NULL, id TEXT NOT NULL, service TEXT NOT NULL, kind TEXT NOT NULL,
                created_at TEXT NOT NULL, received_at {self._real} NOT NULL, content_hash TEXT NOT NULL,
                key_id TEXT NOT NULL, sealed {self._blob} NOT NULL, PRIMARY KEY (kiosk_id, id))""",
            "CREATE INDEX IF NOT EXISTS submissions_stats ON submissions(kiosk_id, service)",
            "CREATE TABLE IF NOT EXISTS kiosk_tokens (token_sha256 TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL)",
            f"""CREATE TABLE IF NOT EXISTS enrolment_codes (code_sha256 TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL,
                created_at {self._real} NOT NULL, expires_at {self._real} NOT NULL, used_at {self._real})""",  # hub/enrolment.py
            f"CREATE TABLE IF NOT EXISTS hub_health (id INTEGER PRIMARY KEY, checked_at {self._real} NOT NULL)",
            f"""CREATE TABLE IF NOT EXISTS record_lookups (seq {self._serial}, kiosk_id TEXT NOT NULL,
                at {self._real} NOT NULL, id_masked TEXT NOT NULL, outcome TEXT NOT NULL)""",
            *console_schema(self._real, self._serial, self._blob),
        ]

    def _open(self) -> None:
        """Connect, create or migrate the schema, load the key ring; nothing stays open on failure."""
        self._conn: Any = None  # a DB-API connection (sqlite3 or psycopg)
        try:
            self._init()
        except BaseException:
            if self._conn is not None:
                self._conn.close()
            raise

    def _init(self) -> None:
        self._conn = self._connect()
        with self._lock:
            cur = self._conn.cursor()
            legacy = "payload" in self._columns(cur, "submissions")
            if legacy:  # issue 14: payloads were stored in clear; seal them below
                cur.execute("ALTER TABLE submissions RENAME TO submissions_v1")
                cur.execute("DROP INDEX IF EXISTS submissions_kiosk")
            for statement in self._schema():
                cur.execute(statement)
            self._add_person_index(cur)
            self._conn.commit()
            self.keyring = self._load_keyring(cur)
            if legacy:
                self._migrate_legacy(cur)
            self._backfill_facts(cur)
            self._backfill_person_index(cur)
            from kiosk.hub.migrations import apply_migrations, dialect_of  # versioned, additive (issue 18)

            self.migrations_applied = apply_migrations(self._conn, dialect_of(self), self._ph)
        if legacy:
            self._after_migration()

    def _backfill_facts(self, cur: Any) -> None:
        """Once per database: the clear figures facts of rows stored before the console existed
        (the only time the figures open payloads; afterwards facts are written with each item)."""
        cur.execute("SELECT value FROM hub_meta WHERE name = 'facts_backfilled'")
        if cur.fetchone() is not None:
            self._end_read()
            return
        try:
            cur.execute("SELECT s.kiosk_id, s.id, s.service, s.kind, s.created_at, s.key_id, s.sealed FROM submissions s "
                        "LEFT JOIN submission_facts f ON f.kiosk_id = s.kiosk_id AND f.id = s.id WHERE f.id IS NULL")
            for kiosk_id, sid, service, kind, created_at, key_id, sealed in cur.fetchall():
                payload = self.keyring.open(key_id, bytes(sealed), f"{kiosk_id}/{sid}")
                try:
                    self._insert_facts(cur, HubItem(sid, kiosk_id, service, kind, created_at, payload))
                except ValueError:  # an unreadable created_at from an old client: left out of the figures
                    continue
            cur.execute("INSERT INTO hub_meta (name, value) VALUES ('facts_backfilled', '1')")
            self._conn.commit()
        except BaseException:
            self._rollback()
            raise

    def _add_person_index(self, cur: Any) -> None:
        """Migration (issue 18, 办理进度查询): the blind index of the applicant's ID number and
        the link from a hall's counter outcome to its submission."""
        if "person_mac" not in self._columns(cur, "submissions"):
            cur.execute("ALTER TABLE submissions ADD COLUMN person_mac TEXT")
            cur.execute("ALTER TABLE submissions ADD COLUMN ref_id TEXT")
        cur.execute("CREATE INDEX IF NOT EXISTS submissions_person ON submissions(person_mac)")
        cur.execute("CREATE INDEX IF NOT EXISTS submissions_ref ON submissions(ref_id)")

    def _backfill_person_index(self, cur: Any) -> None:
        """Once per database: index the rows stored before the column existed."""
        cur.execute("SELECT value FROM hub_meta WHERE name = 'person_index_backfilled'")
        if cur.fetchone() is not None:
            self._end_read()
            return
        try:
            cur.execute("SELECT kiosk_id, id, service, kind, created_at, key_id, sealed FROM submissions "
                        "WHERE person_mac IS NULL AND ref_id IS NULL")
            for kiosk_id, sid, service, kind, created_at, key_id, sealed in cur.fetchall():
                item = HubItem(sid, kiosk_id, service, kind, created_at,
                               self.keyring.open(key_id, bytes(sealed), f"{kiosk_id}/{sid}"))
                number, ref = _applicant_id(item), _ref_id(item)
                if number or ref:
                    cur.execute(self._q("UPDATE submissions SET person_mac = ?, ref_id = ? WHERE kiosk_id = ? AND id = ?"),
                                (person_mac(self.keyring, key_id, number) if number else None, ref, kiosk_id, sid))
            cur.execute("INSERT INTO hub_meta (name, value) VALUES ('person_index_backfilled', '1')")
            self._conn.commit()
        except BaseException:
            self._rollback()
            raise

    def _insert_facts(self, cur: Any, item: HubItem) -> None:
        f = item_facts(item.kind, item.service, item.created_at, item.payload)
        cur.execute(self._q("INSERT INTO submission_facts (kiosk_id, id, category, service, day, at, source, score, band, "
                            "event, outcome, waiting_s, handling_s) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                            "ON CONFLICT (kiosk_id, id) DO NOTHING"),
                    (item.kiosk_id, item.id, f.category, f.service, f.day, f.at, f.source, f.score, f.band, f.event,
                     f.outcome, f.waiting_s, f.handling_s))

    @contextmanager
    def transaction(self) -> Iterator[Any]:
        """A cursor under the store's lock: committed when the block ends, rolled back on error.
        For the console's own queries (kiosk/hub/console/store.py)."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                yield cur
                self._conn.commit()
            except BaseException:
                self._rollback()
                raise

    def sql(self, statement: str) -> str:
        """`?` placeholders in this engine's style."""
        return self._q(statement)

    def _load_keyring(self, cur: Any) -> HubKeyring:
        """A key is created only for a database that holds no sealed row yet: a missing key for
        existing rows is an error to fix (restore the key), never a reason to start afresh."""
        cur.execute("SELECT key_id, COUNT(*) FROM submissions GROUP BY key_id")
        used = {row[0]: row[1] for row in cur.fetchall()}
        self._end_read()
        try:
            keyring = HubKeyring.load(self.key_file)
        except FileNotFoundError:
            if used:
                raise HubKeyError(
                    f"hub key file {self.key_file} is missing but the database holds {sum(used.values())} sealed "
                    "submissions: restore the key file from the installation backup (see README, 'Hub key')") from None
            keyring = HubKeyring.create(self.key_file)
        missing = sorted(k for k in used if k not in keyring.keys)
        if missing:
            raise HubKeyError(f"hub key file {self.key_file} lacks key(s) {', '.join(missing)} used by "
                              f"{sum(used[k] for k in missing)} stored submissions: restore the older key lines from backup")
        return keyring

    def _migrate_legacy(self, cur: Any) -> None:
        try:
            cur.execute(f"SELECT id, kiosk_id, service, kind, created_at, received_at, {self._legacy_payload} FROM submissions_v1")
            for sid, kiosk_id, service, kind, created_at, received_at, payload in cur.fetchall():
                item = HubItem(sid, kiosk_id, service, kind, created_at, json.loads(payload))
                cur.execute(self._q(f"INSERT INTO submissions ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                                    "ON CONFLICT (kiosk_id, id) DO NOTHING"), self._row(item, received_at))
            cur.execute("DROP TABLE submissions_v1")
            self._conn.commit()
        except BaseException:
            self._rollback()
            raise

    def _q(self, sql: str) -> str:
        return sql.replace("?", self._ph)

    def _row(self, item: HubItem, received_at: float) -> tuple[Any, ...]:
        key_id, sealed = self.keyring.seal(item.payload, item.associated_data())
        number = _applicant_id(item)
        return (item.kiosk_id, item.id, item.service, item.kind, item.created_at, received_at,
                self.keyring.content_mac(key_id, item.content()), key_id, sealed,
                person_mac(self.keyring, key_id, number) if number else None, _ref_id(item))

    def insert_batch(self, items: list[HubItem]) -> list[ItemOutcome]:
        """One outcome per item, in order (a repeated id is answered against its first copy)."""
        now = time.time()
        first: dict[tuple[str, str], int] = {}  # (kiosk, id) → position of its first copy in this batch
        for n, item in enumerate(items):
            first.setdefault((item.kiosk_id, item.id), n)
        unique = [items[n] for n in first.values()]
        rows = [self._row(item, now) for item in unique]  # sealing needs no lock
        with self._lock:
            try:
                inserted, stored = self._insert_new(self._conn.cursor(), unique, rows)
                self._conn.commit()
            except BaseException:
                self._rollback()
                raise
        mine = {(row[0], row[1]): (row[6], row[7]) for row in rows}  # (content_hash, key_id) as sealed now
        outcomes = []
        for n, item in enumerate(items):
            key = (item.kiosk_id, item.id)
            if key in inserted and first[key] == n:
                outcomes.append(ItemOutcome(item.id, "accepted"))
                continue
            found = mine[key] if key in inserted else stored.get(key)  # what the database holds for this id
            same = found is not None and found[1] in self.keyring.keys and \
                found[0] == self.keyring.content_mac(found[1], item.content())
            outcomes.append(ItemOutcome(item.id, "duplicate") if same else ItemOutcome(item.id, "rejected", "conflict"))
        return outcomes

    def _insert_new(self, cur: Any, items: list[HubItem], rows: list[tuple[Any, ...]]
                    ) -> tuple[set[tuple[str, str]], dict[tuple[str, str], tuple[str, str]]]:
        """Insert the rows whose (kiosk, id) is not stored yet, with their facts, in the caller's
        transaction. Returns the keys inserted and, for the others, the stored (content_hash, key_id).
        Row by row: an in-process SQLite statement costs microseconds (PostgreSQL overrides this)."""
        inserted: set[tuple[str, str]] = set()
        stored: dict[tuple[str, str], tuple[str, str]] = {}
        for item, row in zip(items, rows, strict=True):
            cur.execute(self._q(f"INSERT INTO submissions ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?) "
                                "ON CONFLICT (kiosk_id, id) DO NOTHING"), row)
            if cur.rowcount == 1:
                self._insert_facts(cur, item)  # same transaction: figures never miss a stored item
                inserted.add((item.kiosk_id, item.id))
                continue
            cur.execute(self._q("SELECT content_hash, key_id FROM submissions WHERE kiosk_id = ? AND id = ?"),
                        (item.kiosk_id, item.id))
            found = cur.fetchone()
            if found is not None:
                stored[(item.kiosk_id, item.id)] = (found[0], found[1])
        return inserted, stored

    def get(self, submission_id: str, kiosk_id: str | None = None) -> dict[str, Any] | None:
        """Metadata (no payload). With `kiosk_id`, only that kiosk's record."""
        sql = "SELECT id, kiosk_id, service, kind, created_at, received_at FROM submissions WHERE id = ?"
        params: tuple[str, ...] = (submission_id,)
        if kiosk_id is not None:
            sql, params = sql + " AND kiosk_id = ?", (submission_id, kiosk_id)
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q(sql + " ORDER BY received_at"), params)
            row = cur.fetchone()
            self._end_read()
        if row is None:
            return None
        return {"id": row[0], "kiosk_id": row[1], "service": row[2], "kind": row[3], "created_at": row[4],
                "received_at": _iso(row[5]), "status": "received"}

    def payload(self, submission_id: str, kiosk_id: str | None = None) -> dict[str, Any] | None:
        """The opened payload (bureau processing, tests); None when there is no such record."""
        sql = "SELECT kiosk_id, key_id, sealed FROM submissions WHERE id = ?"
        params: tuple[str, ...] = (submission_id,)
        if kiosk_id is not None:
            sql, params = sql + " AND kiosk_id = ?", (submission_id, kiosk_id)
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q(sql + " ORDER BY received_at"), params)
            row = cur.fetchone()
            self._end_read()
        if row is None:
            return None
        return self.keyring.open(row[1], bytes(row[2]), f"{row[0]}/{submission_id}")

    def stats(self, kiosk_id: str | None = None) -> dict[str, Any]:
        """Counts per kiosk and service; with `kiosk_id`, that kiosk's counts only."""
        sql = "SELECT kiosk_id, service, COUNT(*) FROM submissions"
        params: tuple[str, ...] = ()
        if kiosk_id is not None:
            sql, params = sql + " WHERE kiosk_id = ?", (kiosk_id,)
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q(sql + " GROUP BY kiosk_id, service"), params)
            rows = cur.fetchall()
            self._end_read()
        kiosks: dict[str, Any] = {}
        for kid, service, n in rows:
            k = kiosks.setdefault(kid, {"total": 0, "by_service": {}})
            k["total"] += n
            k["by_service"][service] = n
        return {"total": sum(k["total"] for k in kiosks.values()), "kiosks": kiosks}

    def ids(self) -> list[str]:
        """Every stored id (tests and audits)."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("SELECT id FROM submissions")
            rows = cur.fetchall()
            self._end_read()
        return [r[0] for r in rows]

    def person_applications(self, id_number: str, limit: int = 50) -> list[dict[str, Any]]:
        """办理进度查询: the applications filed for this ID number (newest first, at any kiosk),
        each with the back office's state and note and, when a hall reported one, the counter's
        outcome. The caller has checked the card evidence and audited the lookup."""
        macs = [person_mac(self.keyring, k, id_number) for k in self.keyring.keys]  # rows under every key
        marks = ",".join("?" * len(macs))
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q(
                "SELECT s.kiosk_id, s.id, s.service, s.created_at, a.state, a.key_id, a.sealed_note, a.updated_at "
                "FROM submissions s LEFT JOIN application_states a ON a.kiosk_id = s.kiosk_id AND a.id = s.id "
                f"WHERE s.person_mac IN ({marks}) AND s.kind = 'submission' ORDER BY s.received_at DESC LIMIT ?"),
                (*macs, limit))
            rows = cur.fetchall()
            counters: list[tuple[Any, ...]] = []
            if rows:
                ids = [r[1] for r in rows]
                cur.execute(self._q("SELECT kiosk_id, id, key_id, sealed, received_at FROM submissions "
                                    f"WHERE ref_id IN ({','.join('?' * len(ids))}) AND service = 'hall_ticket' "
                                    "ORDER BY received_at"), ids)
                counters = cur.fetchall()
            self._end_read()
        outcomes: dict[str, dict[str, Any]] = {}
        for kiosk_id, sid, key_id, sealed, _received in counters:  # the latest report per submission wins
            event = self.keyring.open(key_id, bytes(sealed), f"{kiosk_id}/{sid}")
            if event.get("event", "ticket_finished") == "ticket_finished" and isinstance(event.get("outcome"), str):
                outcomes[str(event.get("submission_id"))] = {
                    "outcome": event["outcome"], "note": str(event.get("note") or ""),
                    "counter": event.get("counter"), "finished_at": event.get("finished_at")}
        found = []
        for kiosk_id, sid, service, created_at, state, key_id, sealed_note, updated_at in rows:
            note = ""
            if state is not None:
                opened = self.keyring.open(key_id, bytes(sealed_note), f"{kiosk_id}/{sid}/state")
                note = str(opened.get("note", ""))
            found.append({"id": sid, "service": service, "created_at": created_at, "state": state or "submitted",
                          "note": note, "updated_at": _iso(updated_at) if updated_at else None,
                          **({"counter": outcomes[sid]} if sid in outcomes else {})})
        return found

    def add_token(self, kiosk_id: str, token: str) -> None:
        """Tokens are kept hashed: a copy of the hub database does not let anyone act as a kiosk."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q("INSERT INTO kiosk_tokens (token_sha256, kiosk_id) VALUES (?, ?) ON CONFLICT (token_sha256) DO NOTHING"),
                        (token_hash(token), kiosk_id))
            self._conn.commit()

    def token_count(self) -> int:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("SELECT COUNT(*) FROM kiosk_tokens")
            n = cur.fetchone()[0]
            self._end_read()
        return int(n)

    def kiosk_for_token_hash(self, digest: str) -> str | None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q("SELECT kiosk_id FROM kiosk_tokens WHERE token_sha256 = ?"), (digest,))
            row = cur.fetchone()
            self._end_read()
        return None if row is None else row[0]

    def audit_lookup(self, kiosk_id: str, id_masked: str, outcome: str) -> None:
        """One row per person-record lookup (who asked, when, about whom — masked —, and the answer)."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute(self._q("INSERT INTO record_lookups (kiosk_id, at, id_masked, outcome) VALUES (?,?,?,?)"),
                            (kiosk_id, time.time(), id_masked, outcome))
                self._conn.commit()
            except BaseException:
                self._rollback()
                raise

    def lookups(self, kiosk_id: str | None = None) -> list[dict[str, Any]]:
        sql = "SELECT kiosk_id, at, id_masked, outcome FROM record_lookups"
        params: tuple[str, ...] = ()
        if kiosk_id is not None:
            sql, params = sql + " WHERE kiosk_id = ?", (kiosk_id,)
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q(sql + " ORDER BY seq"), params)
            rows = cur.fetchall()
            self._end_read()
        return [{"kiosk_id": r[0], "at": _iso(r[1]), "id_masked": r[2], "outcome": r[3]} for r in rows]

    def ping(self) -> bool:
        try:
            with self._lock:
                cur = self._conn.cursor()
                cur.execute("SELECT 1")
                cur.fetchone()
                self._end_read()
            return True
        except Exception:
            return False

    def writable(self) -> bool:
        """Health: can the store commit a write right now (disk full, read-only, lost server → False)."""
        try:
            with self._lock:
                cur = self._conn.cursor()
                try:
                    cur.execute(self._q("INSERT INTO hub_health (id, checked_at) VALUES (1, ?) "
                                        "ON CONFLICT (id) DO UPDATE SET checked_at = excluded.checked_at"), (time.time(),))
                    self._conn.commit()
                except BaseException:
                    self._rollback()
                    raise
            return True
        except Exception:
            return False

    def _rollback(self) -> None:
        try:
            self._conn.rollback()
        except Exception:
            pass

    def _end_read(self) -> None:
        """PostgreSQL opens a transaction on SELECT; end it so the connection is not left idle in one."""

    def close(self) -> None:
        with self._lock:
            self._conn.close()


class SqliteHubStore(HubStore):
    kind = "sqlite"

    def __init__(self, path: str | os.PathLike[str], key_file: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path)
        super().__init__(key_file if key_file is not None else default_key_file(self.path))
        try:
            self._open()
        except sqlite3.DatabaseError as exc:
            raise HubStoreError(f"cannot use hub database {self.path}: {exc}") from None

    def _connect(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)  # SQLite copies this mode to -wal/-shm
            os.close(fd)
            for suffix in ("", "-wal", "-shm", "-journal"):
                _restrict(Path(f"{self.path}{suffix}"))
        except (FileExistsError, NotADirectoryError):
            raise HubStoreError(f"cannot create hub database {self.path}: a part of {self.path.parent} is not a folder") from None
        except OSError as exc:
            raise HubStoreError(f"cannot create hub database {self.path}: {exc.strerror or exc}") from None
        if not self.path.is_file():
            raise HubStoreError(f"hub database {self.path} is not a file")
        conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")  # "accepted" must survive a power cut
            conn.execute("PRAGMA secure_delete=ON")  # freed pages are zeroed, not left readable
            conn.execute("SELECT COUNT(*) FROM sqlite_master").fetchone()  # a corrupt file fails here, not later
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _columns(self, cur: Any, table: str) -> list[str]:
        cur.execute(f"PRAGMA table_info({table})")
        return [r[1] for r in cur.fetchall()]

    def _after_migration(self) -> None:
        with self._lock:  # rewrite the file so no page of the old clear-text table survives
            self._conn.execute("VACUUM")
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class PostgresHubStore(HubStore):
    kind = "postgresql"
    _ph = "%s"
    _blob = "BYTEA"
    _real = "DOUBLE PRECISION"
    _serial = "BIGSERIAL PRIMARY KEY"
    _legacy_payload = "payload::text"

    def __init__(self, url: str, key_file: str | os.PathLike[str] | None = None) -> None:
        super().__init__(key_file)
        self.url = url
        import psycopg  # only needed for a PostgreSQL deployment

        try:
            self._open()
        except psycopg.Error as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise HubStoreError(f"cannot use hub database {safe_db_url(url)}: {first}") from None

    def _connect(self) -> Any:
        import psycopg

        return psycopg.connect(self.url, connect_timeout=10)

    def _columns(self, cur: Any, table: str) -> list[str]:
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() "
                    "AND table_name = %s", (table,))
        return [r[0] for r in cur.fetchall()]

    def _end_read(self) -> None:
        self._conn.rollback()

    def _reconnect_if_broken(self) -> None:
        if self._conn.closed or self._conn.broken:
            with self._lock:
                self._conn = self._connect()

    def insert_batch(self, items: list[HubItem]) -> list[ItemOutcome]:
        self._reconnect_if_broken()
        return super().insert_batch(items)

    # One statement per batch (issue 20: row by row, two round trips per item, capped PostgreSQL
    # at ~2,200 items/s). All parts of a WITH run on one snapshot: the final SELECT sees what was
    # stored before this statement, never the rows `inserted` adds.
    _INSERT_NEW = f"""
        WITH incoming AS (
            SELECT * FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::float8[],
                                 %b::text[], %b::text[], %b::bytea[], %b::text[], %b::text[]) AS t({_COLUMNS})),
        inserted AS (
            INSERT INTO submissions ({_COLUMNS}) SELECT {_COLUMNS} FROM incoming
            ON CONFLICT (kiosk_id, id) DO NOTHING RETURNING kiosk_id, id),
        facts AS (
            INSERT INTO submission_facts ({_FACT_COLUMNS})
            SELECT f.* FROM unnest(%b::text[], %b::text[], %b::text[], %b::text[], %b::text[], %b::float8[],
                                   %b::text[], %b::int[], %b::text[], %b::text[], %b::text[], %b::float8[],
                                   %b::float8[]) AS f({_FACT_COLUMNS})
            JOIN inserted i ON i.kiosk_id = f.kiosk_id AND i.id = f.id
            ON CONFLICT (kiosk_id, id) DO NOTHING)
        SELECT kiosk_id, id, NULL, NULL FROM inserted
        UNION ALL
        SELECT s.kiosk_id, s.id, s.content_hash, s.key_id FROM submissions s
            JOIN incoming i ON i.kiosk_id = s.kiosk_id AND i.id = s.id"""

    def _insert_new(self, cur: Any, items: list[HubItem], rows: list[tuple[Any, ...]]
                    ) -> tuple[set[tuple[str, str]], dict[tuple[str, str], tuple[str, str]]]:
        """Set-based: the rows, their facts and the stored rows' hashes in one round trip."""
        if not rows:
            return set(), {}
        facts, unreadable = [], {}
        for item in items:
            try:
                f = item_facts(item.kind, item.service, item.created_at, item.payload)
            except ValueError as exc:  # raised below only if this item is new (row by row raises there too)
                unreadable[(item.kiosk_id, item.id)] = exc
                continue
            facts.append((item.kiosk_id, item.id, f.category, f.service, f.day, f.at, f.source, f.score, f.band,
                          f.event, f.outcome, f.waiting_s, f.handling_s))
        cur.execute(self._INSERT_NEW, _columns_of(rows, 11) + _columns_of(facts, 13))
        inserted: set[tuple[str, str]] = set()
        stored: dict[tuple[str, str], tuple[str, str]] = {}
        for kiosk_id, sid, content_hash, key_id in cur.fetchall():
            if content_hash is None:
                inserted.add((kiosk_id, sid))
            else:
                stored[(kiosk_id, sid)] = (content_hash, key_id)
        new_but_unreadable = inserted & unreadable.keys()
        if new_but_unreadable:
            raise unreadable[min(new_but_unreadable)]
        # a row another connection committed while this statement ran: ON CONFLICT skipped it, the
        # snapshot did not show it; read it now (READ COMMITTED: a new statement sees it)
        for kiosk_id, sid in {(r[0], r[1]) for r in rows} - inserted - stored.keys():
            cur.execute("SELECT content_hash, key_id FROM submissions WHERE kiosk_id = %s AND id = %s", (kiosk_id, sid))
            found = cur.fetchone()
            if found is not None:
                stored[(kiosk_id, sid)] = (found[0], found[1])
        return inserted, stored

    def writable(self) -> bool:
        try:
            self._reconnect_if_broken()
        except Exception:
            return False
        return super().writable()


def default_key_file(db_path: Path) -> Path:
    """Next to a SQLite database, in a private `keys/` folder (a separate file, never a table)."""
    return db_path.parent / "keys" / "hub.key"


def safe_db_url(db_url: str) -> str:
    """The URL without user or password, for messages and logs."""
    if "://" not in db_url:
        return db_url
    parts = urlsplit(db_url)
    host = parts.hostname or ""
    return f"{parts.scheme}://{host}{':' + str(parts.port) if parts.port else ''}{parts.path}"


def open_hub_store(db_url: str, key_file: str | os.PathLike[str] | None = None) -> HubStore:
    """`postgresql://…` (or postgres://) → PostgreSQL; `sqlite:///path` or a plain path → SQLite.
    Raises `HubStoreError` / `HubKeyError` with a printable message."""
    if db_url.startswith(("postgresql://", "postgres://")):
        return PostgresHubStore(db_url, key_file)
    if db_url.startswith("sqlite:///"):
        db_url = db_url[len("sqlite:///"):]  # sqlite:///rel/path, sqlite:////abs/path
    return SqliteHubStore(db_url, key_file)


def _restrict(path: Path) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & 0o077:
        path.chmod(0o600)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
