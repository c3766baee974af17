"""Queue tickets: numbering, priority (green channel), calling order, print state. No Qt.

Owns `<data_dir>/queue.sqlite3` (WAL, synchronous=FULL). Numbers are band letter + 3 digits
(a 4th digit appears only past 999 in one day), per band per local day, derived from the rows
inside a `BEGIN IMMEDIATE` transaction with a UNIQUE(day, band, serial) constraint: a restart
never reissues a number and two processes never share one.

Calling order: priority and normal tickets alternate by `priority_ratio` [p, n] — p priority
calls, then n normal calls, cycling; an empty class yields its slot to the other; FIFO within a
class. `people_ahead` replays that rule over today's waiting tickets of the same band, from their
counts alone (`place_in_calling_order`): a ticket printed while hundreds wait reads no rows.
A failed print keeps the ticket and its number (print_state "failed", listed for reprint).

Schema v2 (the hall, issue 17): a ticket may carry the submission it was issued for (one ticket
per submission: issuing again returns the first), how it ended (`outcome` done | returned |
transferred | skipped, a note), when it was first called and finished (waiting and handling
times), and a route: a transfer puts a called ticket back in line in another band and/or for one
counter, keeping its place (its issue order), under the number the resident holds.

Schema v3 (issue 19): `appointments` (预约). A clerk books one for a service and a day (optionally a
time window); the resident checks in at the kiosk with its 8-digit code and is queued with the
appointment's priority. The check-in claims the code and issues the ticket in one transaction;
a repeat with the same request id (a kiosk retrying a lost reply) gets the same ticket, any other
use of a used code is refused.
"""
from __future__ import annotations

import math
import sqlite3
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from collections.abc import Callable

from kiosk.config import QueueSection

