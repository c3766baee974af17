"""差评回访: every bad rating (非常不满意 / 不满意, score ≤ 2) is a follow-up item (issue 18).

The 好差评 standard asks for a call-back and a fix within 15 days of a 差评. An item is 待回访
until staff record what was done: 已回访 (called the resident back), then 已整改 (fixed) or
已解释 (explained, nothing to fix) — each change with a note (sealed like application notes: it
may name the resident's complaint), who and when, in a log and in the console audit.

The list comes from the clear facts table (category rating, score ≤ 2) joined with the follow-up
state, so a rating is an item from the moment it is stored, with no separate write on intake.
"""
from __future__ import annotations

import time
from typing import Any

from kiosk.hub.store import HubStore

BAD_SCORE_MAX = 2  # 2 不满意, 1 非常不满意
FOLLOWUP_DAYS = 15
STATES = ("called_back", "rectified", "explained")  # "pending" is the absence of a row
CLOSED = frozenset({"rectified", "explained"})
LABELS = {"pending": "待回访", "called_back": "已回访", "rectified": "已整改", "explained": "已解释"}
_DAY_S = 86400.0


class FollowupError(ValueError):
    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


class Followups:
    def __init__(self, hub: HubStore, clock: Any = time.time) -> None:
        self.hub = hub
        self.clock = clock

    def _q(self, sql: str) -> str:
        return self.hub.sql(sql)

    def items(self, station: str | None = None, state: str | None = None, day_from: str | None = None,
              day_to: str | None = None, kiosk_id: str | None = None, limit: int = 200,
              offset: int = 0) -> list[dict[str, Any]]:
        """The 差评 newest first with their follow-up state (no personal data: the reason stays sealed)."""
        where, params = [f"f.category = 'rating' AND f.score <= {BAD_SCORE_MAX}"], []
        for clause, value in (("f.day >= ?", day_from), ("f.day <= ?", day_to), ("s.station = ?", station),
                              ("f.kiosk_id = ?", kiosk_id)):
            if value is not None:
                where.append(clause)
                params.append(value)
        if state == "pending":
            where.append("r.state IS NULL")
        elif state == "open":
            where.append(f"(r.state IS NULL OR r.state NOT IN ({','.join('?' * len(CLOSED))}))")
            params += sorted(CLOSED)
        elif state is not None:
            where.append("r.state = ?")
            params.append(state)
        sql = ("SELECT f.kiosk_id, f.id, f.service, f.at, f.score, f.source, s.station, r.state, r.updated_at, "
               "r.updated_by, r.first_action_at, r.closed_at FROM submission_facts f "
               "LEFT JOIN kiosk_stations s ON s.kiosk_id = f.kiosk_id "
               "LEFT JOIN rating_followups r ON r.kiosk_id = f.kiosk_id AND r.id = f.id "
               f"WHERE {' AND '.join(where)} ORDER BY f.at DESC, f.id DESC LIMIT ? OFFSET ?")
        with self.hub.transaction() as cur:
            cur.execute(self._q(sql), [*params, int(limit), int(offset)])
            rows = cur.fetchall()
        now = self.clock()
        out = []
        for kiosk_id, sid, service, at, score, source, station_, state_, updated_at, by, _first, closed in rows:
            due = at + FOLLOWUP_DAYS * _DAY_S
            out.append({"kiosk_id": kiosk_id, "id": sid, "service": service, "rated_at": _iso(at), "score": int(score),
                        "source": source, "station": station_, "state": state_ or "pending",
                        "updated_at": _iso(updated_at), "updated_by": by, "due_at": _iso(due),
                        "overdue": (closed is None and now > due), "closed_at": _iso(closed)})
        return out

    def item(self, kiosk_id: str, rating_id: str) -> dict[str, Any] | None:
        """One 差评 with its state (None when there is no such bad rating)."""
        found = self.items(kiosk_id=kiosk_id, limit=1_000_000)  # one kiosk's bad ratings: a short list
        return next((i for i in found if i["id"] == rating_id), None)

    def station_of_item(self, kiosk_id: str, rating_id: str) -> tuple[bool, str | None]:
        """(is a 差评, its kiosk's station)."""
        with self.hub.transaction() as cur:
            cur.execute(self._q("SELECT s.station FROM submission_facts f LEFT JOIN kiosk_stations s ON s.kiosk_id = f.kiosk_id "
                                f"WHERE f.kiosk_id = ? AND f.id = ? AND f.category = 'rating' AND f.score <= {BAD_SCORE_MAX}"),
                        (kiosk_id, rating_id))
            row = cur.fetchone()
        return (row is not None, row[0] if row else None)

    def set_state(self, kiosk_id: str, rating_id: str, state: str, note: str, by: str) -> dict[str, Any]:
        if state not in STATES:
            raise FollowupError("invalid_state")
        if not note.strip():
            raise FollowupError("note_required")
        is_bad, _ = self.station_of_item(kiosk_id, rating_id)
        if not is_bad:
            raise FollowupError("not_found")
        key_id, sealed = self.hub.keyring.seal({"note": note}, f"{kiosk_id}/{rating_id}/followup")
        now = self.clock()
        closed = now if state in CLOSED else None
        with self.hub.transaction() as cur:
            cur.execute(self._q("INSERT INTO rating_followup_log (kiosk_id, id, state, key_id, sealed_note, at, name) "
                                "VALUES (?,?,?,?,?,?,?)"), (kiosk_id, rating_id, state, key_id, sealed, now, by))
            cur.execute(self._q(
                "INSERT INTO rating_followups (kiosk_id, id, state, key_id, sealed_note, updated_at, updated_by, "
                "first_action_at, closed_at) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (kiosk_id, id) DO UPDATE SET "
                "state = excluded.state, key_id = excluded.key_id, sealed_note = excluded.sealed_note, "
                "updated_at = excluded.updated_at, updated_by = excluded.updated_by, "
                "first_action_at = COALESCE(rating_followups.first_action_at, excluded.first_action_at), "
                "closed_at = COALESCE(excluded.closed_at, rating_followups.closed_at)"),
                (kiosk_id, rating_id, state, key_id, sealed, now, by, now, closed))
        return {"kiosk_id": kiosk_id, "id": rating_id, "state": state, "note": note, "updated_at": _iso(now), "by": by}

    def history(self, kiosk_id: str, rating_id: str) -> list[dict[str, Any]]:
        with self.hub.transaction() as cur:
            cur.execute(self._q("SELECT state, key_id, sealed_note, at, name FROM rating_followup_log "
                                "WHERE kiosk_id = ? AND id = ? ORDER BY seq"), (kiosk_id, rating_id))
            rows = cur.fetchall()
        return [{"state": r[0], "note": str(self.hub.keyring.open(r[1], bytes(r[2]), f"{kiosk_id}/{rating_id}/followup")
                                                   .get("note", "")), "at": _iso(r[3]), "by": r[4]} for r in rows]

    def summary(self, day_from: str, day_to: str, station: str | None, days: int = FOLLOWUP_DAYS) -> dict[str, Any]:
        """The figures' 差评回访: how many 差评 in the period, how many were followed up (first
        action) and closed within `days` of the rating, how many are open past the limit."""
        where, params = [f"f.category = 'rating' AND f.score <= {BAD_SCORE_MAX} AND f.day >= ? AND f.day <= ?"], \
            [day_from, day_to]
        if station is not None:
            where.append("f.kiosk_id IN (SELECT kiosk_id FROM kiosk_stations WHERE station = ?)")
            params.append(station)
        with self.hub.transaction() as cur:
            cur.execute(self._q("SELECT f.at, r.first_action_at, r.closed_at FROM submission_facts f "
                                "LEFT JOIN rating_followups r ON r.kiosk_id = f.kiosk_id AND r.id = f.id "
                                f"WHERE {' AND '.join(where)}"), params)
            rows = cur.fetchall()
        now, limit = self.clock(), days * _DAY_S
        total = len(rows)
        followed = sum(1 for at, first, _ in rows if first is not None and first - at <= limit)
        closed = sum(1 for at, _, done in rows if done is not None and done - at <= limit)
        return {"total": total, "pending": sum(1 for _, first, _ in rows if first is None),
                "followed_up_within_days": round(followed / total, 4) if total else None,
                "closed_within_days": round(closed / total, 4) if total else None,
                "overdue": sum(1 for at, _, done in rows if done is None and now - at > limit), "days": days}


def _iso(ts: float | None) -> str | None:
    return None if ts is None else time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))
