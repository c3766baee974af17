"""Hub storage: SQLite (default) or PostgreSQL, one UNIQUE id per submission forever.

`insert_batch` answers each item accepted / duplicate / rejected("conflict"): a replay with the
same content (same hash) is a duplicate and gets the original result; a replay with different
content is refused and the original row is kept. Each batch is one transaction, committed
before the HTTP reply is sent, so "accepted" always means "on disk".
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kiosk.services.crypto import canonical_json


@dataclass(frozen=True)
class HubItem:
    id: str
    kiosk_id: str
    service: str
    kind: str
    created_at: str
    payload: dict[str, Any]

    def content_hash(self) -> str:
        return hashlib.sha256(canonical_json(
            {"kiosk_id": self.kiosk_id, "service": self.service, "kind": self.kind, "payload": self.payload})).hexdigest()


@dataclass(frozen=True)
class ItemOutcome:
    id: str
    result: str  # accepted | duplicate | rejected
    reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "result": self.result, **({"reason": self.reason} if self.reason else {})}


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


class HubStore:
    """Common logic; subclasses provide a DB-API connection and the dialect's SQL."""

    kind = "abstract"
    _ph = "?"

    def __init__(self) -> None:
        self._lock = threading.Lock()

    # subclass hooks
    def _connect(self) -> Any: raise NotImplementedError
    def _schema(self) -> list[str]: raise NotImplementedError

    def _init(self) -> None:
        self._conn = self._connect()
        with self._lock:
            cur = self._conn.cursor()
            for statement in self._schema():
                cur.execute(statement)
            self._conn.commit()

    def _q(self, sql: str) -> str:
        return sql.replace("?", self._ph)

    def insert_batch(self, items: list[HubItem]) -> list[ItemOutcome]:
        now = time.time()
        outcomes = []
        with self._lock:
            try:
                cur = self._conn.cursor()
                for item in items:
                    digest = item.content_hash()
                    cur.execute(self._q(
                        "INSERT INTO submissions (id, kiosk_id, service, kind, created_at, received_at, content_hash, payload) "
                        "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (id) DO NOTHING"),
                        (item.id, item.kiosk_id, item.service, item.kind, item.created_at, now, digest,
                         json.dumps(item.payload, ensure_ascii=False)))
                    if cur.rowcount == 1:
                        outcomes.append(ItemOutcome(item.id, "accepted"))
                        continue
                    cur.execute(self._q("SELECT content_hash FROM submissions WHERE id = ?"), (item.id,))
                    row = cur.fetchone()
                    if row is not None and row[0] == digest:
                        outcomes.append(ItemOutcome(item.id, "duplicate"))
                    else:
                        outcomes.append(ItemOutcome(item.id, "rejected", "conflict"))
                self._conn.commit()
            except BaseException:
                self._rollback()
                raise
        return outcomes

    def get(self, submission_id: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q("SELECT id, kiosk_id, service, kind, created_at, received_at FROM submissions WHERE id = ?"),
                        (submission_id,))
            row = cur.fetchone()
            self._end_read()
        if row is None:
            return None
        return {"id": row[0], "kiosk_id": row[1], "service": row[2], "kind": row[3], "created_at": row[4],
                "received_at": _iso(row[5]), "status": "received"}

    def payload(self, submission_id: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q("SELECT payload FROM submissions WHERE id = ?"), (submission_id,))
            row = cur.fetchone()
            self._end_read()
        return None if row is None else json.loads(row[0])

    def stats(self) -> dict[str, Any]:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("SELECT kiosk_id, service, COUNT(*) FROM submissions GROUP BY kiosk_id, service")
            rows = cur.fetchall()
            self._end_read()
        kiosks: dict[str, Any] = {}
        for kiosk_id, service, n in rows:
            k = kiosks.setdefault(kiosk_id, {"total": 0, "by_service": {}})
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

    def add_token(self, kiosk_id: str, token: str) -> None:
        """Tokens are kept hashed: a copy of the hub database does not let anyone act as a kiosk."""
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q("INSERT INTO kiosk_tokens (token_sha256, kiosk_id) VALUES (?, ?) ON CONFLICT (token_sha256) DO NOTHING"),
                        (token_hash(token), kiosk_id))
            self._conn.commit()

    def kiosk_for_token_hash(self, digest: str) -> str | None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute(self._q("SELECT kiosk_id FROM kiosk_tokens WHERE token_sha256 = ?"), (digest,))
            row = cur.fetchone()
            self._end_read()
        return None if row is None else row[0]

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

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._init()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # "accepted" must survive a power cut
        return conn

    def _schema(self) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS submissions (
                id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, service TEXT NOT NULL, kind TEXT NOT NULL,
                created_at TEXT NOT NULL, received_at REAL NOT NULL, content_hash TEXT NOT NULL, payload TEXT NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS submissions_kiosk ON submissions(kiosk_id, service)",
            "CREATE TABLE IF NOT EXISTS kiosk_tokens (token_sha256 TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL)",
        ]


class PostgresHubStore(HubStore):
    kind = "postgresql"
    _ph = "%s"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self._init()

    def _connect(self) -> Any:
        import psycopg  # only needed for a PostgreSQL deployment

        return psycopg.connect(self.url, connect_timeout=10)

    def _schema(self) -> list[str]:
        return [
            """CREATE TABLE IF NOT EXISTS submissions (
                id TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL, service TEXT NOT NULL, kind TEXT NOT NULL,
                created_at TEXT NOT NULL, received_at DOUBLE PRECISION NOT NULL, content_hash TEXT NOT NULL,
                payload JSONB NOT NULL)""",
            "CREATE INDEX IF NOT EXISTS submissions_kiosk ON submissions(kiosk_id, service)",
            "CREATE TABLE IF NOT EXISTS kiosk_tokens (token_sha256 TEXT PRIMARY KEY, kiosk_id TEXT NOT NULL)",
        ]

    def _end_read(self) -> None:
        self._conn.rollback()

    def payload(self, submission_id: str) -> dict[str, Any] | None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("SELECT payload::text FROM submissions WHERE id = %s", (submission_id,))
            row = cur.fetchone()
            self._end_read()
        return None if row is None else json.loads(row[0])

    def insert_batch(self, items: list[HubItem]) -> list[ItemOutcome]:
        if self._conn.closed or self._conn.broken:
            with self._lock:
                self._conn = self._connect()
        return super().insert_batch(items)


def open_hub_store(db_url: str) -> HubStore:
    """`postgresql://…` (or postgres://) → PostgreSQL; `sqlite:///path` or a plain path → SQLite."""
    if db_url.startswith(("postgresql://", "postgres://")):
        return PostgresHubStore(db_url)
    if db_url.startswith("sqlite:///"):
        db_url = db_url[len("sqlite:///"):]  # sqlite:///rel/path, sqlite:////abs/path
    return SqliteHubStore(db_url)


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