SCHEMA_VERSION = 3
OUTCOMES = ("done", "returned", "transferred")
# Every reason is served alike (the priority class of `calling_order`); the reason is recorded and
# printed. elderly comes from the card's birth date, appointment from a 预约 check-in, the others
# are self-declared on the identify screen (config [priority] reasons).
PRIORITY_REASONS = ("elderly", "disabled", "pregnant", "military", "other", "appointment")
PRIORITY_LABELS_ZH = {"elderly": "长者优先", "disabled": "残疾人优先", "pregnant": "孕妇优先", "military": "军人优先",
                      "other": "优先照顾", "appointment": "预约优先"}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS tickets (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,  -- issue order (never the clock)
    ticket_id       TEXT NOT NULL UNIQUE,
    day             TEXT NOT NULL,                      -- local date YYYY-MM-DD
    band            TEXT NOT NULL,
    serial          INTEGER NOT NULL,
    number          TEXT NOT NULL,
    service_code    TEXT NOT NULL,
    service_name    TEXT NOT NULL,
    priority_reason TEXT,
    issued_at       TEXT NOT NULL,
    state           TEXT NOT NULL DEFAULT 'waiting',    -- waiting | called | skipped | done
    print_state     TEXT NOT NULL DEFAULT 'pending',    -- pending | printed | failed
    print_error     TEXT,
    counter         INTEGER,
    called_at       TEXT,
    call_seq        INTEGER,
    UNIQUE (day, band, serial)
);
CREATE INDEX IF NOT EXISTS tickets_waiting ON tickets (day, state, seq);
CREATE TABLE IF NOT EXISTS appointments (
    code            TEXT PRIMARY KEY,                   -- 8 digits, typed or scanned at the kiosk
    service_code    TEXT NOT NULL,
    service_name    TEXT NOT NULL,
    band            TEXT NOT NULL,
    day             TEXT NOT NULL,                      -- local date YYYY-MM-DD
    window_from     TEXT,                               -- HH:MM or NULL (any time that day)
    window_until    TEXT,
    priority_reason TEXT NOT NULL DEFAULT 'appointment',
    created_at      TEXT NOT NULL,
    created_by      TEXT NOT NULL DEFAULT '',
    checked_in_at   TEXT,
    request_id      TEXT,                               -- the kiosk's check-in request (idempotency)
    ticket_id       TEXT
);
CREATE TABLE IF NOT EXISTS call_cycle (
    day  TEXT PRIMARY KEY,
    slot INTEGER NOT NULL,       -- position in the p+n alternation cycle
    calls INTEGER NOT NULL       -- calls made today (orders current_calls)
);
"""

# v1 → v2: ALTER TABLE only adds nullable columns, so a v1 file upgrades in place on open.
_V2_COLUMNS = (
    ("submission_id", "TEXT"),     # the submission this ticket was issued for (the hall links them)
    ("outcome", "TEXT"),           # done | returned | transferred | skipped
    ("note", "TEXT"),              # the clerk's note (returned: the missing materials)
    ("first_called_at", "TEXT"),   # waiting time = first_called_at - issued_at
    ("finished_at", "TEXT"),       # handling time = finished_at - first_called_at
    ("route_band", "TEXT"),        # transferred to another band (NULL: its own)
    ("route_counter", "INTEGER"),  # transferred to one counter (NULL: any)
)


CHECK_IN_EARLY_MIN = 60  # a resident may check in this long before the booked window opens
CHECK_IN_LATE_MIN = 30  # and this long after it closed


class AppointmentRefused(Exception):
    """A check-in that cannot be accepted: `reason` is unknown | not_yet | expired | used."""

    def __init__(self, reason: str, appointment: Appointment | None = None) -> None:
        super().__init__(reason)
        self.reason, self.appointment = reason, appointment


@dataclass(frozen=True)
class Appointment:
    code: str
    service_code: str
    service_name: str
    band: str
    day: str
    window_from: str | None
    window_until: str | None
    priority_reason: str
    created_at: str
    checked_in_at: str | None = None
    ticket_id: str | None = None

    def to_json(self) -> dict:
        return {"code": self.code, "service": self.service_code, "service_name": self.service_name, "day": self.day,
                "from": self.window_from, "until": self.window_until, "priority_reason": self.priority_reason,
                "checked_in_at": self.checked_in_at, "ticket_id": self.ticket_id}


@dataclass(frozen=True)
class Ticket:
    ticket_id: str
    number: str
    band: str
    service_code: str
    service_name: str
    priority_reason: str | None
    issued_at: datetime
    state: str = "waiting"
    print_state: str = "pending"
    counter: int | None = None
    submission_id: str | None = None
    outcome: str | None = None
    note: str | None = None
    called_at: datetime | None = None
    first_called_at: datetime | None = None
    finished_at: datetime | None = None
    route_band: str | None = None
    route_counter: int | None = None

    @property
    def priority(self) -> bool:
        return self.priority_reason is not None

    @property
    def queue_band(self) -> str:
        """The band it waits in now (its own unless transferred)."""
        return self.route_band or self.band

    @property
    def waiting_s(self) -> int | None:
        if self.first_called_at is None:
            return None
        return max(0, int((self.first_called_at - self.issued_at).total_seconds()))

    @property
    def handling_s(self) -> int | None:
        if self.first_called_at is None or self.finished_at is None:
            return None
        return max(0, int((self.finished_at - self.first_called_at).total_seconds()))

    def to_json(self) -> dict:
        return {
            "ticket_id": self.ticket_id, "number": self.number, "band": self.band,
            "service": self.service_code, "service_name": self.service_name,
            "priority": self.priority, "priority_reason": self.priority_reason,
            "issued_at": self.issued_at.isoformat(timespec="seconds"),
            "state": self.state, "print_state": self.print_state, "counter": self.counter,
        }


def announcement_text(ticket: Ticket, counter: int) -> str:
    """What the lobby speaker says and the display shows."""
    return call_announcement(ticket.number, counter)


def call_announcement(number: str, counter: int) -> str:
    return f"请 {number} 号到 {counter} 号窗口办理"


def calling_order(waiting: list[Ticket], ratio: tuple[int, int], slot: int) -> list[Ticket]:
    """The order `call_next` would call these (issue-ordered) tickets in, from cycle `slot`. Pure."""
    p, n = ratio
    priority = [t for t in waiting if t.priority]
    normal = [t for t in waiting if not t.priority]
    order: list[Ticket] = []
    while priority or normal:
        want_priority = (slot % (p + n)) < p
        source = priority if (want_priority and priority) or not normal else normal
        order.append(source.pop(0))
        slot += 1
    return order


def place_in_calling_order(priority: bool, before: int, priority_waiting: int, normal_waiting: int,
                           ratio: tuple[int, int], slot: int) -> int:
    """Where `calling_order` puts a ticket of the given class that has `before` tickets of its own
    class ahead of it in issue order, among `priority_waiting` + `normal_waiting` tickets: how many
    are called before it. The same rule from counts alone, so no ticket list is read (issue 20:
    the list of everyone waiting, read twice for every ticket printed, grew with the queue). Pure."""
    p, n = ratio
    left = {True: priority_waiting, False: normal_waiting}
    called = 0
    while True:
        want_priority = (slot % (p + n)) < p
        takes_priority = (want_priority and left[True] > 0) or left[False] == 0
        if takes_priority == priority:
            if before == 0:
                return called
            before -= 1
        left[takes_priority] -= 1
        called += 1
        slot += 1


class QueueService:
    def __init__(self, db_path: Path, queue_config: QueueSection, elderly_age: int,
                 clock: Callable[[], datetime] = datetime.now) -> None:
        self.db_path = Path(db_path)
        self.config = queue_config
        self.elderly_age = elderly_age
        self.clock = clock
        self.ratio = (max(1, int(queue_config.priority_ratio[0])), max(1, int(queue_config.priority_ratio[1])))
        self.db_path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.db_path, isolation_level=None, timeout=30, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=30000")
        with self._transaction():
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    self._db.execute(statement)
            row = self._db.execute("SELECT version FROM schema_version").fetchone()
            if row is not None and row["version"] > SCHEMA_VERSION:
                raise RuntimeError(f"{self.db_path}: queue schema v{row['version']} is newer than this software (v{SCHEMA_VERSION})")
            self._migrate_v2()
            if row is None:
                self._db.execute("INSERT INTO schema_version (version) VALUES (?)", (SCHEMA_VERSION,))
            elif row["version"] < SCHEMA_VERSION:
                self._db.execute("UPDATE schema_version SET version = ?", (SCHEMA_VERSION,))

    def _migrate_v2(self) -> None:
        have = {r["name"] for r in self._db.execute("PRAGMA table_info(tickets)")}
        for name, kind in _V2_COLUMNS:
            if name not in have:
                self._db.execute(f"ALTER TABLE tickets ADD COLUMN {name} {kind}")
        self._db.execute("CREATE UNIQUE INDEX IF NOT EXISTS tickets_submission ON tickets (submission_id)"
                         " WHERE submission_id IS NOT NULL")

    @property
    def lock(self) -> threading.RLock:
        """Held around every statement: another store on the same file (the hall's) takes it
        too, so writers in one process queue on it instead of in SQLite's sleeping busy handler."""
        return self._lock

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> QueueService:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- resident side ---------------------------------------------------------------------
    def priority_for(self, age: int | None, disabled: bool, appointment: bool) -> str | None:
        if age is not None and age >= self.elderly_age:
            return "elderly"
        if disabled:
            return "disabled"
        if appointment:
            return "appointment"
        return None

    def issue(self, service_code: str, service_name: str, band: str, priority_reason: str | None,
              submission_id: str | None = None) -> Ticket:
        """A new number; with `submission_id`, the ticket already issued for it if there is one
        (a kiosk retrying after a lost reply must not put the resident in line twice)."""
        if band not in self.config.band_names:
            raise ValueError(f"unknown queue band {band!r}; configured: {', '.join(sorted(self.config.band_names))}")
        if priority_reason is not None and priority_reason not in PRIORITY_REASONS:
            raise ValueError(f"unknown priority reason {priority_reason!r}")
        now = self.clock()
        with self._transaction():
            if submission_id is not None:
                row = self._db.execute("SELECT * FROM tickets WHERE submission_id = ?", (submission_id,)).fetchone()
                if row is not None:
                    return _ticket(row)
            return self._issue_locked(service_code, service_name, band, priority_reason, submission_id, now)

    def _issue_locked(self, service_code: str, service_name: str, band: str, priority_reason: str | None,
                      submission_id: str | None, now: datetime) -> Ticket:
        """The next number of the band (inside the caller's transaction)."""
        day = now.date().isoformat()
        ticket_id = str(uuid.uuid4())
        (last,) = self._db.execute("SELECT COALESCE(MAX(serial), 0) FROM tickets WHERE day = ? AND band = ?",
                                   (day, band)).fetchone()
        serial = last + 1
        number = f"{band}{serial:03d}"
        self._db.execute(
            "INSERT INTO tickets (ticket_id, day, band, serial, number, service_code, service_name,"
            " priority_reason, issued_at, submission_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (ticket_id, day, band, serial, number, service_code, service_name, priority_reason,
             now.isoformat(timespec="seconds"), submission_id),
        )
        return Ticket(ticket_id, number, band, service_code, service_name, priority_reason,
                      now.replace(microsecond=0), submission_id=submission_id)

    # -- appointments (预约) ----------------------------------------------------------------------
    def add_appointment(self, service_code: str, service_name: str, band: str, day: str,
                        window_from: str | None = None, window_until: str | None = None,
                        priority_reason: str = "appointment", created_by: str = "") -> Appointment:
        """Book one; the code is 8 random digits, unique among all appointments kept."""
        import secrets

        if band not in self.config.band_names:
            raise ValueError(f"unknown queue band {band!r}; configured: {', '.join(sorted(self.config.band_names))}")
        if priority_reason not in PRIORITY_REASONS:
            raise ValueError(f"unknown priority reason {priority_reason!r}")
        datetime.strptime(day, "%Y-%m-%d")  # ValueError names a bad date
        for value in (window_from, window_until):
            if value is not None:
                datetime.strptime(value, "%H:%M")
        if window_from and window_until and window_until < window_from:
            raise ValueError("the window ends before it starts")
        now = self.clock().isoformat(timespec="seconds")
        with self._transaction():
            while True:
                code = f"{secrets.randbelow(10**8):08d}"
                if self._db.execute("SELECT 1 FROM appointments WHERE code = ?", (code,)).fetchone() is None:
                    break
            self._db.execute("INSERT INTO appointments (code, service_code, service_name, band, day, window_from,"
                             " window_until, priority_reason, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                             (code, service_code, service_name, band, day, window_from, window_until, priority_reason,
                              now, created_by))
        return Appointment(code, service_code, service_name, band, day, window_from, window_until, priority_reason, now)

    def appointments(self, day: str | None = None) -> list[Appointment]:
        with self._lock:
            rows = self._db.execute("SELECT * FROM appointments WHERE day = ? ORDER BY window_from, created_at",
                                    (day or self._today(),)).fetchall()
        return [_appointment(r) for r in rows]

    def check_in(self, code: str, request_id: str) -> tuple[Appointment, Ticket]:
        """Claim the appointment and queue its ticket (with the appointment's priority) in one
        transaction. The same `request_id` again returns the same ticket; AppointmentRefused
        otherwise (unknown, not yet, expired, used)."""
        now = self.clock()
        with self._transaction():
            row = self._db.execute("SELECT * FROM appointments WHERE code = ?", (code,)).fetchone()
            if row is None:
                raise AppointmentRefused("unknown")
            booked = _appointment(row)
            if row["checked_in_at"] is not None:
                ticket = self._db.execute("SELECT * FROM tickets WHERE ticket_id = ?", (row["ticket_id"],)).fetchone()
                if row["request_id"] == request_id and ticket is not None:
                    return booked, _ticket(ticket)  # a retried request: the same ticket, never a second place
                raise AppointmentRefused("used", booked)
            refused = _window_problem(booked, now)
            if refused:
                raise AppointmentRefused(refused, booked)
            ticket = self._issue_locked(booked.service_code, booked.service_name, booked.band, booked.priority_reason, None, now)
            stamp = now.isoformat(timespec="seconds")
            self._db.execute("UPDATE appointments SET checked_in_at = ?, request_id = ?, ticket_id = ? WHERE code = ?",
                             (stamp, request_id, ticket.ticket_id, code))
        return _appointment_with(booked, stamp, ticket.ticket_id), ticket

    def by_submission(self, submission_id: str) -> Ticket | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM tickets WHERE submission_id = ?", (submission_id,)).fetchone()
        return _ticket(row) if row else None

    def get(self, ticket_id: str) -> Ticket | None:
        with self._lock:
            row = self._db.execute("SELECT * FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone()
        return _ticket(row) if row else None

    def people_ahead(self, ticket: Ticket) -> int:
        """Waiting tickets of the same band that the calling rule puts before this one."""
        band = ticket.queue_band
        with self._lock:
            day = self._today()
            row = self._db.execute("SELECT seq, priority_reason IS NOT NULL FROM tickets WHERE ticket_id = ? AND day = ?"
                                   " AND state = 'waiting' AND COALESCE(route_band, band) = ?",
                                   (ticket.ticket_id, day, band)).fetchone()
            if row is None:
                return 0  # already called or from another day: nobody ahead
            seq, priority = row[0], bool(row[1])
            priority_waiting, normal_waiting, before = self._db.execute(
                "SELECT COALESCE(SUM(priority_reason IS NOT NULL), 0), COALESCE(SUM(priority_reason IS NULL), 0),"
                " COALESCE(SUM(seq < ? AND (priority_reason IS NOT NULL) = ?), 0) FROM tickets"
                " WHERE day = ? AND state = 'waiting' AND COALESCE(route_band, band) = ?",
                (seq, priority, day, band)).fetchone()
            slot = self._slot(day)
        return place_in_calling_order(priority, before, priority_waiting, normal_waiting, self.ratio, slot)

    def estimated_wait_min(self, ticket: Ticket) -> int:
        per_ticket = float(self.config.minutes_per_ticket.get(ticket.band, 5.0))
        return int(math.ceil(self.people_ahead(ticket) * per_ticket))

    def mark_printed(self, ticket_id: str) -> None:
        self._set_print_state(ticket_id, "printed", None)

    def mark_print_failed(self, ticket_id: str, reason: str) -> None:
        self._set_print_state(ticket_id, "failed", reason)

    def withdraw(self, ticket_id: str) -> bool:
        """The resident withdrew the submission: a ticket not yet called leaves the queue (done)."""
        with self._transaction():
            cursor = self._db.execute("UPDATE tickets SET state = 'done' WHERE ticket_id = ? AND state = 'waiting'",
                                      (ticket_id,))
            return cursor.rowcount == 1

    def reprint_candidates(self) -> list[Ticket]:
        """Today's still-valid tickets whose print failed, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM tickets WHERE day = ? AND print_state = 'failed' AND state IN ('waiting', 'called')"
                " ORDER BY seq", (self._today(),)).fetchall()
        return [_ticket(r) for r in rows]

    def waiting(self, service_code: str | None = None) -> list[Ticket]:
        """Today's waiting tickets in the order they would be called."""
        with self._lock:
            day = self._today()
            rows = [t for t in self._waiting_rows(day) if service_code is None or t.service_code == service_code]
            slot = self._slot(day)
        return calling_order(rows, self.ratio, slot)

    def waiting_by_band(self) -> dict[str, int]:
        """Today's waiting tickets per band they wait in (every configured band, zero included)."""
        counts = {band: 0 for band in self.config.band_names}
        with self._lock:
            for t in self._waiting_rows(self._today()):
                counts[t.queue_band] = counts.get(t.queue_band, 0) + 1
        return counts

    def recent_calls(self, limit: int = 10) -> list[Ticket]:
        """Today's calls, most recent first, whatever became of them since."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM tickets WHERE day = ? AND call_seq IS NOT NULL"
                                    " ORDER BY call_seq DESC LIMIT ?", (self._today(), limit)).fetchall()
        return [_ticket(r) for r in rows]

    def last_finished(self, counter: int) -> Ticket | None:
        """Today's ticket most recently ended done or returned at this counter (the rating pad's)."""
        with self._lock:
            row = self._db.execute("SELECT * FROM tickets WHERE day = ? AND counter = ? AND state = 'done'"
                                   " AND outcome IN ('done', 'returned') AND finished_at IS NOT NULL"
                                   " ORDER BY finished_at DESC, call_seq DESC LIMIT 1", (self._today(), counter)).fetchone()
        return _ticket(row) if row else None

    def today(self, limit: int = 500) -> list[Ticket]:
        """Today's tickets in issue order (the hall's overview)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM tickets WHERE day = ? ORDER BY seq LIMIT ?",
                                    (self._today(), limit)).fetchall()
        return [_ticket(r) for r in rows]

    # -- counter side ----------------------------------------------------------------------
    def call_next(self, counter: int, service_code: str | None = None,
                  bands: tuple[str, ...] | None = None) -> Ticket | None:
        """Finish the counter's current ticket (done) and call the next one by the rule. Tickets
        transferred to another counter are not called here; `bands` limits to those bands."""
        with self._transaction():
            day = self._today()
            now = self.clock().isoformat(timespec="seconds")
            self._db.execute("UPDATE tickets SET state = 'done', outcome = COALESCE(outcome, 'done'),"
                             " finished_at = COALESCE(finished_at, ?) WHERE day = ? AND state = 'called' AND counter = ?",
                             (now, day, counter))
            waiting = [t for t in self._waiting_rows(day)
                       if (service_code is None or t.service_code == service_code)
                       and (bands is None or t.queue_band in bands)
                       and t.route_counter in (None, counter)]
            if not waiting:
                return None
            slot = self._slot(day)
            chosen = calling_order(waiting, self.ratio, slot)[0]
            (calls,) = self._db.execute("SELECT COALESCE(MAX(calls), 0) FROM call_cycle WHERE day = ?", (day,)).fetchone()
            self._db.execute("INSERT INTO call_cycle (day, slot, calls) VALUES (?, ?, ?) ON CONFLICT(day) DO UPDATE"
                             " SET slot = excluded.slot, calls = excluded.calls", (day, (slot + 1) % sum(self.ratio), calls + 1))
            self._db.execute("UPDATE tickets SET state = 'called', counter = ?, called_at = ?, call_seq = ?,"
                             " first_called_at = COALESCE(first_called_at, ?), outcome = NULL, finished_at = NULL"
                             " WHERE ticket_id = ?", (counter, now, calls + 1, now, chosen.ticket_id))
            return self._get_locked(chosen.ticket_id)

    def current(self, counter: int) -> Ticket | None:
        """The ticket now called to this counter (same as `recall`, without meaning an announcement)."""
        return self.recall(counter)

    def finish(self, ticket_id: str, outcome: str, note: str = "", to_band: str | None = None,
               to_counter: int | None = None) -> Ticket | None:
        """End a called ticket: `done`, `returned` (退回补正; the note says what is missing) or
        `transferred` (back in line for `to_band` and/or `to_counter`, keeping its issue order).
        None when the ticket is not called now (already finished, skipped or never called)."""
        if outcome not in OUTCOMES:
            raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}, got {outcome!r}")
        if outcome == "transferred":
            if to_band is None and to_counter is None:
                raise ValueError("a transfer needs a band or a counter to go to")
            if to_band is not None and to_band not in self.config.band_names:
                raise ValueError(f"unknown queue band {to_band!r}; configured: {', '.join(sorted(self.config.band_names))}")
        now = self.clock().isoformat(timespec="seconds")
        with self._transaction():
            row = self._db.execute("SELECT * FROM tickets WHERE ticket_id = ? AND state = 'called'", (ticket_id,)).fetchone()
            if row is None:
                return None
            if outcome == "transferred":
                self._db.execute("UPDATE tickets SET state = 'waiting', counter = NULL, outcome = 'transferred', note = ?,"
                                 " route_band = ?, route_counter = ? WHERE ticket_id = ?",
                                 (note or None, to_band if to_band is not None else row["route_band"], to_counter, ticket_id))
            else:
                self._db.execute("UPDATE tickets SET state = 'done', outcome = ?, note = ?, finished_at = ? WHERE ticket_id = ?",
                                 (outcome, note or None, now, ticket_id))
            return self._get_locked(ticket_id)

    def recall(self, counter: int) -> Ticket | None:
        """The counter's current ticket, to announce again."""
        with self._lock:
            row = self._db.execute("SELECT * FROM tickets WHERE day = ? AND state = 'called' AND counter = ?"
                                   " ORDER BY call_seq DESC LIMIT 1", (self._today(), counter)).fetchone()
        return _ticket(row) if row else None

    def skip(self, counter: int) -> Ticket | None:
        return self._finish(counter, "skipped")

    def done(self, counter: int) -> Ticket | None:
        return self._finish(counter, "done")

    def current_calls(self) -> list[Ticket]:
        """Tickets now called to a counter, most recent first (for the lobby display)."""
        with self._lock:
            rows = self._db.execute("SELECT * FROM tickets WHERE day = ? AND state = 'called' ORDER BY call_seq DESC",
                                    (self._today(),)).fetchall()
        return [_ticket(r) for r in rows]

    def ticket_content(self, ticket: Ticket, service_point: str, footer: str = "请留意叫号，过号请到服务台"):
        """The printable ticket (people ahead and wait computed now: right for a reprint too)."""
        from drivers.printer.ticket import TicketContent

        return TicketContent(
            service_point=service_point, service_name=ticket.service_name, number=ticket.number,
            people_ahead=self.people_ahead(ticket), estimated_wait_min=self.estimated_wait_min(ticket),
            issued_at=ticket.issued_at, priority=ticket.priority, ticket_id=ticket.ticket_id,
            counter_hint=PRIORITY_LABELS_ZH.get(ticket.priority_reason or "", ""), footer=footer,
        )

    # -- internals ---------------------------------------------------------------------------
    def _today(self) -> str:
        return self.clock().date().isoformat()

    def _slot(self, day: str) -> int:
        row = self._db.execute("SELECT slot FROM call_cycle WHERE day = ?", (day,)).fetchone()
        return row["slot"] if row else 0

    def _waiting_rows(self, day: str) -> list[Ticket]:
        rows = self._db.execute("SELECT * FROM tickets WHERE day = ? AND state = 'waiting' ORDER BY seq", (day,)).fetchall()
        return [_ticket(r) for r in rows]

    def _get_locked(self, ticket_id: str) -> Ticket:
        return _ticket(self._db.execute("SELECT * FROM tickets WHERE ticket_id = ?", (ticket_id,)).fetchone())

    def _finish(self, counter: int, state: str) -> Ticket | None:
        with self._transaction():
            row = self._db.execute("SELECT * FROM tickets WHERE day = ? AND state = 'called' AND counter = ?"
                                   " ORDER BY call_seq DESC LIMIT 1", (self._today(), counter)).fetchone()
            if row is None:
                return None
            self._db.execute("UPDATE tickets SET state = ?, outcome = ?, finished_at = ? WHERE ticket_id = ?",
                             (state, state, self.clock().isoformat(timespec="seconds"), row["ticket_id"]))
            return self._get_locked(row["ticket_id"])

    def _set_print_state(self, ticket_id: str, print_state: str, error: str | None) -> None:
        with self._transaction():
            cursor = self._db.execute("UPDATE tickets SET print_state = ?, print_error = ? WHERE ticket_id = ?",
                                      (print_state, error, ticket_id))
            if cursor.rowcount != 1:
                raise KeyError(f"no ticket {ticket_id}")

    def _transaction(self):
        return _Immediate(self._db, self._lock)


