"""Figures over time: day, ISO week or calendar month buckets, per service and per service point.

One grouped, indexed query over the clear facts (day × kiosk's station × category × service ×
score/band), folded into buckets here: a week is Monday–Sunday (ISO, labelled 2026-W45), a month
the calendar month (2026-11); a bucket at the edge of the range is cut to the range and says so
with its own from/to. Days are the service point's local days (facts.py).
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kiosk.hub.store import HubStore

BUCKETS = ("day", "week", "month")


def bucket_of(day: str, by: str) -> str:
    d = dt.date.fromisoformat(day)
    if by == "week":
        year, week, _ = d.isocalendar()
        return f"{year}-W{week:02d}"
    if by == "month":
        return f"{d.year}-{d.month:02d}"
    return day


def bucket_range(key: str, by: str, day_from: str, day_to: str) -> tuple[str, str]:
    """The first and last day of a bucket, cut to [day_from, day_to]."""
    if by == "week":
        year, week = key.split("-W")
        start = dt.date.fromisocalendar(int(year), int(week), 1)
        end = start + dt.timedelta(days=6)
    elif by == "month":
        y, m = (int(p) for p in key.split("-"))
        start = dt.date(y, m, 1)
        end = (dt.date(y + m // 12, m % 12 + 1, 1) - dt.timedelta(days=1))
    else:
        start = end = dt.date.fromisoformat(key)
    return max(start.isoformat(), day_from), min(end.isoformat(), day_to)


def all_buckets(day_from: str, day_to: str, by: str) -> list[str]:
    """Every bucket of the range in order, empty ones too (a chart's axis has no holes)."""
    keys: list[str] = []
    d, end = dt.date.fromisoformat(day_from), dt.date.fromisoformat(day_to)
    while d <= end:
        key = bucket_of(d.isoformat(), by)
        if not keys or keys[-1] != key:
            keys.append(key)
        d += dt.timedelta(days=1)
    return keys


def figure_series(hub: HubStore, day_from: str, day_to: str, station: str | None, by: str,
                  consultation_band: str = "D") -> dict[str, Any]:
    if by not in BUCKETS:
        raise ValueError(f"by must be one of {', '.join(BUCKETS)}")
    where, params = "f.day >= ? AND f.day <= ?", [day_from, day_to]
    if station is not None:
        where, params = where + " AND f.kiosk_id IN (SELECT kiosk_id FROM kiosk_stations WHERE station = ?)", params + [station]
    with hub.transaction() as cur:  # the daily rollup (kiosk/hub/migrations.py), summed per day in SQL
        cur.execute(hub.sql(f"SELECT f.day, f.category, f.service, f.score, f.band, f.event, SUM(f.n) FROM facts_daily f "
                            f"WHERE {where} GROUP BY f.day, f.category, f.service, f.score, f.band, f.event"), params)
        counted = cur.fetchall()
        cur.execute(hub.sql("SELECT f.day, s.station, SUM(f.n) FROM facts_daily f LEFT JOIN kiosk_stations s "
                            f"ON s.kiosk_id = f.kiosk_id WHERE {where} "
                            "AND f.category = 'application' GROUP BY f.day, s.station"), params)
        by_station = cur.fetchall()
    rows = [(day, category, service, score or None, band or None, event or None, n)
            for day, category, service, score, band, event, n in counted]
    keys = all_buckets(day_from, day_to, by)
    buckets: dict[str, dict[str, Any]] = {k: {"bucket": k, "from": bucket_range(k, by, day_from, day_to)[0], "to": bucket_range(k, by, day_from, day_to)[1],
                   "applications": {}, "total": 0, "ratings": {str(level): 0 for level in (5, 4, 3, 2, 1)},
                   "bad_ratings": 0, "tickets": 0, "consultations": 0} for k in keys}
    per_station: dict[str, dict[str, int]] = {}
    for day, station_, n in by_station:
        point = per_station.setdefault(station_ or "", {k: 0 for k in keys})
        point[bucket_of(day, by)] += int(n)
    for day, category, service, score, band, event, n in rows:
        b = buckets[bucket_of(day, by)]
        n = int(n)
        if category == "application":
            b["applications"][service] = b["applications"].get(service, 0) + n
            b["total"] += n
        elif category == "rating" and score is not None:
            b["ratings"][str(int(score))] += n
            if int(score) <= 2:
                b["bad_ratings"] += n
        elif category == "ticket" and event == "ticket_finished":
            b["tickets"] += n
            if band == consultation_band:
                b["consultations"] += n
    for b in buckets.values():
        b["applications"] = dict(sorted(b["applications"].items()))
    return {"by": by, "from": day_from, "to": day_to, "station": station, "buckets": [buckets[k] for k in keys],
            "stations": {k or "未分配": v for k, v in sorted(per_station.items())}}
