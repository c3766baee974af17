"""The console's data on the hub's own database (through `HubStore.transaction`, so SQLite and
PostgreSQL alike): staff and sessions, the audit of staff views, kiosk → station mapping,
heartbeats, figures from the clear facts table, and application states.

Figures are indexed queries over `submission_facts` (day, category, kiosk) — never a decrypt.
Application notes may name the resident's missing papers, so they are sealed with the hub key
ring like payloads (associated data `<kiosk>/<id>/state`).
"""
from __future__ import annotations

import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from kiosk.hub.console.facts import percentile
from kiosk.hub.store import HubStore, token_hash

ROLES = ("admin", "bureau", "station")
STATES = ("accepted", "processing", "done", "returned", "refused")
STATE_LABELS = {"submitted": "待受理", "accepted": "已受理", "processing": "办理中", "done": "办结",
                "returned": "退回补正", "refused": "不予受理"}
INSTANT_LIMIT_S = 600.0  # 即时办: finished within 10 minutes of taking the number
_STATION_FILTER = "kiosk_id IN (SELECT kiosk_id FROM kiosk_stations WHERE station = ?)"


@dataclass(frozen=True)
class StaffSession:
    name: str
    role: str
    station: str | None
    csrf: str
    created_at: float
    last_seen: float

    @property
    def sees_all(self) -> bool:
        return self.role in ("admin", "bureau")


