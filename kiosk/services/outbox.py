"""The kiosk's outbox: submissions written durably before the screen says 提交成功.

Owns the local SQLite database (WAL, synchronous=FULL). A submission and its outbox row are
one transaction; the submission id (a UUID made when the form starts) is the idempotency key
all the way to the hub. Rows are ordered by a local sequence, never by the clock. Personal
fields live only inside the AES-GCM payload; id, service, kind, state and timestamps are clear.

States: pending → sending → acked; quarantined (hub rejected it, with the hub's reason, or a
row that cannot be read locally); withdrawn (the resident undid it before it left the kiosk).

Faults (nothing stored is ever hidden):
- Only a database SQLite itself calls malformed (SQLITE_CORRUPT / SQLITE_NOTADB, or a failed
  quick_check) is set aside; its readable rows are salvaged row by row into the new one and the
  recovery is recorded in the new database until a technician acknowledges it. Disk full, I/O
  errors and locks are reported (`OutboxUnavailable`) and retried, never "recovered".
- The key is checked against a key-check value (or the rows) on open: rows that exist with a
  missing or different key refuse enqueue and sync (`OutboxKeyError`), never re-keyed silently.
- A reserve file next to the database is released when a state update hits SQLITE_FULL, so sync
  can still mark rows sending/acked on a full disk; enqueue refuses while it cannot be restored.
"""
from __future__ import annotations

import errno
import json
import logging
import os
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from collections.abc import Callable, Iterable

from kiosk.services.durable import fsync_dir
from kiosk.errors import UserFacingError
from kiosk.services.crypto import DecryptError, FieldCipher, canonical_json

if TYPE_CHECKING:
    from drivers.diagnostics import CheckResult

log = logging.getLogger(__name__)

SCHEMA_VERSION = 3
# Migrations are additive only (new tables, indexes, columns that are NULL or have a default), so
# software of an older schema can keep reading and writing a newer database after a rollback. Each
# schema names the oldest schema whose software can still do so: its migration writes that number
# into `meta` (`min_reader_version`, with `schema_version` saying which schema declared it), and
# software meeting a newer database opens it only when the declaration allows it. Schema 3 added
# the key check every writer must honour (issue 13), so it needs a reader of 3. `kiosk update`
# reads the same rows to refuse an update or a rollback to software that cannot read the data.
MIN_READER: dict[int, int] = {1: 1, 2: 1, 3: 3}
SCHEMA_KEY, MIN_READER_KEY = "schema_version", "min_reader_version"
KINDS = ("submission", "rating")
STATES = ("pending", "sending", "acked", "quarantined", "withdrawn")


class OutboxError(UserFacingError):
    """Base for outbox errors that are safe to show (stable codes)."""

    exit_code = 1  # the request was fine; the outbox could not carry it out (kiosk.errors.exit_code_of)


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


class OutboxUnavailable(OutboxError):
    """SQLite cannot store or read right now (disk full, I/O error, locked by another process).
    The database is healthy: report it and retry later; never set it aside."""

    def __init__(self, code: str, message_zh: str, message_en: str, sqlite_error: str = "") -> None:
        super().__init__(code, message_zh, message_en)
        self.sqlite_error = sqlite_error


class OutboxKeyError(OutboxError):
    """Rows exist but the key to read them is missing or different: refuse to enqueue or sync."""

    def __init__(self, key_path: Path | None, problem: str, problem_zh: str, rows: int) -> None:
        where = str(key_path) if key_path else "the configured outbox.key_file"
        super().__init__(
            "OUTBOX_KEY",
            f"本地加密密钥{problem_zh}，{rows} 笔已保存的业务无法读取；已停止受理和上传。"
            f"请从安装备份中恢复密钥文件到 {where}（权限 0600），然后重启本机。不要删除 outbox 数据库",
            f"outbox key {problem}: {rows} stored submission(s) cannot be read, so enqueue and sync are refused. "
            f"Restore the key file from the installation backup to {where} (mode 0600), then restart; "
            "do not delete the outbox database")
        self.key_path, self.rows = key_path, rows


# SQLite's primary result codes (the low byte of an extended code)
SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_CORRUPT, SQLITE_FULL, SQLITE_NOTADB = 5, 6, 10, 11, 13, 26
_CORRUPT = (SQLITE_CORRUPT, SQLITE_NOTADB)
RESERVE_BYTES = 1024 * 1024
KEY_CHECK_AD = "outbox-key-check"


class _Malformed(sqlite3.DatabaseError):
    """quick_check found damage SQLite did not raise on its own."""


def sqlite_code(exc: BaseException) -> int | None:
    code = getattr(exc, "sqlite_errorcode", None)
    return None if code is None else code & 0xFF


def is_corrupt(exc: BaseException) -> bool:
    """Only SQLite's own verdict counts: malformed or not a database. Everything else is transient."""
    if isinstance(exc, _Malformed):
        return True
    if sqlite_code(exc) in _CORRUPT:
        return True
    # older builds without error codes: match SQLite's own wording, nothing broader
    text = str(exc)
    return sqlite_code(exc) is None and isinstance(exc, sqlite3.DatabaseError) and (
        "malformed" in text or "file is not a database" in text)


