"""The hall's own tables, in the same SQLite file as the queue (QueueService owns `tickets`).

- `applications`: what the resident typed at the kiosk, one row per submission id, the payload
  sealed with AES-256-GCM (the submission id is the associated data, so a blob moved to another
  row fails to open). Purged after the configured retention: the hall keeps today's work, the
  hub keeps the record.
- `staff`: clerks and managers, argon2id password hashes. `sessions`: only a hash of the cookie.
- `audit`: one row for every time a clerk is shown an application's personal data.
- `ratings`: one 好差评 per ticket (the pad cannot rate a ticket twice).

The key lives in a file outside the database (default `<db folder>/keys/hall.key`, 0600); a
key-check value in `hall_meta` makes a wrong or replaced key fail loudly on open instead of
hiding stored applications. The database file and its WAL are 0600.
"""
from __future__ import annotations

import hashlib
import os
import secrets
import sqlite3
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from collections.abc import Callable

from kiosk.services.crypto import DecryptError, FieldCipher, KeyFileError, canonical_json

SCHEMA_VERSION = 1
ROLES = ("clerk", "manager")
KEY_CHECK_AD = "hall-key-check"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hall_meta (name TEXT PRIMARY KEY, value BLOB);
CREATE TABLE IF NOT EXISTS applications (
    submission_id TEXT PRIMARY KEY,
    service       TEXT NOT NULL,
    kiosk_id      TEXT NOT NULL,
    received_at   REAL NOT NULL,
    payload       BLOB NOT NULL      -- AES-GCM, associated data = submission id
);
CREATE INDEX IF NOT EXISTS applications_received ON applications (received_at);
CREATE TABLE IF NOT EXISTS staff (
    name          TEXT PRIMARY KEY,
    role          TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    role       TEXT NOT NULL,
    csrf       TEXT NOT NULL,
    created_at REAL NOT NULL,
    last_seen  REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS audit (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    at            REAL NOT NULL,
    name          TEXT NOT NULL,
    action        TEXT NOT NULL,
    submission_id TEXT,
    ticket_id     TEXT,
    counter       INTEGER,
    address       TEXT
);
CREATE TABLE IF NOT EXISTS ratings (
    ticket_id TEXT PRIMARY KEY,
    score     INTEGER NOT NULL,
    tags      TEXT NOT NULL,
    counter   INTEGER,
    at        REAL NOT NULL
);
"""


class HallStoreError(Exception):
    """The hall database or its key cannot be used; the message says what to do."""


class ApplicationConflict(Exception):
    """The same submission id arrived again with different content."""


@dataclass(frozen=True)
class Session:
    name: str
    role: str
    csrf: str
    created_at: float
    last_seen: float


@dataclass(frozen=True)
class AuditRow:
    seq: int
    at: float
    name: str
    action: str
    submission_id: str | None
    ticket_id: str | None
    counter: int | None
    address: str | None


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def private_file(path: Path) -> None:
    """Create the file 0600 before SQLite does (SQLite gives -wal/-shm the database's mode)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    restrict(path)


def restrict(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if p.exists() and stat.S_IMODE(p.stat().st_mode) & 0o077:
                p.chmod(0o600)
        except OSError:
            pass  # a shared mount may refuse; the data is sealed anyway


class HallStore:
    def __init__(self, db_path: str | Path, key_path: str | Path | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.db_path = Path(db_path)
        self.key_path = Path(key_path) if key_path else self.db_path.parent / "keys" / "hall.key"
        self.clock = clock
        self._lock = threading.RLock()
        try:
            private_file(self.db_path)
            self._db = sqlite3.connect(self.db_path, isolation_level=None, timeout=30, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA busy_timeout=30000")
            self._db.executescript(_SCHEMA)
            row = self._db.execute("SELECT value FROM hall_meta WHERE name = 'schema_version'").fetchone()
            if row is None:
                self._db.execute("INSERT INTO hall_meta (name, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,))
            elif int(row["value"]) > SCHEMA_VERSION:
                raise HallStoreError(f"{self.db_path}: hall schema v{row['value']} is newer than this software (v{SCHEMA_VERSION})")
            restrict(self.db_path)
        except sqlite3.Error as exc:
            raise HallStoreError(f"cannot open the hall database {self.db_path}: {exc}") from None
        except OSError as exc:
            raise HallStoreError(f"cannot create the hall database {self.db_path}: {exc.strerror or exc}") from None
        self.cipher = self._open_key()

    def _open_key(self) -> FieldCipher:
        (rows,) = self._db.execute("SELECT COUNT(*) FROM applications").fetchone()
        check = self._db.execute("SELECT value FROM hall_meta WHERE name = 'key_check'").fetchone()
        try:
            cipher = FieldCipher.load(self.key_path) if rows or check else FieldCipher.load_or_create(self.key_path)
        except FileNotFoundError:
            raise HallStoreError(f"hall key file {self.key_path} is missing but the database holds sealed data: "
                                 "restore it from the backup (mode 0600); never delete the database") from None
        except KeyFileError as exc:
            raise HallStoreError(str(exc.message("en"))) from None
        if check is not None:
            try:
                cipher.decrypt(check["value"], KEY_CHECK_AD)
            except DecryptError:
                raise HallStoreError(f"hall key file {self.key_path} does not open this database's data "
                                     "(a different key): restore the right key; never delete the database") from None
        else:
            with self._lock:
                self._db.execute("INSERT OR IGNORE INTO hall_meta (name, value) VALUES ('key_check', ?)",
                                 (cipher.encrypt({"key_check": 1}, KEY_CHECK_AD),))
        return cipher

    def share_lock(self, lock: threading.RLock) -> None:
        """Use the queue's lock (same file): one writer at a time without busy-wait sleeps."""
        self._lock = lock

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def ping(self) -> bool:
        try:
            with self._lock:
                self._db.execute("SELECT 1 FROM hall_meta LIMIT 1").fetchall()
            return True
        except sqlite3.Error:
            return False

    # -- applications --------------------------------------------------------------------------
    def put_application(self, submission_id: str, service: str, kiosk_id: str, payload: dict[str, Any]) -> bool:
        """Store sealed; True when new, False when the same content was already there.
        ApplicationConflict when the id is taken by different content (never overwritten)."""
        blob = self.cipher.encrypt(payload, submission_id)
        with self._lock:
            existing = self._db.execute("SELECT service, payload FROM applications WHERE submission_id = ?",
                                        (submission_id,)).fetchone()
            if existing is None:
                self._db.execute("INSERT INTO applications (submission_id, service, kiosk_id, received_at, payload)"
                                 " VALUES (?, ?, ?, ?, ?)", (submission_id, service, kiosk_id, self.clock(), blob))
                return True
        same = existing["service"] == service and \
            canonical_json(self.cipher.decrypt(existing["payload"], submission_id)) == canonical_json(payload)
        if not same:
            raise ApplicationConflict(submission_id)
        return False

    def application(self, submission_id: str) -> tuple[str, dict[str, Any]] | None:
        """(service, payload) or None when there is none (never sent, or purged)."""
        with self._lock:
            row = self._db.execute("SELECT service, payload FROM applications WHERE submission_id = ?",
                                   (submission_id,)).fetchone()
        if row is None:
            return None
        return row["service"], self.cipher.decrypt(row["payload"], submission_id)

    def application_count(self) -> int:
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM applications").fetchone()[0])

    def purge_applications(self, retention_s: float) -> int:
        with self._lock:
            cursor = self._db.execute("DELETE FROM applications WHERE received_at < ?", (self.clock() - retention_s,))
            return cursor.rowcount

    # -- staff and sessions ---------------------------------------------------------------------
    def put_staff(self, name: str, role: str, password_hash: str) -> bool:
        """Create or replace (a new password or role); True when the name is new."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        with self._lock:
            new = self._db.execute("SELECT 1 FROM staff WHERE name = ?", (name,)).fetchone() is None
            self._db.execute("INSERT INTO staff (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)"
                             " ON CONFLICT(name) DO UPDATE SET role = excluded.role, password_hash = excluded.password_hash",
                             (name, role, password_hash, self.clock()))
            if not new:  # a changed password ends that person's open sessions
                self._db.execute("DELETE FROM sessions WHERE name = ?", (name,))
        return new

    def staff(self, name: str) -> tuple[str, str] | None:
        """(role, password_hash) or None."""
        with self._lock:
            row = self._db.execute("SELECT role, password_hash FROM staff WHERE name = ?", (name,)).fetchone()
        return (row["role"], row["password_hash"]) if row else None

    def set_password_hash(self, name: str, password_hash: str) -> None:
        with self._lock:
            self._db.execute("UPDATE staff SET password_hash = ? WHERE name = ?", (password_hash, name))

    def open_session(self, name: str, role: str) -> tuple[str, str]:
        """(cookie token, csrf token); only the token's hash is stored."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self.clock()
        with self._lock:
            self._db.execute("INSERT INTO sessions (token_hash, name, role, csrf, created_at, last_seen) VALUES (?, ?, ?, ?, ?, ?)",
                             (token_digest(token), name, role, csrf, now, now))
        return token, csrf

    def session(self, token: str, idle_s: float, max_s: float) -> Session | None:
        """The live session for this cookie, touched; None (and deleted) when expired."""
        digest = token_digest(token)
        now = self.clock()
        with self._lock:
            row = self._db.execute("SELECT * FROM sessions WHERE token_hash = ?", (digest,)).fetchone()
            if row is None:
                return None
            if now - row["last_seen"] > idle_s or now - row["created_at"] > max_s:
                self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (digest,))
                return None
            if now - row["last_seen"] > 15:  # not a write per request
                self._db.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, digest))
        return Session(row["name"], row["role"], row["csrf"], row["created_at"], now)

    def close_session(self, token: str) -> None:
        with self._lock:
            self._db.execute("DELETE FROM sessions WHERE token_hash = ?", (token_digest(token),))

    def purge_sessions(self, max_s: float) -> int:
        with self._lock:
            return self._db.execute("DELETE FROM sessions WHERE created_at < ?", (self.clock() - max_s,)).rowcount

    # -- audit ------------------------------------------------------------------------------------
    def audit(self, name: str, action: str, submission_id: str | None, ticket_id: str | None,
              counter: int | None, address: str | None) -> None:
        with self._lock:
            self._db.execute("INSERT INTO audit (at, name, action, submission_id, ticket_id, counter, address)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?)", (self.clock(), name, action, submission_id, ticket_id, counter, address))

    def audit_rows(self, limit: int = 200) -> list[AuditRow]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM audit ORDER BY seq DESC LIMIT ?", (limit,)).fetchall()
        return [AuditRow(r["seq"], r["at"], r["name"], r["action"], r["submission_id"], r["ticket_id"], r["counter"], r["address"])
                for r in rows]

    # -- ratings ----------------------------------------------------------------------------------
    def put_rating(self, ticket_id: str, score: int, tags: list[str], counter: int | None) -> bool:
        """False when this ticket was already rated (the first rating stands)."""
        with self._lock:
            cursor = self._db.execute("INSERT OR IGNORE INTO ratings (ticket_id, score, tags, counter, at) VALUES (?, ?, ?, ?, ?)",
                                      (ticket_id, score, ",".join(tags), counter, self.clock()))
            return cursor.rowcount == 1

    def rated(self, ticket_id: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM ratings WHERE ticket_id = ?", (ticket_id,)).fetchone() is not None
