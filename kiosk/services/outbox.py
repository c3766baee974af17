"""The kiosk's outbox: submissions written durably before the screen says 提交成功.

Owns the local SQLite database (WAL, synchronous=FULL). A submission and its outbox row are
one transaction; the submission id (a UUID made when the form starts) is the idempotency key
all the way to the hub. Rows are ordered by a local sequence, never by the clock. Personal
fields live only inside the AES-GCM payload; id, service, kind, state and timestamps are clear.

States: pending → sending → acked; quarantined (hub rejected it, with the hub's reason);
withdrawn (the resident undid it before it left the kiosk).
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from kiosk.errors import UserFacingError
from kiosk.services.crypto import DecryptError, FieldCipher, canonical_json

if TYPE_CHECKING:
    from drivers.diagnostics import CheckResult

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
KINDS = ("submission", "rating")
STATES = ("pending", "sending", "acked", "quarantined", "withdrawn")


class OutboxError(UserFacingError):
    """Base for outbox errors that are safe to show (stable codes)."""


class SubmissionConflict(OutboxError):
    """The same submission id was enqueued again with different content."""

    def __init__(self, submission_id: str) -> None:
        super().__init__("OUTBOX_CONFLICT", "同一业务编号的内容不一致，未保存", f"submission {submission_id} already exists with different content")
        self.submission_id = submission_id


class SubmissionNotFound(OutboxError):
    def __init__(self, submission_id: str) -> None:
        super().__init__("OUTBOX_NOT_FOUND", "找不到这笔业务", f"no submission {submission_id}")
        self.submission_id = submission_id


class UndoRefused(OutboxError):
    def __init__(self, submission_id: str, state: str, message_zh: str, message_en: str) -> None:
        super().__init__("OUTBOX_UNDO_REFUSED", message_zh, message_en)
        self.submission_id = submission_id
        self.state = state


@dataclass(frozen=True)
class OutboxEntry:
    seq: int
    id: str
    service: str
    kind: str
    kiosk_id: str
    state: str
    created_at: float
    updated_at: float
    attempts: int = 0
    last_error: str | None = None
    reason: str | None = None  # the hub's rejection reason when quarantined
    acked_at: float | None = None
    payload: dict[str, Any] | None = field(default=None, repr=False)  # None unless decrypted on request

    def to_json(self, reveal: bool = False) -> dict[str, Any]:
        out = {
            "seq": self.seq, "id": self.id, "service": self.service, "kind": self.kind, "kiosk_id": self.kiosk_id,
            "state": self.state, "created_at": _iso(self.created_at), "updated_at": _iso(self.updated_at),
            "attempts": self.attempts, "last_error": self.last_error, "reason": self.reason,
            "acked_at": _iso(self.acked_at) if self.acked_at else None,
        }
        if reveal and self.payload is not None:
            out["payload"] = self.payload
        return out

    def to_wire(self) -> dict[str, Any]:
        """The item shape `POST /v1/submissions` takes."""
        return {"id": self.id, "kiosk_id": self.kiosk_id, "service": self.service, "kind": self.kind,
                "created_at": _iso(self.created_at), "payload": self.payload}


@dataclass(frozen=True)
class OutboxStatus:
    pending: int
    sending: int
    acked: int
    quarantined: int
    withdrawn: int
    oldest_pending_age_s: float | None  # pending or sending; None when the queue is empty

    def to_json(self) -> dict[str, Any]:
        return {"pending": self.pending, "sending": self.sending, "acked": self.acked, "quarantined": self.quarantined,
                "withdrawn": self.withdrawn,
                "oldest_pending_age_s": None if self.oldest_pending_age_s is None else round(self.oldest_pending_age_s, 1)}


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int((ts % 1) * 1000):03d}Z"


_MIGRATIONS: dict[int, str] = {
    1: """
    CREATE TABLE submissions (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        id         TEXT NOT NULL UNIQUE,
        kind       TEXT NOT NULL,
        service    TEXT NOT NULL,
        kiosk_id   TEXT NOT NULL,
        created_at REAL NOT NULL,
        payload    BLOB NOT NULL          -- AES-GCM, associated data = id
    );
    CREATE TABLE outbox (
        seq        INTEGER PRIMARY KEY REFERENCES submissions(seq) ON DELETE CASCADE,
        state      TEXT NOT NULL CHECK (state IN ('pending','sending','acked','quarantined','withdrawn')),
        attempts   INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        reason     TEXT,
        updated_at REAL NOT NULL,
        acked_at   REAL
    );
    CREATE INDEX outbox_state ON outbox(state, seq);
    """,
    2: "CREATE INDEX outbox_acked_at ON outbox(acked_at) WHERE acked_at IS NOT NULL;",
}

_SELECT = """SELECT s.seq, s.id, s.service, s.kind, s.kiosk_id, o.state, s.created_at, o.updated_at,
                    o.attempts, o.last_error, o.reason, o.acked_at, s.payload
             FROM submissions s JOIN outbox o ON o.seq = s.seq"""


class OutboxStore:
    """Thread-safe (one connection behind a lock); several processes may share the file."""

    def __init__(self, db_path: str | Path, cipher: FieldCipher, clock: Callable[[], float] = time.time) -> None:
        self.db_path = Path(db_path)
        self.cipher = cipher
        self.clock = clock
        self.recovered_from: Path | None = None
        self._lock = threading.RLock()
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = self._open_checked()
        except sqlite3.DatabaseError as exc:
            self._move_aside(exc)
            self._conn = self._open_checked()

    # -- opening, integrity, migrations ----------------------------------------------------
    def _open_checked(self) -> sqlite3.Connection:
        if not self.db_path.exists():  # SQLite gives -wal/-shm the database file's mode
            os.close(os.open(self.db_path, os.O_WRONLY | os.O_CREAT, 0o600))
        conn = sqlite3.connect(self.db_path, timeout=30.0, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA secure_delete=ON")  # purged personal data does not linger in free pages
            result = conn.execute("PRAGMA quick_check").fetchall()
            if result != [("ok",)]:
                raise sqlite3.DatabaseError(f"quick_check: {'; '.join(r[0] for r in result[:3])}")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise OutboxError("OUTBOX_SCHEMA", "本地数据库版本过新", f"outbox schema {version} is newer than this software ({SCHEMA_VERSION})")
        for target in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] >= target:  # another process migrated
                    conn.execute("ROLLBACK")
                    continue
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version={target}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _move_aside(self, exc: Exception) -> None:
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self.clock()))
        target = self.db_path.with_name(f"{self.db_path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.db_path.with_name(f"{self.db_path.name}.corrupt-{stamp}-{n}")
            n += 1
        for suffix in ("", "-wal", "-shm"):
            src = Path(str(self.db_path) + suffix)
            if src.exists():
                src.rename(Path(str(target) + suffix))
        self.recovered_from = target
        log.error("outbox database %s was corrupt (%s); moved aside to %s, continuing with a fresh database",
                  self.db_path, exc, target)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> "OutboxStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> "_Transaction":
        return _Transaction(self)

    # -- writing ----------------------------------------------------------------------------
    @staticmethod
    def new_submission_id() -> str:
        return str(uuid.uuid4())

    def enqueue(self, submission_id: str, service_code: str, kiosk_id: str, payload: dict[str, Any],
                kind: str = "submission") -> OutboxEntry:
        """Durable (committed with synchronous=FULL) before it returns; idempotent per id."""
        submission_id = _check_id(submission_id)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not service_code or not kiosk_id:
            raise ValueError("service_code and kiosk_id are required")
        if not isinstance(payload, dict):
            raise TypeError("payload must be a dict")
        canonical_json(payload)  # refuse NaN/unserialisable values before anything is written
        now = self.clock()
        blob = self.cipher.encrypt(payload, submission_id)
        with self._tx() as conn:
            existing = conn.execute(_SELECT + " WHERE s.id = ?", (submission_id,)).fetchone()
            if existing is None:
                cur = conn.execute(
                    "INSERT INTO submissions (id, kind, service, kiosk_id, created_at, payload) VALUES (?,?,?,?,?,?)",
                    (submission_id, kind, service_code, kiosk_id, now, blob))
                conn.execute("INSERT INTO outbox (seq, state, updated_at) VALUES (?, 'pending', ?)", (cur.lastrowid, now))
                return OutboxEntry(cur.lastrowid, submission_id, service_code, kind, kiosk_id, "pending", now, now, payload=payload)
        entry = self._entry(existing, decrypt=True)
        same = (entry.service, entry.kind, entry.kiosk_id) == (service_code, kind, kiosk_id) and \
            entry.payload is not None and canonical_json(entry.payload) == canonical_json(payload)
        if not same:
            raise SubmissionConflict(submission_id)
        return entry

    def next_batch(self, limit: int) -> list[OutboxEntry]:
        """Claim up to `limit` pending rows in sequence order (→ sending), payloads decrypted.
        A row that no longer decrypts is quarantined locally instead of blocking the queue."""
        now = self.clock()
        with self._tx() as conn:
            rows = conn.execute(_SELECT + " WHERE o.state = 'pending' ORDER BY s.seq LIMIT ?", (max(0, int(limit)),)).fetchall()
            entries, bad = [], []
            for row in rows:
                entry = self._entry(row, decrypt=True)
                (entries if entry.payload is not None else bad).append(entry)
            conn.executemany("UPDATE outbox SET state='sending', attempts=attempts+1, updated_at=? WHERE seq=?",
                             [(now, e.seq) for e in entries])
            conn.executemany("UPDATE outbox SET state='quarantined', reason='local: payload does not decrypt with this key', updated_at=? WHERE seq=?",
                             [(now, e.seq) for e in bad])
        for e in bad:
            log.error("outbox row %s does not decrypt; quarantined", e.id)
        return [_replace(e, state="sending", attempts=e.attempts + 1, updated_at=now) for e in entries]

    def mark_acked(self, ids: Iterable[str]) -> int:
        now = self.clock()
        with self._tx() as conn:
            return sum(conn.execute(
                "UPDATE outbox SET state='acked', acked_at=?, updated_at=?, last_error=NULL "
                "WHERE seq=(SELECT seq FROM submissions WHERE id=?) AND state IN ('sending','pending','quarantined')",
                (now, now, i)).rowcount for i in ids)

    def quarantine(self, submission_id: str, reason: str) -> bool:
        now = self.clock()
        with self._tx() as conn:
            return conn.execute(
                "UPDATE outbox SET state='quarantined', reason=?, updated_at=? "
                "WHERE seq=(SELECT seq FROM submissions WHERE id=?) AND state IN ('sending','pending')",
                (str(reason)[:500], now, submission_id)).rowcount == 1

    def release_sending(self, ids: Iterable[str] | None = None, error: str | None = None) -> int:
        """sending → pending: after a crash (ids=None: all), or after a failed attempt."""
        now = self.clock()
        with self._tx() as conn:
            if ids is None:
                return conn.execute("UPDATE outbox SET state='pending', updated_at=? WHERE state='sending'", (now,)).rowcount
            return sum(conn.execute(
                "UPDATE outbox SET state='pending', last_error=COALESCE(?, last_error), updated_at=? "
                "WHERE seq=(SELECT seq FROM submissions WHERE id=?) AND state='sending'",
                (error[:500] if error else None, now, i)).rowcount for i in ids)

    def retry_quarantined(self, ids: Iterable[str] | None = None) -> int:
        now = self.clock()
        with self._tx() as conn:
            if ids is None:
                return conn.execute("UPDATE outbox SET state='pending', updated_at=? WHERE state='quarantined'", (now,)).rowcount
            return sum(conn.execute(
                "UPDATE outbox SET state='pending', updated_at=? WHERE seq=(SELECT seq FROM submissions WHERE id=?) AND state='quarantined'",
                (now, i)).rowcount for i in ids)

    def purge_acked(self, older_than_days: float) -> int:
        """Delete acked (and withdrawn) rows older than the retention period; returns how many."""
        cutoff = self.clock() - float(older_than_days) * 86400.0
        with self._tx() as conn:
            seqs = [r[0] for r in conn.execute(
                "SELECT seq FROM outbox WHERE (state='acked' AND acked_at < ?) OR (state='withdrawn' AND updated_at < ?)",
                (cutoff, cutoff))]
            conn.executemany("DELETE FROM outbox WHERE seq=?", [(s,) for s in seqs])
            conn.executemany("DELETE FROM submissions WHERE seq=?", [(s,) for s in seqs])
        if seqs:
            log.info("purged %d synced outbox rows older than %s days", len(seqs), older_than_days)
        return len(seqs)

    def undo(self, submission_id: str, within_s: float = 600) -> OutboxEntry:
        """Withdraw a submission that has not left the kiosk yet; refuse with a clear message otherwise."""
        now = self.clock()
        with self._tx() as conn:
            row = conn.execute(_SELECT + " WHERE s.id = ?", (submission_id,)).fetchone()
            if row is None:
                raise SubmissionNotFound(submission_id)
            entry = self._entry(row)
            if entry.state == "withdrawn":
                return entry
            if entry.state in ("sending", "acked"):
                raise UndoRefused(submission_id, entry.state, "该业务已提交到医保中心，无法撤回，请到窗口咨询",
                                  "already sent to the insurance centre; it cannot be withdrawn here, please ask at the counter")
            if entry.state == "quarantined":
                raise UndoRefused(submission_id, entry.state, "该业务正在人工核查，请到窗口咨询",
                                  "this submission is held for review; please ask at the counter")
            if now - entry.created_at > within_s:
                raise UndoRefused(submission_id, entry.state, "已超过可撤回时间，请到窗口咨询",
                                  f"the {int(within_s // 60)}-minute window to withdraw has passed; please ask at the counter")
            conn.execute("UPDATE outbox SET state='withdrawn', updated_at=? WHERE seq=? AND state='pending'", (now, entry.seq))
        log.info("submission %s withdrawn by the resident", submission_id)
        return _replace(entry, state="withdrawn", updated_at=now)

    # -- reading ----------------------------------------------------------------------------
    def get(self, submission_id: str) -> OutboxEntry | None:
        with self._lock:
            row = self._conn.execute(_SELECT + " WHERE s.id = ?", (submission_id,)).fetchone()
        return None if row is None else self._entry(row, decrypt=True)

    def list(self, state: str | None = None, limit: int = 100, reveal: bool = False) -> list[OutboxEntry]:
        """Newest first. Payloads stay encrypted unless `reveal` (an explicit technician action)."""
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        sql = _SELECT + (" WHERE o.state = ?" if state else "") + " ORDER BY s.seq DESC LIMIT ?"
        with self._lock:
            rows = self._conn.execute(sql, ((state,) if state else ()) + (int(limit),)).fetchall()
        return [self._entry(r, decrypt=reveal) for r in rows]

    def status(self) -> OutboxStatus:
        with self._lock:
            counts = dict(self._conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
            oldest = self._conn.execute(
                "SELECT MIN(s.created_at) FROM submissions s JOIN outbox o ON o.seq=s.seq WHERE o.state IN ('pending','sending')"
            ).fetchone()[0]
        age = None if oldest is None else max(0.0, self.clock() - oldest)
        return OutboxStatus(*(counts.get(s, 0) for s in STATES), oldest_pending_age_s=age)

    def self_test(self, stale_after_s: float = 3600.0) -> "CheckResult":
        """For `kiosk diag` and the technician screen: queue depth, oldest pending age, quarantine."""
        from drivers.diagnostics import CheckResult, CheckStatus

        start = time.perf_counter()
        try:
            status = self.status()
        except sqlite3.Error as exc:
            return CheckResult("outbox.db", CheckStatus.ERROR, f"outbox database unreadable: {exc}", "本地数据库无法读取")
        data = {**status.to_json(), "recovered_from": str(self.recovered_from) if self.recovered_from else None}
        age = status.oldest_pending_age_s or 0.0
        problems = []
        if status.quarantined:
            problems.append((f"{status.quarantined} quarantined", f"{status.quarantined} 笔待人工处理"))
        if age > stale_after_s:
            problems.append((f"oldest pending {age / 3600:.1f} h", f"最早待发送 {age / 3600:.1f} 小时"))
        if self.recovered_from:
            problems.append(("database was corrupt and moved aside", "数据库曾损坏已另存"))
        pending = status.pending + status.sending
        detail = f"{pending} pending" + "".join(f"; {en}" for en, _ in problems)
        detail_zh = f"待发送 {pending} 笔" + "".join(f"；{zh}" for _, zh in problems)
        return CheckResult("outbox.db", CheckStatus.DEGRADED if problems else CheckStatus.OK, detail, detail_zh,
                           (time.perf_counter() - start) * 1000, data)

    def _entry(self, row: tuple, decrypt: bool = False) -> OutboxEntry:
        payload = None
        if decrypt:
            try:
                payload = self.cipher.decrypt(row[12], row[1])
            except DecryptError as exc:
                log.error("outbox row %s: %s", row[1], exc)
        return OutboxEntry(*row[:12], payload=payload)


class _Transaction:
    """BEGIN IMMEDIATE … COMMIT under the store's lock: the writer lock is taken up front so a
    claim (select + update) cannot interleave with another process's claim."""

    def __init__(self, store: OutboxStore) -> None:
        self.store = store

    def __enter__(self) -> sqlite3.Connection:
        self.store._lock.acquire()
        try:
            self.store._conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store._lock.release()
            raise
        return self.store._conn

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        try:
            self.store._conn.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self.store._lock.release()


def _replace(entry: OutboxEntry, **changes: Any) -> OutboxEntry:
    import dataclasses
    return dataclasses.replace(entry, **changes)


def _check_id(submission_id: str) -> str:
    try:
        parsed = uuid.UUID(str(submission_id))
    except ValueError:
        raise ValueError(f"submission id must be a UUID, got {submission_id!r}") from None
    if str(parsed) != submission_id:
        raise ValueError("submission id must be a lowercase canonical UUID")
    return submission_id