def unavailable(exc: sqlite3.Error, path: Path) -> OutboxError:
    """The clear message for a healthy database SQLite cannot use right now."""
    code, detail = sqlite_code(exc), f"{exc}"
    if code == SQLITE_FULL or "disk is full" in detail:
        return OutboxUnavailable("OUTBOX_FULL", f"本机存储空间已满，暂时无法保存业务（{path.parent}）。请清理磁盘空间",
                                 f"the disk holding {path.parent} is full: submissions cannot be stored now "
                                 "(free disk space; pending rows are kept and still sent)", detail)
    if code in (SQLITE_BUSY, SQLITE_LOCKED) or "locked" in detail:
        return OutboxUnavailable("OUTBOX_BUSY", f"本地数据库被其他程序占用（{path}），请稍后再试",
                                 f"the outbox database {path} is locked by another process; try again shortly", detail)
    if is_corrupt(exc):
        return OutboxError("OUTBOX_CORRUPT", f"本地数据库已损坏（{path}），请重启本机以恢复",
                           f"the outbox database {path} is malformed; restart the kiosk to set it aside and salvage its rows")
    return OutboxUnavailable("OUTBOX_IO", f"本地数据库暂时无法读写（{path}）：{detail}，请稍后再试或检查磁盘",
                             f"the outbox database {path} cannot be used right now ({detail}); "
                             "check the disk and try again — nothing was moved or deleted", detail)


@dataclass(frozen=True)
class Recovery:
    """A malformed database that was set aside, and what was salvaged from it."""
    moved_to: str
    problem: str
    at: float
    salvaged: int
    lost: int
    salvage_error: str | None
    acknowledged_at: float | None

    def to_json(self) -> dict[str, Any]:
        return {"recovered_from": self.moved_to, "problem": self.problem, "at": _iso(self.at),
                "rows_salvaged": self.salvaged, "rows_lost": self.lost, "salvage_error": self.salvage_error,
                "acknowledged_at": _iso(self.acknowledged_at) if self.acknowledged_at else None}


@dataclass(frozen=True)
class Claim:
    """What `claim_batch` took: entries to send, and rows quarantined locally because unreadable."""
    entries: list[OutboxEntry]
    local_quarantined: int = 0


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

    def wire_json(self) -> bytes:
        """`to_wire()` as the JSON bytes that go into the request body: one encoder pass, made
        once per item (the byte bound and the body both use it). ASCII-escaped, as a JSON
        client sends it: any string, even one that is not valid Unicode, reaches the hub intact
        and the hub judges it per item."""
        return _WIRE_ENCODER.encode(self.to_wire()).encode("ascii")


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


_WIRE_ENCODER = json.JSONEncoder(separators=(",", ":"))


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
    3: """
    CREATE TABLE meta (name TEXT PRIMARY KEY, value BLOB);   -- key_check, sync_paused
    CREATE TABLE recoveries (
        id              INTEGER PRIMARY KEY AUTOINCREMENT,
        moved_to        TEXT NOT NULL,
        problem         TEXT NOT NULL,
        at              REAL NOT NULL,
        salvaged        INTEGER NOT NULL,
        lost            INTEGER NOT NULL,
        salvage_error   TEXT,
        acknowledged_at REAL
    );
    """,
}

# The payload is read as bytes whatever its storage class: a TEXT payload (not valid UTF-8) must
# not make the whole SELECT fail; typeof() says why such a row is quarantined.
_SELECT = """SELECT s.seq, s.id, s.service, s.kind, s.kiosk_id, o.state, s.created_at, o.updated_at,
                    o.attempts, o.last_error, o.reason, o.acked_at, CAST(s.payload AS BLOB), typeof(s.payload)
             FROM submissions s JOIN outbox o ON o.seq = s.seq"""