class _Immediate:
    """BEGIN IMMEDIATE … COMMIT (ROLLBACK on error): takes the write lock up front, so two
    processes issuing at once serialise instead of both reading the same MAX(serial)."""

    def __init__(self, db: sqlite3.Connection, lock: threading.RLock) -> None:
        self._db, self._lock = db, lock

    def __enter__(self) -> None:
        self._lock.acquire()
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._lock.release()
            raise

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self._db.execute("ROLLBACK" if exc_type else "COMMIT")
        finally:
            self._lock.release()


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _appointment(row: sqlite3.Row) -> Appointment:
    return Appointment(row["code"], row["service_code"], row["service_name"], row["band"], row["day"],
                       row["window_from"], row["window_until"], row["priority_reason"], row["created_at"],
                       row["checked_in_at"], row["ticket_id"])


def _appointment_with(a: Appointment, checked_in_at: str, ticket_id: str) -> Appointment:
    from dataclasses import replace

    return replace(a, checked_in_at=checked_in_at, ticket_id=ticket_id)


def _window_problem(a: Appointment, now: datetime) -> str | None:
    """not_yet / expired / None: the day, and the booked window with its margins."""
    today = now.date().isoformat()
    if a.day < today:
        return "expired"
    if a.day > today:
        return "not_yet"
    from datetime import timedelta

    day = datetime.strptime(a.day, "%Y-%m-%d")
    if a.window_from:
        opens = datetime.combine(day.date(), datetime.strptime(a.window_from, "%H:%M").time()) - timedelta(minutes=CHECK_IN_EARLY_MIN)
        if now.replace(tzinfo=None) < opens:
            return "not_yet"
    if a.window_until:
        closes = datetime.combine(day.date(), datetime.strptime(a.window_until, "%H:%M").time()) + timedelta(minutes=CHECK_IN_LATE_MIN)
        if now.replace(tzinfo=None) > closes:
            return "expired"
    return None


def _ticket(row: sqlite3.Row) -> Ticket:
    return Ticket(
        ticket_id=row["ticket_id"], number=row["number"], band=row["band"], service_code=row["service_code"],
        service_name=row["service_name"], priority_reason=row["priority_reason"],
        issued_at=datetime.fromisoformat(row["issued_at"]), state=row["state"], print_state=row["print_state"],
        counter=row["counter"], submission_id=row["submission_id"], outcome=row["outcome"], note=row["note"],
        called_at=_time(row["called_at"]), first_called_at=_time(row["first_called_at"]),
        finished_at=_time(row["finished_at"]), route_band=row["route_band"], route_counter=row["route_counter"],
    )
