"""The clear statistics facts of one stored item (pure): what the figures need, nothing personal.

The hub seals every payload; figures must not open them (a county's month is a full-table
decrypt otherwise). So when an item is stored, these few non-personal values are taken from it
once and kept in clear in `submission_facts`, indexed by day:

- kind "submission" from a kiosk → an *application* of its service;
- kind "submission", service `hall_ticket` (kiosk/hall/report.py) → a *ticket* event: the
  ticket's own service, band, event (ticket_finished | ticket_transferred), outcome,
  waiting_s and handling_s;
- kind "rating" → a *rating*: the service rated and its score 1–5 (reasons are free text and
  stay sealed). Ratings are never applications.

`day` is the local date (China Standard Time) of the item's created_at, so a day's figures are
a service point's working day, not a UTC day.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

FIGURES_TZ = ZoneInfo("Asia/Shanghai")
HALL_TICKET_SERVICE = "hall_ticket"  # the service code kiosk/hall/report.py files ticket events under
CATEGORIES = ("application", "rating", "ticket")


@dataclass(frozen=True)
class Facts:
    category: str  # application | rating | ticket
    service: str
    day: str  # YYYY-MM-DD in FIGURES_TZ
    at: float  # created_at as epoch seconds
    source: str = "kiosk"  # kiosk | counter (the hall's rating pad) | hall
    score: int | None = None
    band: str | None = None
    event: str | None = None
    outcome: str | None = None
    waiting_s: float | None = None
    handling_s: float | None = None


def parse_time(created_at: str) -> dt.datetime:
    """ISO 8601; a time without zone is taken as UTC (the outbox writes UTC with a Z)."""
    value = dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def local_day(moment: dt.datetime) -> str:
    return moment.astimezone(FIGURES_TZ).date().isoformat()


def _short(value: Any, limit: int = 64) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


def _seconds(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) and 0 <= value < 10 * 86400 else None


def item_facts(kind: str, service: str, created_at: str, payload: dict[str, Any]) -> Facts:
    moment = parse_time(created_at)
    day, at = local_day(moment), moment.timestamp()
    if kind == "rating":
        score = payload.get("score")
        score = score if isinstance(score, int) and not isinstance(score, bool) and 1 <= score <= 5 else None
        source = "counter" if payload.get("source") == "counter" else "kiosk"
        return Facts("rating", _short(payload.get("service")) or service, day, at, source, score=score)
    if service == HALL_TICKET_SERVICE:
        band = _short(payload.get("band"), 8)
        return Facts("ticket", _short(payload.get("service")) or "unknown", day, at, "hall", band=band,
                     event=_short(payload.get("event"), 32), outcome=_short(payload.get("outcome"), 32),
                     waiting_s=_seconds(payload.get("waiting_s")), handling_s=_seconds(payload.get("handling_s")))
    return Facts("application", service, day, at)


def percentile(values: list[float], p: float) -> float | None:
    """Nearest rank: the smallest value with at least p % of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[rank - 1]