class OutboxStore:
    """Thread-safe (one connection behind a lock); several processes may share the file.

    `cipher=None` with `key_path`: load the key there; create it only while the outbox has no
    rows (and `create_key`); rows without their key leave the store readable for status but
    refusing enqueue and sync (`key_error`)."""

    def __init__(self, db_path: str | Path, cipher: FieldCipher | None, clock: Callable[[], float] = time.time, *,
                 key_path: str | Path | None = None, create_key: bool = True, busy_timeout_s: float = 30.0,
                 reserve_bytes: int = RESERVE_BYTES) -> None:
        self.db_path = Path(db_path)
        self.cipher = cipher
        self.key_path = Path(key_path) if key_path is not None else None
        self.clock = clock
        self.busy_timeout_s = float(busy_timeout_s)
        self.reserve_path = self.db_path.with_name(self.db_path.name + ".reserve")
        self.reserve_bytes = int(reserve_bytes)
        self.reserve_releases = 0  # how often a full disk was bridged by releasing the reserve
        self.recovered_from: Path | None = None  # set when *this* open set a malformed database aside
        self.key_error: OutboxKeyError | None = None
        self._key_pinned = False
        self._next_reserve_try = 0.0
        self._lock = threading.RLock()
        try:
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutboxUnavailable("OUTBOX_IO", f"无法创建数据目录 {self.db_path.parent}：{exc.strerror}",
                                    f"cannot create the data directory {self.db_path.parent}: {exc.strerror}", str(exc)) from None
        try:
            try:
                self._conn = self._open_checked(self.db_path)
            except sqlite3.Error as exc:
                # opening needs room for -wal/-shm: on a full disk the reserve makes it, so sync can drain
                if sqlite_code(exc) not in (SQLITE_FULL, SQLITE_IOERR) or not self._release_reserve():
                    raise
                self._conn = self._open_checked(self.db_path)
        except sqlite3.Error as exc:
            if not is_corrupt(exc):  # full, I/O, locked: the file is fine; say so and leave it alone
                raise unavailable(exc, self.db_path) from None
            self._set_aside_and_salvage(exc)
            try:
                self._conn = self._open_checked(self.db_path)
            except sqlite3.Error as exc2:
                raise unavailable(exc2, self.db_path) from None
        try:
            self._check_key(create_key)
        except sqlite3.Error as exc:
            self._conn.close()
            raise unavailable(exc, self.db_path) from None
        except BaseException:
            self._conn.close()
            raise
        self._ensure_reserve()

    # -- opening, integrity, migrations ----------------------------------------------------
    def _open_checked(self, path: Path) -> sqlite3.Connection:
        if not path.exists():  # SQLite gives -wal/-shm the database file's mode
            try:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
            except OSError as exc:
                raise sqlite3.OperationalError(f"cannot create {path}: {exc.strerror}") from None
        conn = sqlite3.connect(path, timeout=self.busy_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL").fetchone()
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA secure_delete=ON")  # purged personal data does not linger in free pages
            result = conn.execute("PRAGMA quick_check").fetchall()
            if result != [("ok",)]:
                raise _Malformed(f"quick_check: {'; '.join(str(r[0]) for r in result[:3])}")
            self._migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _migrate(self, conn: sqlite3.Connection) -> None:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            min_reader = declared_min_reader(conn, version)
            if min_reader is None or min_reader > SCHEMA_VERSION:
                raise OutboxError("OUTBOX_SCHEMA", "本地数据库版本过新，本软件无法读取，请安装较新版本",
                                  f"outbox schema {version} needs software of schema {min_reader or version} or newer; "
                                  f"this software reads up to {SCHEMA_VERSION}")
            return  # a newer, additive schema: used as it is, never migrated down
        for target in range(version + 1, SCHEMA_VERSION + 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] >= target:  # another process migrated
                    conn.execute("ROLLBACK")
                    continue
                for statement in _MIGRATIONS[target].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                if target >= 3:  # meta exists from schema 3 on
                    _declare_readers(conn, target)
                conn.execute(f"PRAGMA user_version={target}")
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        if declared_min_reader(conn, SCHEMA_VERSION) != MIN_READER[SCHEMA_VERSION]:  # migrated by older software
            conn.execute("BEGIN IMMEDIATE")
            try:
                if conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION:
                    _declare_readers(conn, SCHEMA_VERSION)
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise

    def _set_aside_and_salvage(self, exc: Exception) -> None:
        """Build a fresh database holding every readable row plus a record of this recovery,
        then keep the malformed file under a new name and put the fresh one in its place.
        Until the final rename the malformed file stays where it was, so a crash midway just
        repeats the recovery on the next start."""
        stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(self.clock()))
        target = self.db_path.with_name(f"{self.db_path.name}.corrupt-{stamp}")
        n = 1
        while target.exists():
            target = self.db_path.with_name(f"{self.db_path.name}.corrupt-{stamp}-{n}")
            n += 1
        tmp = self.db_path.with_name(f".{self.db_path.name}.salvage-{os.getpid()}")
        for suffix in ("", "-wal", "-shm", "-journal"):
            Path(str(tmp) + suffix).unlink(missing_ok=True)
        try:
            new = self._open_checked(tmp)
        except sqlite3.Error as exc2:
            raise unavailable(exc2, self.db_path) from None
        try:
            salvaged, lost, salvage_error = self._salvage_into(new)
            new.execute("INSERT INTO recoveries (moved_to, problem, at, salvaged, lost, salvage_error) VALUES (?,?,?,?,?,?)",
                        (str(target), str(exc)[:300], self.clock(), salvaged, lost, salvage_error))
            new.execute("PRAGMA journal_mode=DELETE")  # fold the WAL in: the file must stand alone when renamed
        except sqlite3.Error as exc2:
            new.close()
            raise unavailable(exc2, self.db_path) from None
        new.close()
        os.link(self.db_path, target)
        for suffix in ("-wal", "-shm"):
            src = Path(str(self.db_path) + suffix)
            if src.exists():
                src.rename(Path(str(target) + suffix))
        os.replace(tmp, self.db_path)
        fsync_dir(self.db_path.parent)
        self.recovered_from = target
        log.error("outbox database %s was malformed (%s); set aside as %s: %d rows salvaged, %d unreadable%s",
                  self.db_path, exc, target, salvaged, lost, f" ({salvage_error})" if salvage_error else "")

    def _salvage_into(self, new: sqlite3.Connection) -> tuple[int, int, str | None]:
        """Copy rows one by one (ciphertexts as they are: no key needed). Returns (salvaged,
        lost, error reading the file at all)."""
        try:
            old = sqlite3.connect(self.db_path, timeout=self.busy_timeout_s, isolation_level=None)
        except sqlite3.Error as exc:
            return 0, 0, str(exc)
        try:
            def scan(sql: str) -> tuple[set[int], str | None]:
                seen: set[int] = set()
                try:
                    for (seq,) in old.execute(sql):
                        if isinstance(seq, int):
                            seen.add(seq)
                except sqlite3.Error as e:
                    return seen, str(e)
                return seen, None

            subs, err1 = scan("SELECT seq FROM submissions")
            outs, err2 = scan("SELECT seq FROM outbox")
            seqs = subs | outs
            if err1 and err2 and not seqs:
                hi, _ = scan("SELECT seq FROM sqlite_sequence WHERE name='submissions'")
                if not hi:
                    return 0, 0, f"no table could be read: {err1}"
                seqs = set(range(1, max(hi) + 1))
            elif err1 or err2:  # a scan stopped at a damaged page: probe every rowid up to the highest known
                hi, _ = scan("SELECT seq FROM sqlite_sequence WHERE name='submissions'")
                seqs = set(range(1, max(seqs | hi | {0}) + 1))
            salvaged = lost = 0
            new.execute("BEGIN IMMEDIATE")
            for seq in sorted(seqs):
                try:
                    srow = old.execute("SELECT id, kind, service, kiosk_id, created_at, payload FROM submissions WHERE seq=?",
                                       (seq,)).fetchone()
                    sub_ok = True
                except sqlite3.Error:
                    srow, sub_ok = None, False
                try:
                    orow = old.execute("SELECT state, attempts, last_error, reason, updated_at, acked_at FROM outbox WHERE seq=?",
                                       (seq,)).fetchone()
                except sqlite3.Error:
                    orow = None
                if srow is None:
                    lost += (not sub_ok) or orow is not None  # an outbox row whose submission is gone
                    continue
                state, attempts, last_error, reason, updated_at, acked_at = orow or ("pending", 0, None, None, srow[4], None)
                if state not in STATES or state == "sending":
                    state = "pending"  # unsure rows go back in line: the hub answers a repeat as duplicate
                try:
                    new.execute("INSERT INTO submissions (seq, id, kind, service, kiosk_id, created_at, payload) VALUES (?,?,?,?,?,?,?)",
                                (seq, *srow))
                    new.execute("INSERT INTO outbox (seq, state, attempts, last_error, reason, updated_at, acked_at) VALUES (?,?,?,?,?,?,?)",
                                (seq, state, attempts or 0, last_error, reason, updated_at or srow[4], acked_at))
                    salvaged += 1
                except sqlite3.IntegrityError:
                    lost += 1
            new.execute("COMMIT")
            return salvaged, lost, None
        finally:
            old.close()

    def _check_key(self, create_key: bool) -> None:
        rows = self._conn.execute("SELECT COUNT(*) FROM submissions").fetchone()[0]
        if self.cipher is None:
            if self.key_path is None:
                raise ValueError("OutboxStore needs a cipher or a key_path")
            try:
                self.cipher = FieldCipher.load(self.key_path)
            except FileNotFoundError:
                if rows:
                    self.key_error = OutboxKeyError(self.key_path, "file is missing", "文件缺失", rows)
                    log.info("%s", self.key_error.message_en)  # raised (one clear message) when used
                    return
                if not create_key:
                    return  # nothing stored yet, nothing to protect; the kiosk creates it on first use
                self.cipher = FieldCipher.load_or_create(self.key_path)
        check = self._conn.execute("SELECT value FROM meta WHERE name='key_check'").fetchone()
        if check is not None:
            if self._is_key_check(check[0]):
                self._key_pinned = True
                return
            if rows:
                self.key_error = OutboxKeyError(self.key_path, "does not match the stored submissions (was the key file replaced?)",
                                                "与已保存的业务不匹配（密钥文件可能被替换）", rows)
                log.info("%s", self.key_error.message_en)  # raised (one clear message) when used
                return
        elif rows:  # written before key checks existed: any readable recent row vouches for the key
            sample = self._conn.execute("SELECT id, CAST(payload AS BLOB) FROM submissions WHERE typeof(payload)='blob' "
                                        "ORDER BY seq DESC LIMIT 16").fetchall()
            if sample and not any(self._decrypts(blob, sid) for sid, blob in sample):
                self.key_error = OutboxKeyError(self.key_path, "does not decrypt any stored submission (was the key file replaced?)",
                                                "无法解密已保存的业务（密钥文件可能被替换）", rows)
                log.info("%s", self.key_error.message_en)  # raised (one clear message) when used
                return
        self._pin_key(replace=rows == 0)

    def _pin_key(self, replace: bool) -> None:
        """Record which key this outbox uses (best effort: a full disk must not stop the open)."""
        assert self.cipher is not None
        blob = self.cipher.encrypt({"key_check": 1}, KEY_CHECK_AD)
        try:
            with self._lock:
                self._conn.execute(("INSERT OR REPLACE" if replace else "INSERT OR IGNORE")
                                   + " INTO meta (name, value) VALUES ('key_check', ?)", (blob,))
            self._key_pinned = True
        except sqlite3.Error as exc:
            log.warning("could not record the outbox key check yet: %s", exc)

    def _is_key_check(self, blob: Any) -> bool:
        return isinstance(blob, bytes) and self._decrypts(blob, KEY_CHECK_AD)

    def _decrypts(self, blob: bytes, associated: str) -> bool:
        if self.cipher is None:  # never so here: _check_key loads or creates the key first
            return False
        try:
            self.cipher.decrypt(blob, associated)
            return True
        except (DecryptError, ValueError):
            return False

    def _require_key(self) -> FieldCipher:
        if self.key_error is not None:
            raise self.key_error
        if self.cipher is None:
            raise OutboxKeyError(self.key_path, "file is missing", "文件缺失", 0)
        return self.cipher

    # -- the full-disk reserve --------------------------------------------------------------
    def _ensure_reserve(self) -> bool:
        """True when the reserve file is in place (re-made now if space allows)."""
        if self.reserve_bytes <= 0:
            return True
        try:
            if self.reserve_path.stat().st_size >= self.reserve_bytes:
                return True
        except OSError:
            pass
        tmp = self.reserve_path.with_name(f".{self.reserve_path.name}.{os.getpid()}.{threading.get_ident()}")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                try:
                    os.posix_fallocate(fd, 0, self.reserve_bytes)
                except OSError as exc:
                    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                        raise
                    os.write(fd, bytes(self.reserve_bytes))  # a filesystem without fallocate
                os.fsync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, self.reserve_path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            log.info("outbox reserve %s cannot be made: %s", self.reserve_path, exc.strerror)  # enqueue says so
            return False
        log.info("outbox reserve %s in place (%d bytes)", self.reserve_path, self.reserve_bytes)
        return True

    def _release_reserve(self) -> bool:
        try:
            self.reserve_path.unlink()
        except FileNotFoundError:
            return False
        self.reserve_releases += 1
        self._next_reserve_try = time.monotonic() + 10.0
        log.info("disk full: released the outbox reserve %s so sync can keep recording its progress", self.reserve_path)
        return True

    def _maybe_restore_reserve(self) -> None:
        if (self.reserve_bytes > 0 and time.monotonic() >= self._next_reserve_try and not self.reserve_path.exists()
                and not self._ensure_reserve()):
            self._next_reserve_try = time.monotonic() + 10.0

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> OutboxStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _tx(self) -> _Transaction:
        return _Transaction(self)

    def _write(self, work: Callable[[sqlite3.Connection], Any], use_reserve: bool = True) -> Any:
        """`work` in one IMMEDIATE transaction. SQLite trouble becomes a clear OutboxError; on
        SQLITE_FULL a state update releases the reserve and tries once more."""
        try:
            with self._tx() as conn:
                result = work(conn)
        except sqlite3.Error as exc:
            if not (use_reserve and sqlite_code(exc) == SQLITE_FULL and self._release_reserve()):
                raise unavailable(exc, self.db_path) from None
            try:
                with self._tx() as conn:
                    result = work(conn)
            except sqlite3.Error as exc2:
                raise unavailable(exc2, self.db_path) from None
        else:
            self._maybe_restore_reserve()
        return result

    def _read(self, work: Callable[[sqlite3.Connection], Any]) -> Any:
        try:
            with self._lock:
                return work(self._conn)
        except sqlite3.Error as exc:
            raise unavailable(exc, self.db_path) from None

    # -- writing ----------------------------------------------------------------------------
    @staticmethod
    def new_submission_id() -> str:
        return str(uuid.uuid4())

    def enqueue(self, submission_id: str, service_code: str, kiosk_id: str, payload: dict[str, Any],
                kind: str = "submission") -> OutboxEntry:
        """Durable (committed with synchronous=FULL) before it returns; idempotent per id.
        Refuses (OutboxUnavailable OUTBOX_FULL) while the disk cannot hold the sync reserve:
        the last space belongs to draining what residents were already promised."""
        submission_id = _check_id(submission_id)
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not service_code or not kiosk_id:
            raise ValueError("service_code and kiosk_id are required")
        if not isinstance(payload, dict):
            raise TypeError("payload must be a dict")
        canonical_json(payload)  # refuse NaN/unserialisable values before anything is written
        cipher = self._require_key()
        now = self.clock()
        blob = cipher.encrypt(payload, submission_id)
        if not self._ensure_reserve():
            raise unavailable(sqlite3.OperationalError("database or disk is full (no room for the sync reserve)"), self.db_path)
        key_check = None if self._key_pinned else cipher.encrypt({"key_check": 1}, KEY_CHECK_AD)

        def work(conn: sqlite3.Connection) -> Any:
            existing = conn.execute(_SELECT + " WHERE s.id = ?", (submission_id,)).fetchone()
            if existing is not None:
                return existing
            cur = conn.execute(
                "INSERT INTO submissions (id, kind, service, kiosk_id, created_at, payload) VALUES (?,?,?,?,?,?)",
                (submission_id, kind, service_code, kiosk_id, now, blob))
            conn.execute("INSERT INTO outbox (seq, state, updated_at) VALUES (?, 'pending', ?)", (cur.lastrowid, now))
            if key_check is not None:
                conn.execute("INSERT OR IGNORE INTO meta (name, value) VALUES ('key_check', ?)", (key_check,))
            seq = cur.lastrowid
            assert seq is not None  # set by the INSERT just made
            return OutboxEntry(seq, submission_id, service_code, kind, kiosk_id, "pending", now, now, payload=payload)

        result = self._write(work, use_reserve=False)
        self._key_pinned = True
        if isinstance(result, OutboxEntry):
            return result
        entry = self._entry(result, decrypt=True)
        same = (entry.service, entry.kind, entry.kiosk_id) == (service_code, kind, kiosk_id) and \
            entry.payload is not None and canonical_json(entry.payload) == canonical_json(payload)
        if not same:
            raise SubmissionConflict(submission_id)
        return entry

    def next_batch(self, limit: int) -> list[OutboxEntry]:
        """Claim up to `limit` pending rows in sequence order (→ sending), payloads decrypted."""
        return self.claim_batch(limit).entries

    def claim_batch(self, limit: int) -> Claim:
        """Claim up to `limit` pending rows (→ sending). A row that cannot be read or decrypted
        is quarantined locally with its reason instead of blocking the queue. Refuses while the
        key does not match the stored rows (that is not one bad row, it is the wrong key)."""
        return self.ack_and_claim((), limit)

    def ack_and_claim(self, acked_ids: Iterable[str], limit: int) -> Claim:
        """`mark_acked(acked_ids)` and `claim_batch(limit)` as one transaction, so a pipelined
        sync pays one commit (one fsync) per batch. `limit` 0: only the acks (no key needed)."""
        ids = list(dict.fromkeys(acked_ids))
        if limit > 0 or not ids:
            self._require_key()
        now = self.clock()

        def work(conn: sqlite3.Connection) -> tuple[list[OutboxEntry], list[tuple[int, str, str]]]:
            self._mark_acked_in(conn, ids, now)
            entries: list[OutboxEntry] = []
            bad: list[tuple[int, str, str]] = []  # seq, id, problem
            for seq, row in (self._pending_rows(conn, limit) if limit > 0 else ()):
                if row is None or isinstance(row, str):
                    bad.append((seq, "?", row or "row cannot be read"))
                    continue
                payload, problem = self._open_payload(row)
                if problem:
                    bad.append((seq, row[1], problem))
                else:  # the entry as it will be once this transaction commits (one object per row)
                    seq_, sid, service, kind, kiosk, _state, created, _updated, attempts, error, reason, acked = row[:12]
                    entries.append(OutboxEntry(seq_, sid, service, kind, kiosk, "sending", created, now, attempts + 1, error,
                                               reason, acked, payload=payload))
            if entries:  # one statement per batch, not one per row
                conn.execute(f"UPDATE outbox SET state='sending', attempts=attempts+1, updated_at=? "
                             f"WHERE state='pending' AND seq IN {_IN_LIST}", (now, _json_list([e.seq for e in entries])))
            conn.executemany("UPDATE outbox SET state='quarantined', reason=?, updated_at=? WHERE seq=?",
                             [(f"local: {problem}"[:500], now, seq) for seq, _, problem in bad])
            return entries, bad

        entries, bad = self._write(work)
        for seq, sid, problem in bad:
            log.error("outbox row %s (seq %d) quarantined locally: %s", sid, seq, problem)
        return Claim(entries, len(bad))

    @staticmethod
    def _pending_rows(conn: sqlite3.Connection, limit: int) -> list[tuple[int, tuple | str | None]]:
        sql = _SELECT + " WHERE o.state = 'pending' ORDER BY s.seq LIMIT ?"
        try:
            return [(r[0], r) for r in conn.execute(sql, (max(0, int(limit)),)).fetchall()]
        except sqlite3.OperationalError as exc:
            if sqlite_code(exc) is not None:
                raise  # SQLite's own trouble (full, busy, I/O): not a row problem
        # Python could not decode some column of some row: read them one at a time
        seqs = [r[0] for r in conn.execute("SELECT seq FROM outbox WHERE state='pending' ORDER BY seq LIMIT ?", (max(0, int(limit)),))]
        out: list[tuple[int, tuple | str | None]] = []
        for seq in seqs:
            try:
                out.append((seq, conn.execute(_SELECT + " WHERE s.seq = ?", (seq,)).fetchone()))
            except sqlite3.OperationalError as exc:
                if sqlite_code(exc) is not None:
                    raise
                out.append((seq, f"row cannot be read: {str(exc)[:120]}"))
        return out

    _ACK = ("UPDATE outbox SET state='acked', acked_at=?, updated_at=?, last_error=NULL "
            "WHERE state IN ('sending','pending','quarantined') AND {ids}")

    def mark_acked(self, ids: Iterable[str]) -> int:
        now = self.clock()
        return self._by_ids(ids, self._ACK, (now, now))

    def _mark_acked_in(self, conn: sqlite3.Connection, ids: list[str], now: float) -> int:
        return _update_by_ids(conn, ids, self._ACK, (now, now))

    def _by_ids(self, ids: Iterable[str], sql: str, params: tuple) -> int:
        """`sql` (its `{ids}` naming the rows of these submission ids) as a few set-based
        statements in one transaction; returns the rows changed. No ids: no transaction."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        return self._write(lambda conn: _update_by_ids(conn, ids, sql, params))

    def quarantine(self, submission_id: str, reason: str) -> bool:
        now = self.clock()
        return self._write(lambda conn: conn.execute(
            "UPDATE outbox SET state='quarantined', reason=?, updated_at=? "
            "WHERE seq=(SELECT seq FROM submissions WHERE id=?) AND state IN ('sending','pending')",
            (str(reason)[:500], now, submission_id)).rowcount == 1)

    def release_sending(self, ids: Iterable[str] | None = None, error: str | None = None) -> int:
        """sending → pending: after a crash (ids=None: all), or after a failed attempt."""
        now = self.clock()
        if ids is None:
            return self._write(lambda conn: conn.execute(
                "UPDATE outbox SET state='pending', updated_at=? WHERE state='sending'", (now,)).rowcount)
        return self._by_ids(ids, "UPDATE outbox SET state='pending', last_error=COALESCE(?, last_error), updated_at=? "
                                 "WHERE state='sending' AND {ids}", (error[:500] if error else None, now))

    def unclaim(self, ids: Iterable[str]) -> int:
        """sending → pending for rows claimed but never posted (a prepared batch the hub's
        trouble stopped): the claim's attempt is taken back, last_error left as it was."""
        return self._by_ids(ids, "UPDATE outbox SET state='pending', attempts=MAX(attempts-1, 0), updated_at=? "
                                 "WHERE state='sending' AND {ids}", (self.clock(),))

    def retry_quarantined(self, ids: Iterable[str] | None = None) -> int:
        now = self.clock()
        if ids is None:
            return self._write(lambda conn: conn.execute(
                "UPDATE outbox SET state='pending', updated_at=? WHERE state='quarantined'", (now,)).rowcount)
        return self._by_ids(ids, "UPDATE outbox SET state='pending', updated_at=? WHERE state='quarantined' AND {ids}", (now,))

    def purge_acked(self, older_than_days: float) -> int:
        """Delete acked (and withdrawn) rows older than the retention period; returns how many."""
        cutoff = self.clock() - float(older_than_days) * 86400.0

        def work(conn: sqlite3.Connection) -> list[int]:
            seqs = [r[0] for r in conn.execute(
                "SELECT seq FROM outbox WHERE (state='acked' AND acked_at < ?) OR (state='withdrawn' AND updated_at < ?)",
                (cutoff, cutoff))]
            conn.executemany("DELETE FROM outbox WHERE seq=?", [(s,) for s in seqs])
            conn.executemany("DELETE FROM submissions WHERE seq=?", [(s,) for s in seqs])
            return seqs

        seqs = self._write(work)
        if seqs:
            log.info("purged %d synced outbox rows older than %s days", len(seqs), older_than_days)
        return len(seqs)

    def undo(self, submission_id: str, within_s: float = 600) -> OutboxEntry:
        """Withdraw a submission that has not left the kiosk yet; refuse with a clear message otherwise."""
        now = self.clock()

        def work(conn: sqlite3.Connection) -> OutboxEntry:
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
            return _replace(entry, state="withdrawn", updated_at=now)

        entry = self._write(work)
        log.info("submission %s withdrawn by the resident", submission_id)
        return entry

    # -- recoveries and the sync pause (technician-visible state kept in the database) -------
    def recoveries(self, include_acknowledged: bool = False) -> list[Recovery]:
        sql = ("SELECT moved_to, problem, at, salvaged, lost, salvage_error, acknowledged_at FROM recoveries"
               + ("" if include_acknowledged else " WHERE acknowledged_at IS NULL") + " ORDER BY id")
        return [Recovery(*r) for r in self._read(lambda conn: conn.execute(sql).fetchall())]

    def acknowledge_recoveries(self) -> int:
        """A technician has seen the set-aside databases: diag stops reporting them."""
        now = self.clock()
        n = self._write(lambda conn: conn.execute(
            "UPDATE recoveries SET acknowledged_at=? WHERE acknowledged_at IS NULL", (now,)).rowcount)
        if n:
            log.warning("outbox recoveries acknowledged by a technician (%d)", n)
        return n

    def sync_paused(self) -> str | None:
        row = self._read(lambda conn: conn.execute("SELECT value FROM meta WHERE name='sync_paused'").fetchone())
        return None if row is None else str(row[0])

    def set_sync_paused(self, reason: str | None) -> None:
        """Recorded so `kiosk diag` in another process sees it; best effort (a full disk keeps it in memory only)."""
        try:
            if self.sync_paused() == reason:
                return
            if reason is None:
                self._write(lambda conn: conn.execute("DELETE FROM meta WHERE name='sync_paused'"))
            else:
                self._write(lambda conn: conn.execute(
                    "INSERT OR REPLACE INTO meta (name, value) VALUES ('sync_paused', ?)", (str(reason)[:300],)))
        except OutboxError as exc:
            log.warning("could not record the sync pause: %s", exc)

    # -- reading ----------------------------------------------------------------------------
    def get(self, submission_id: str) -> OutboxEntry | None:
        row = self._read(lambda conn: conn.execute(_SELECT + " WHERE s.id = ?", (submission_id,)).fetchone())
        return None if row is None else self._entry(row, decrypt=True)

    def list(self, state: str | None = None, limit: int = 100, reveal: bool = False) -> list[OutboxEntry]:
        """Newest first. Payloads stay encrypted unless `reveal` (an explicit technician action)."""
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {STATES}")
        sql = _SELECT + (" WHERE o.state = ?" if state else "") + " ORDER BY s.seq DESC LIMIT ?"
        rows = self._read(lambda conn: conn.execute(sql, ((state,) if state else ()) + (int(limit),)).fetchall())
        return [self._entry(r, decrypt=reveal) for r in rows]

    def status(self) -> OutboxStatus:
        def work(conn: sqlite3.Connection) -> tuple[dict, Any]:
            counts = dict(conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state").fetchall())
            oldest = conn.execute(
                "SELECT MIN(s.created_at) FROM submissions s JOIN outbox o ON o.seq=s.seq WHERE o.state IN ('pending','sending')"
            ).fetchone()[0]
            return counts, oldest

        counts, oldest = self._read(work)
        age = None if oldest is None else max(0.0, self.clock() - oldest)
        return OutboxStatus(**{s: counts.get(s, 0) for s in STATES}, oldest_pending_age_s=age)

    def faults(self) -> dict[str, Any]:
        """What a technician must see beside the counts (`outbox status`, diag)."""
        open_recoveries = self.recoveries()
        latest = open_recoveries[-1] if open_recoveries else None
        return {
            "recovered_from": latest.moved_to if latest else (str(self.recovered_from) if self.recovered_from else None),
            "rows_salvaged": sum(r.salvaged for r in open_recoveries),
            "rows_lost": sum(r.lost for r in open_recoveries),
            "recoveries": [r.to_json() for r in open_recoveries],
            "key_error": self.key_error.message_en if self.key_error else None,
            "key_path": str(self.key_path) if self.key_path else None,
            "sync_paused": self.sync_paused(),
            "reserve_in_place": self.reserve_bytes <= 0 or self.reserve_path.exists(),
        }

    def self_test(self, stale_after_s: float = 3600.0) -> CheckResult:
        """For `kiosk diag` and the technician screen: queue depth, oldest pending age, quarantine,
        a set-aside database not yet acknowledged, a key that does not fit, a paused sync."""
        from drivers.diagnostics import CheckResult, CheckStatus

        start = time.perf_counter()
        try:
            status = self.status()
            faults = self.faults()
        except OutboxError as exc:
            return CheckResult("outbox.db", CheckStatus.ERROR, f"outbox database unreadable: {exc.message_en}", exc.message_zh)
        data = {**status.to_json(), **faults}
        age = status.oldest_pending_age_s or 0.0
        problems, errors = [], []
        if self.key_error:
            errors.append((self.key_error.message_en, self.key_error.message_zh))
        if faults["sync_paused"]:
            errors.append((f"sync paused: {faults['sync_paused']}", f"上传已暂停：{faults['sync_paused']}"))
        if status.quarantined:
            problems.append((f"{status.quarantined} quarantined", f"{status.quarantined} 笔待人工处理"))
        if age > stale_after_s:
            problems.append((f"oldest pending {age / 3600:.1f} h", f"最早待发送 {age / 3600:.1f} 小时"))
        if faults["recoveries"]:
            problems.append((f"a malformed database was set aside as {faults['recovered_from']} "
                             f"({faults['rows_salvaged']} rows salvaged, {faults['rows_lost']} lost); "
                             "acknowledge with `kiosk outbox acknowledge`",
                             f"数据库曾损坏已另存为 {faults['recovered_from']}（恢复 {faults['rows_salvaged']} 笔，"
                             f"丢失 {faults['rows_lost']} 笔），确认后执行 kiosk outbox acknowledge"))
        if not faults["reserve_in_place"]:
            problems.append(("disk full: the sync reserve is in use, new submissions are refused",
                             "磁盘已满：已动用同步预留空间，暂停受理新业务"))
        pending = status.pending + status.sending
        detail = f"{pending} pending" + "".join(f"; {en}" for en, _ in errors + problems)
        detail_zh = f"待发送 {pending} 笔" + "".join(f"；{zh}" for _, zh in errors + problems)
        level = CheckStatus.ERROR if errors else CheckStatus.DEGRADED if problems else CheckStatus.OK
        return CheckResult("outbox.db", level, detail, detail_zh, (time.perf_counter() - start) * 1000, data)

    def _read_entry(self, row: tuple) -> tuple[OutboxEntry, str | None]:
        """The entry with its payload, or the reason it cannot be sent."""
        payload, problem = self._open_payload(row)
        seq, sid, service, kind, kiosk, state, created, updated, attempts, error, reason, acked = row[:12]
        return OutboxEntry(seq, sid, service, kind, kiosk, state, created, updated, attempts, error, reason, acked,
                           payload=payload), problem

    def _open_payload(self, row: tuple) -> tuple[dict[str, Any] | None, str | None]:
        """A `_SELECT` row's payload decrypted, or the reason it cannot be sent."""
        if row[13] != "blob":
            return None, f"payload stored as {row[13]}, not an encrypted blob"
        try:
            payload = self._require_key().decrypt(row[12], row[1])
        except DecryptError as exc:
            return None, f"payload does not decrypt with this key ({exc})"
        except ValueError as exc:  # decrypted, but not JSON
            return None, f"payload is not readable JSON ({str(exc)[:80]})"
        if not isinstance(payload, dict):
            return None, "payload is not an object"
        return payload, None

    def _entry(self, row: tuple, decrypt: bool = False) -> OutboxEntry:
        if not decrypt or self.cipher is None:
            return OutboxEntry(*row[:12])
        entry, problem = self._read_entry(row)
        if problem:
            log.error("outbox row %s: %s", row[1], problem)
        return entry


def declared_min_reader(conn: sqlite3.Connection, version: int) -> int | None:
    """The oldest schema that can read this database, as declared by the software that migrated it
    to `version`; None when nothing (or another schema) declared it."""
    try:
        rows = dict(conn.execute("SELECT name, CAST(value AS TEXT) FROM meta WHERE name IN (?, ?)",
                                 (SCHEMA_KEY, MIN_READER_KEY)).fetchall())
    except sqlite3.OperationalError:  # no meta table (schema < 3)
        return None
    try:
        return int(rows[MIN_READER_KEY]) if int(rows.get(SCHEMA_KEY, -1)) == version else None
    except (KeyError, TypeError, ValueError):
        return None


def _declare_readers(conn: sqlite3.Connection, version: int) -> None:
    conn.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)",
                     ((SCHEMA_KEY, str(version)), (MIN_READER_KEY, str(MIN_READER[version]))))


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
        conn = self.store._conn
        try:
            if exc_type is None:
                try:
                    conn.execute("COMMIT")
                except BaseException:  # e.g. SQLITE_FULL at commit: leave no transaction open
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            elif conn.in_transaction:  # SQLite may already have rolled back (full disk, I/O error)
                conn.execute("ROLLBACK")
        finally:
            self.store._lock.release()


# A list of values is bound as one JSON array parameter, so each statement has one text whatever
# the list's length. Text of `?,?,…` per length made a new prepared statement for every batch size:
# with the hub away the pending backlog grows by one per resident, every retry claimed a batch one
# longer than the last, and the connection's statement cache (128 entries) filled with ~30 KiB
# statements — ~4 MiB of SQLite heap grown over a kiosk's first 200 journeys (issue 20).
_IN_LIST = "(SELECT value FROM json_each(?))"


def _json_list(values: list) -> str:
    return json.dumps(values, separators=(",", ":"))


def _update_by_ids(conn: sqlite3.Connection, ids: list[str], sql: str, params: tuple) -> int:
    if not ids:
        return 0
    return conn.execute(sql.format(ids=f"seq IN (SELECT seq FROM submissions WHERE id IN {_IN_LIST})"),
                        (*params, _json_list(ids))).rowcount


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