class ConsoleStore:
    def __init__(self, hub: HubStore, clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.clock = clock
        self.notify_states: frozenset[str] = frozenset()  # states that queue an SMS notice (kiosk/hub/notify)
        self.on_notify: Callable[[], None] | None = None  # wakes the notice sender after the commit

    def _tx(self) -> Any:
        return self.hub.transaction()

    def _q(self, sql: str) -> str:
        return self.hub.sql(sql)

    # -- staff and sessions ------------------------------------------------------------------------
    def put_staff(self, name: str, role: str, station: str | None, password_hash: str) -> bool:
        """Create or replace (new password, role or station); True when the name is new. A
        replaced account's open sessions end."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        if (role == "station") != bool(station):
            raise ValueError("a station user needs --station ID (and only a station user has one)")
        with self._tx() as cur:
            cur.execute(self._q("SELECT 1 FROM console_staff WHERE name = ?"), (name,))
            new = cur.fetchone() is None
            cur.execute(self._q("INSERT INTO console_staff (name, role, station, password_hash, created_at) VALUES (?,?,?,?,?) "
                                "ON CONFLICT (name) DO UPDATE SET role = excluded.role, station = excluded.station, "
                                "password_hash = excluded.password_hash"), (name, role, station, password_hash, self.clock()))
            if not new:
                cur.execute(self._q("DELETE FROM console_sessions WHERE name = ?"), (name,))
        return new

    def staff(self, name: str) -> tuple[str, str] | None:
        """(role, password_hash) or None — the shape kiosk.hall.auth.check_login expects."""
        with self._tx() as cur:
            cur.execute(self._q("SELECT role, password_hash FROM console_staff WHERE name = ?"), (name,))
            row = cur.fetchone()
        return (row[0], row[1]) if row else None

    def set_password_hash(self, name: str, password_hash: str) -> None:
        with self._tx() as cur:
            cur.execute(self._q("UPDATE console_staff SET password_hash = ? WHERE name = ?"), (password_hash, name))

    def open_session(self, name: str) -> tuple[str, str]:
        """(cookie token, csrf token); only the token's hash is stored; role and station are
        copied from the account at login."""
        token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(24)
        now = self.clock()
        with self._tx() as cur:
            cur.execute(self._q("INSERT INTO console_sessions (token_hash, name, role, station, csrf, created_at, last_seen) "
                                "SELECT ?, name, role, station, ?, ?, ? FROM console_staff WHERE name = ?"),
                        (token_hash(token), csrf, now, now, name))
        return token, csrf

    def session(self, token: str, idle_s: float, max_s: float) -> StaffSession | None:
        digest, now = token_hash(token), self.clock()
        with self._tx() as cur:
            cur.execute(self._q("SELECT name, role, station, csrf, created_at, last_seen FROM console_sessions "
                                "WHERE token_hash = ?"), (digest,))
            row = cur.fetchone()
            if row is None:
                return None
            if now - row[5] > idle_s or now - row[4] > max_s:
                cur.execute(self._q("DELETE FROM console_sessions WHERE token_hash = ?"), (digest,))
                return None
            if now - row[5] > 15:  # not a write per request
                cur.execute(self._q("UPDATE console_sessions SET last_seen = ? WHERE token_hash = ?"), (now, digest))
        return StaffSession(row[0], row[1], row[2], row[3], row[4], now)

    def close_session(self, token: str) -> None:
        with self._tx() as cur:
            cur.execute(self._q("DELETE FROM console_sessions WHERE token_hash = ?"), (token_hash(token),))

    # -- audit -------------------------------------------------------------------------------------
    def audit(self, name: str, action: str, kiosk_id: str | None = None, submission_id: str | None = None,
              address: str | None = None, detail: str | None = None) -> None:
        with self._tx() as cur:
            cur.execute(self._q("INSERT INTO console_audit (at, name, action, kiosk_id, submission_id, address, detail) "
                                "VALUES (?,?,?,?,?,?,?)"), (self.clock(), name, action, kiosk_id, submission_id, address, detail))

    def audit_rows(self, limit: int = 200) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(self._q("SELECT seq, at, name, action, kiosk_id, submission_id, address, detail FROM console_audit "
                                "ORDER BY seq DESC LIMIT ?"), (limit,))
            rows = cur.fetchall()
        keys = ("seq", "at", "name", "action", "kiosk_id", "submission_id", "address", "detail")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    # -- stations and heartbeats ---------------------------------------------------------------------
    def set_station(self, kiosk_id: str, station: str) -> None:
        with self._tx() as cur:
            cur.execute(self._q("INSERT INTO kiosk_stations (kiosk_id, station) VALUES (?, ?) "
                                "ON CONFLICT (kiosk_id) DO UPDATE SET station = excluded.station"), (kiosk_id, station))

    def station_of(self, kiosk_id: str) -> str | None:
        with self._tx() as cur:
            cur.execute(self._q("SELECT station FROM kiosk_stations WHERE kiosk_id = ?"), (kiosk_id,))
            row = cur.fetchone()
        return row[0] if row else None

    def stations(self) -> list[str]:
        with self._tx() as cur:
            cur.execute("SELECT DISTINCT station FROM kiosk_stations ORDER BY station")
            return [r[0] for r in cur.fetchall()]

    def heartbeat(self, kiosk_id: str, body: dict[str, Any]) -> float:
        now = self.clock()
        with self._tx() as cur:
            if self.hub.kind == "postgresql":  # a health report lost to a power cut is replaced within a minute:
                cur.execute("SET LOCAL synchronous_commit TO OFF")  # no fsync wait for it (residents' data keep theirs)
            cur.execute(self._q("INSERT INTO kiosk_heartbeats (kiosk_id, last_seen, body) VALUES (?,?,?) ON CONFLICT (kiosk_id) "
                                "DO UPDATE SET last_seen = excluded.last_seen, body = excluded.body"),
                        (kiosk_id, now, json.dumps(body, ensure_ascii=False, sort_keys=True)))
        return now

    def fleet(self, station: str | None, offline_after_s: float) -> list[dict[str, Any]]:
        """Every kiosk that ever sent a heartbeat or is mapped to a station; a station user's own only."""
        sql = ("SELECT k.kiosk_id, s.station, h.last_seen, h.body FROM "
               "(SELECT kiosk_id FROM kiosk_heartbeats UNION SELECT kiosk_id FROM kiosk_stations) k "
               "LEFT JOIN kiosk_stations s ON s.kiosk_id = k.kiosk_id LEFT JOIN kiosk_heartbeats h ON h.kiosk_id = k.kiosk_id")
        params: tuple[Any, ...] = ()
        if station is not None:
            sql, params = sql + " WHERE s.station = ?", (station,)
        with self._tx() as cur:
            cur.execute(self._q(sql + " ORDER BY k.kiosk_id"), params)
            rows = cur.fetchall()
        now = self.clock()
        fleet = []
        for kiosk_id, kiosk_station, last_seen, body in rows:
            beat = json.loads(body) if body else {}
            silent = None if last_seen is None else max(0.0, now - last_seen)
            fleet.append({
                "kiosk_id": kiosk_id, "online": silent is not None and silent <= offline_after_s,
                "last_seen": _iso(last_seen) if last_seen is not None else None,
                "version": beat.get("version"), "backlog": beat.get("backlog"),
                "oldest_pending_age_s": beat.get("oldest_pending_age_s"), "devices": beat.get("devices", {}),
                "station": kiosk_station, "silent_s": None if silent is None else round(silent),
                "last_error": beat.get("last_error"), "service_point": beat.get("service_point"),
                "role": beat.get("role", "kiosk"),
            })
        return fleet

    # -- figures ---------------------------------------------------------------------------------
    def figures(self, day_from: str, day_to: str, station: str | None, instant_services: frozenset[str],
                consultation_band: str = "D") -> dict[str, Any]:
        """Counts from the daily rollup (`facts_daily`, kept by a trigger: a year is a few thousand
        rows), waiting/handling percentiles from the finished tickets' facts — in SQL on
        PostgreSQL (percentile_disc is the nearest rank), in Python on SQLite (a small site)."""
        where, params = "day >= ? AND day <= ?", [day_from, day_to]
        if station is not None:
            where, params = where + " AND " + _STATION_FILTER, params + [station]
        with self._tx() as cur:
            cur.execute(self._q(f"SELECT service, SUM(n) FROM facts_daily WHERE {where} AND category = 'application' "
                                "GROUP BY service"), params)
            applications = {r[0]: int(r[1]) for r in cur.fetchall()}
            cur.execute(self._q(f"SELECT score, SUM(n) FROM facts_daily WHERE {where} AND category = 'rating' "
                                "AND score > 0 GROUP BY score"), params)
            by_score = {int(r[0]): int(r[1]) for r in cur.fetchall()}
            if self.hub.kind == "postgresql":
                tickets = self._ticket_figures_sql(cur, where, params, instant_services, consultation_band)
            else:
                cur.execute(self._q(f"SELECT service, band, waiting_s, handling_s FROM submission_facts WHERE {where} "
                                    "AND category = 'ticket' AND event = 'ticket_finished'"), params)
                tickets = _ticket_figures(cur.fetchall(), instant_services, consultation_band)
        return {
            "applications": dict(sorted(applications.items())),
            "ratings": {str(level): by_score.get(level, 0) for level in (5, 4, 3, 2, 1)},
            **tickets,
            "from": day_from, "to": day_to, "station": station,
        }

    def _ticket_figures_sql(self, cur: Any, where: str, params: list[Any], instant_services: frozenset[str],
                            band: str) -> dict[str, Any]:
        instant = sorted(instant_services)
        cur.execute(self._q(
            "SELECT COUNT(*), COUNT(*) FILTER (WHERE band = ?), "
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY waiting_s), percentile_disc(0.9) WITHIN GROUP (ORDER BY waiting_s), "
            "percentile_disc(0.5) WITHIN GROUP (ORDER BY handling_s), percentile_disc(0.9) WITHIN GROUP (ORDER BY handling_s), "
            "COUNT(*) FILTER (WHERE service = ANY(?) AND waiting_s IS NOT NULL AND handling_s IS NOT NULL), "
            f"COUNT(*) FILTER (WHERE service = ANY(?) AND waiting_s + handling_s <= {INSTANT_LIMIT_S}) "
            f"FROM submission_facts WHERE {where} AND category = 'ticket' AND event = 'ticket_finished'"),
            [band, instant, instant, *params])
        total, consultations, w50, w90, h50, h90, instant_n, within = cur.fetchone()
        return {"consultations": int(consultations), "tickets": int(total),
                "wait_s": {"p50": w50, "p90": w90}, "handling_s": {"p50": h50, "p90": h90},
                "instant_within_10min": round(int(within) / int(instant_n), 4) if instant_n else None,
                "instant_items": int(instant_n)}

    def daily_applications(self, day_from: str, day_to: str, station: str | None) -> list[tuple[str, int]]:
        where, params = "day >= ? AND day <= ? AND category = 'application'", [day_from, day_to]
        if station is not None:
            where, params = where + " AND " + _STATION_FILTER, params + [station]
        with self._tx() as cur:
            cur.execute(self._q(f"SELECT day, COUNT(*) FROM submission_facts WHERE {where} GROUP BY day ORDER BY day"), params)
            return [(r[0], int(r[1])) for r in cur.fetchall()]

    # -- applications (the back office) -------------------------------------------------------------
    def applications(self, station: str | None = None, service: str | None = None, state: str | None = None,
                     kiosk_id: str | None = None, day_from: str | None = None, day_to: str | None = None,
                     limit: int = 200, offset: int = 0) -> list[dict[str, Any]]:
        """Metadata only (no personal data): the list a bureau user works from."""
        where, params = ["f.category = 'application'"], []
        for clause, value in (("f.day >= ?", day_from), ("f.day <= ?", day_to), ("f.service = ?", service),
                              ("f.kiosk_id = ?", kiosk_id), ("s.station = ?", station)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if state == "submitted":
            where.append("a.state IS NULL")
        elif state is not None:
            where.append("a.state = ?")
            params.append(state)
        sql = ("SELECT f.kiosk_id, f.id, f.service, f.at, s.station, a.state, a.updated_at, a.updated_by "
               "FROM submission_facts f LEFT JOIN kiosk_stations s ON s.kiosk_id = f.kiosk_id "
               "LEFT JOIN application_states a ON a.kiosk_id = f.kiosk_id AND a.id = f.id "
               f"WHERE {' AND '.join(where)} ORDER BY f.at DESC, f.id DESC LIMIT ? OFFSET ?")
        with self._tx() as cur:
            cur.execute(self._q(sql), [*params, int(limit), int(offset)])
            rows = cur.fetchall()
        return [{"kiosk_id": r[0], "id": r[1], "service": r[2], "created_at": _iso(r[3]), "station": r[4],
                 "state": r[5] or "submitted", "updated_at": _iso(r[6]) if r[6] else None, "updated_by": r[7]}
                for r in rows]

    def locate(self, submission_id: str) -> list[str]:
        """The kiosks holding an application with this id (normally one)."""
        with self._tx() as cur:
            cur.execute(self._q("SELECT kiosk_id FROM submission_facts WHERE id = ? AND category = 'application'"),
                        (submission_id,))
            return [r[0] for r in cur.fetchall()]

    def set_state(self, kiosk_id: str, submission_id: str, state: str, note: str, by: str) -> dict[str, Any]:
        if state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}")
        key_id, sealed = self.hub.keyring.seal({"note": note}, f"{kiosk_id}/{submission_id}/state")
        now = self.clock()
        with self._tx() as cur:
            cur.execute(self._q("INSERT INTO application_state_log (kiosk_id, id, state, key_id, sealed_note, at, name) "
                                "VALUES (?,?,?,?,?,?,?)"), (kiosk_id, submission_id, state, key_id, sealed, now, by))
            cur.execute(self._q("SELECT MAX(seq) FROM application_state_log WHERE kiosk_id = ?"), (kiosk_id,))
            seq = int(cur.fetchone()[0])
            cur.execute(self._q("INSERT INTO application_states (kiosk_id, id, state, key_id, sealed_note, updated_at, "
                                "updated_by, change_seq) VALUES (?,?,?,?,?,?,?,?) ON CONFLICT (kiosk_id, id) DO UPDATE SET "
                                "state = excluded.state, key_id = excluded.key_id, sealed_note = excluded.sealed_note, "
                                "updated_at = excluded.updated_at, updated_by = excluded.updated_by, "
                                "change_seq = excluded.change_seq"),
                        (kiosk_id, submission_id, state, key_id, sealed, now, by, seq))
            if state in self.notify_states:  # same transaction: a notice is never lost nor sent for a rolled-back change
                from kiosk.hub.notify.worker import enqueue

                enqueue(self.hub, cur, kiosk_id, submission_id, state, seq, now)
        if state in self.notify_states and self.on_notify is not None:
            self.on_notify()
        return {"id": submission_id, "kiosk_id": kiosk_id, "state": state, "note": note, "updated_at": _iso(now),
                "seq": seq}

    def state_of(self, kiosk_id: str, submission_id: str) -> dict[str, Any] | None:
        with self._tx() as cur:
            cur.execute(self._q("SELECT state, key_id, sealed_note, updated_at, change_seq FROM application_states "
                                "WHERE kiosk_id = ? AND id = ?"), (kiosk_id, submission_id))
            row = cur.fetchone()
        if row is None:
            return None
        return {"id": submission_id, "state": row[0], "note": self._note(kiosk_id, submission_id, row[1], row[2]),
                "updated_at": _iso(row[3]), "seq": int(row[4])}

    def state_history(self, kiosk_id: str, submission_id: str) -> list[dict[str, Any]]:
        with self._tx() as cur:
            cur.execute(self._q("SELECT state, key_id, sealed_note, at, name FROM application_state_log "
                                "WHERE kiosk_id = ? AND id = ? ORDER BY seq"), (kiosk_id, submission_id))
            rows = cur.fetchall()
        return [{"state": r[0], "note": self._note(kiosk_id, submission_id, r[1], r[2]), "at": _iso(r[3]), "by": r[4]}
                for r in rows]

    def state_changes(self, kiosk_id: str, since: int, limit: int = 200) -> list[dict[str, Any]]:
        """The current state of this kiosk's applications changed after change `since` (the
        kiosk keeps the largest `seq` it has seen)."""
        with self._tx() as cur:
            cur.execute(self._q("SELECT id, state, key_id, sealed_note, updated_at, change_seq FROM application_states "
                                "WHERE kiosk_id = ? AND change_seq > ? ORDER BY change_seq LIMIT ?"), (kiosk_id, since, limit))
            rows = cur.fetchall()
        return [{"id": r[0], "state": r[1], "note": self._note(kiosk_id, r[0], r[2], r[3]), "updated_at": _iso(r[4]),
                 "seq": int(r[5])} for r in rows]

    def _note(self, kiosk_id: str, submission_id: str, key_id: str, sealed: Any) -> str:
        opened = self.hub.keyring.open(key_id, bytes(sealed), f"{kiosk_id}/{submission_id}/state")
        return str(opened.get("note", ""))


def _ticket_figures(tickets: list[tuple[Any, ...]], instant_services: frozenset[str], band: str) -> dict[str, Any]:
    """(service, band, waiting_s, handling_s) rows of finished tickets → the figures' ticket part."""
    waits = [float(t[2]) for t in tickets if t[2] is not None]
    handling = [float(t[3]) for t in tickets if t[3] is not None]
    instant = [t for t in tickets if t[0] in instant_services and t[2] is not None and t[3] is not None]
    within = sum(1 for t in instant if float(t[2]) + float(t[3]) <= INSTANT_LIMIT_S)
    return {"consultations": sum(1 for t in tickets if t[1] == band), "tickets": len(tickets),
            "wait_s": {"p50": percentile(waits, 50), "p90": percentile(waits, 90)},
            "handling_s": {"p50": percentile(handling, 50), "p90": percentile(handling, 90)},
            "instant_within_10min": round(within / len(instant), 4) if instant else None,
            "instant_items": len(instant)}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
