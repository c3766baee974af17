"""Issue 18: 差评回访 (every bad rating a follow-up item: states, notes, audit, station isolation,
the share followed up within 15 days in the figures), figures by day / week / month computed
here independently, and versioned schema migrations (an old database is upgraded at start)."""
from __future__ import annotations

import csv
import datetime as dt
import io
import random
import sqlite3
import uuid

import pytest

from kiosk.hub.migrations import LATEST, MIGRATIONS
from kiosk.hub.store import open_hub_store
from kiosk.services.ratings import rating_payload

from test_hub_console import CST, STATION_OF, application, clock, hub, post_items, seed, staff_client  # noqa: F401
from hub_fixtures import pg_url  # noqa: F401  (fixture)

DAY = 86400.0


def rating(service: str, created: dt.datetime, score: int, reason: str = "") -> dict:
    return {"id": str(uuid.uuid4()), "service": service, "kind": "rating", "created_at": created.isoformat(),
            "payload": rating_payload(service, str(uuid.uuid4()), score, reason)}


def test_every_bad_rating_is_a_followup_with_states_notes_audit_and_station_isolation(hub, clock):
    rated = dt.datetime(2026, 11, 2, 10, 0, tzinfo=CST)
    clock.now = rated.timestamp() + 3600
    east_bad = rating("enrol", rated, 1, "等了很久没人管")
    east_ok = rating("enrol", rated, 5)
    west_bad = rating("contribution", rated, 2, "屏幕看不清")
    post_items(hub, "EAST-1", [east_bad, east_ok])
    post_items(hub, "WEST-1", [west_bad])
    bureau, csrf = staff_client(hub, "bureau")
    listed = bureau.get("/api/followups").json()["followups"]
    assert {i["id"] for i in listed} == {east_bad["id"], west_bad["id"]}  # a 5 is no follow-up item
    assert all(i["state"] == "pending" and not i["overdue"] for i in listed)
    assert "等了很久" not in str(listed)  # the list carries no reason (sealed; read in the audited view)

    east, east_csrf = staff_client(hub, "east")
    assert [i["id"] for i in east.get("/api/followups").json()["followups"]] == [east_bad["id"]]
    assert east.get("/api/followups", params={"station": "west"}).status_code == 403
    assert east.get(f"/api/followups/WEST-1/{west_bad['id']}").status_code == 404
    assert east.post(f"/api/followups/WEST-1/{west_bad['id']}", json={"state": "called_back", "note": "x"}).status_code == 404
    page = east.get("/console/followups")
    assert page.status_code == 200 and east_bad["id"] in page.text and west_bad["id"] not in page.text

    opened = east.get(f"/api/followups/EAST-1/{east_bad['id']}").json()
    assert opened["reason"] == "等了很久没人管" and opened["history"] == []
    # a note is required, the state must be one of the follow-up states
    assert east.post(f"/api/followups/EAST-1/{east_bad['id']}", json={"state": "called_back", "note": " "}).status_code == 422
    assert east.post(f"/api/followups/EAST-1/{east_bad['id']}", json={"state": "done", "note": "x"}).status_code == 422
    assert east.post(f"/api/followups/EAST-1/{east_ok['id']}", json={"state": "called_back", "note": "x"}).status_code == 404
    clock.now = rated.timestamp() + 2 * DAY  # sessions end when idle: log in again after each jump
    east, east_csrf = staff_client(hub, "east")
    r = east.post(f"/api/followups/EAST-1/{east_bad['id']}", json={"state": "called_back", "note": "已电话回访，居民反映窗口无人"})
    assert r.status_code == 200, r.text
    clock.now = rated.timestamp() + 5 * DAY
    east, east_csrf = staff_client(hub, "east")
    bureau, _ = staff_client(hub, "bureau")
    # the page form with its CSRF token
    form = east.post(f"/console/followups/EAST-1/{east_bad['id']}", data={"csrf": east_csrf, "state": "rectified",
                                                                          "note": "增设导办员"}, follow_redirects=False)
    assert form.status_code == 303 and "error" not in form.headers["location"]
    forged = east.post(f"/console/followups/EAST-1/{east_bad['id']}", data={"csrf": "wrong", "state": "explained", "note": "x"},
                       follow_redirects=False)
    assert "error=csrf" in forged.headers["location"]
    detail = east.get(f"/api/followups/EAST-1/{east_bad['id']}").json()
    assert detail["state"] == "rectified" and [h["state"] for h in detail["history"]] == ["called_back", "rectified"]
    assert detail["history"][0]["by"] == "east" and detail["history"][1]["note"] == "增设导办员"
    assert [i["id"] for i in bureau.get("/api/followups", params={"state": "open"}).json()["followups"]] == [west_bad["id"]]
    assert [i["id"] for i in bureau.get("/api/followups", params={"state": "rectified"}).json()["followups"]] == [east_bad["id"]]

    # figures: 2 差评 on 11-02, one followed up (and closed) within 15 days; the other overdue after 15 days
    clock.now = rated.timestamp() + 16 * DAY
    bureau, _ = staff_client(hub, "bureau")
    east, _ = staff_client(hub, "east")
    figures = bureau.get("/api/figures", params={"from": "2026-11-01", "to": "2026-11-30"}).json()
    assert figures["bad_ratings"] == {"total": 2, "pending": 1, "followed_up_within_days": 0.5, "closed_within_days": 0.5,
                                      "overdue": 1, "days": 15}
    assert east.get("/api/figures", params={"from": "2026-11-01", "to": "2026-11-30"}).json()["bad_ratings"]["total"] == 1
    west_row = bureau.get("/api/followups").json()["followups"]
    assert {i["id"]: i["overdue"] for i in west_row} == {west_bad["id"]: True, east_bad["id"]: False}

    # every view and change is audited, with who, what and which item; notes are sealed in the database
    admin, _ = staff_client(hub, "admin")
    audit = admin.get("/api/audit").json()["audit"]
    actions = [(a["name"], a["action"], a["submission_id"]) for a in audit]
    assert ("east", "view_rating", east_bad["id"]) in actions
    assert [a for a in actions if a[1] == "set_followup"] == [("east", "set_followup", east_bad["id"])] * 2
    with sqlite3.connect(hub.store.path) as conn:
        blobs = b"".join(bytes(r[0]) for r in conn.execute("SELECT sealed_note FROM rating_followup_log"))
    assert "增设导办员".encode() not in blobs

    # export: the list as CSV matches the JSON
    text = bureau.get("/console/export/followups.csv").content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0][0] == "评价编号" and {r[0] for r in rows[1:]} == {east_bad["id"], west_bad["id"]}


def test_figures_by_day_week_and_month_match_an_independent_count(hub):
    sent = seed(hub, random.Random(7))
    more = [application("enrol", dt.datetime(2026, 10, 30, 9, tzinfo=CST)), rating("enrol", dt.datetime(2026, 10, 31, 9, tzinfo=CST), 1)]
    post_items(hub, "WEST-1", more)
    sent += [{**i, "kiosk_id": "WEST-1"} for i in more]
    bureau, _ = staff_client(hub, "bureau")

    def local_day(item: dict) -> dt.date:
        return dt.datetime.fromisoformat(item["created_at"]).astimezone(CST).date()

    def key(day: dt.date, by: str) -> str:
        if by == "week":
            return f"{day.isocalendar()[0]}-W{day.isocalendar()[1]:02d}"
        return f"{day.year}-{day.month:02d}" if by == "month" else day.isoformat()

    for by, station in (("day", None), ("week", None), ("month", None), ("week", "east"), ("month", "west")):
        got = bureau.get("/api/figures/series", params={"from": "2026-10-28", "to": "2026-11-04", "by": by,
                                                        **({"station": station} if station else {})})
        assert got.status_code == 200, got.text
        body = got.json()
        want: dict[str, dict] = {}
        for item in sent:
            if station and STATION_OF[item["kiosk_id"]] != station:
                continue
            b = want.setdefault(key(local_day(item), by), {"total": 0, "bad": 0, "apps": {}})
            if item["kind"] == "rating":
                b["bad"] += item["payload"]["score"] <= 2
            elif item["service"] != "hall_ticket":
                b["total"] += 1
                b["apps"][item["service"]] = b["apps"].get(item["service"], 0) + 1
        got_buckets = {b["bucket"]: {"total": b["total"], "bad": b["bad_ratings"], "apps": b["applications"]}
                       for b in body["buckets"] if b["total"] or b["bad_ratings"]}
        assert got_buckets == want, (by, station)
        first = body["buckets"][0]
        assert first["from"] == "2026-10-28"  # a bucket at the edge is cut to the range
        if by == "week":
            assert [b["bucket"] for b in body["buckets"]] == ["2026-W44", "2026-W45"] and first["to"] == "2026-11-01"
        if station is None and by == "month":
            assert set(body["stations"]) == {"east", "west"}
            assert sum(sum(v.values()) for v in body["stations"].values()) == sum(b["total"] for b in body["buckets"])
    east, _ = staff_client(hub, "east")
    assert east.get("/api/figures/series", params={"from": "2026-11-01", "to": "2026-11-04", "station": "west"}).status_code == 403
    assert bureau.get("/api/figures/series", params={"from": "2026-11-01", "to": "2026-11-04", "by": "year"}).status_code == 422
    page = bureau.get("/console/figures", params={"from": "2026-10-28", "to": "2026-11-04", "by": "week"})
    assert page.status_code == 200 and "2026-W45" in page.text and "按周申请件数" in page.text
    csv_text = bureau.get("/console/export/figures-series.csv", params={"from": "2026-10-28", "to": "2026-11-04", "by": "month"})
    assert [r[0] for r in csv.reader(io.StringIO(csv_text.content.decode("utf-8-sig")))][1:] == ["2026-10", "2026-11"]


# -- migrations ----------------------------------------------------------------------------------
def _make_old_database(path) -> None:
    """A hub database as a release before versioned migrations left it: no schema_version, no
    follow-up or notification tables, one stored application."""
    store = open_hub_store(str(path))
    store.insert_batch([])
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER IF EXISTS facts_daily_insert")
        for table in ("schema_version", "rating_followups", "rating_followup_log", "notify_queue", "facts_daily"):
            conn.execute(f"DROP TABLE IF EXISTS {table}")


def test_an_old_database_is_upgraded_at_start_and_keeps_its_rows(tmp_path):
    from kiosk.hub.store import HubItem

    path = tmp_path / "hub.sqlite3"
    store = open_hub_store(str(path))
    item = HubItem(str(uuid.uuid4()), "K1", "enrol", "submission", "2026-11-02T02:00:00Z",
                   {"applicant": {"name": "王五", "id_number": "110101199003078515"}})
    assert store.insert_batch([item])[0].result == "accepted"
    store.close()
    _make_old_database(path)
    with sqlite3.connect(path) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "schema_version" not in tables and "rating_followups" not in tables

    upgraded = open_hub_store(str(path))
    try:
        assert upgraded.migrations_applied == [m.version for m in MIGRATIONS]
        assert upgraded.payload(item.id, "K1")["applicant"]["name"] == "王五"
    finally:
        upgraded.close()
    with sqlite3.connect(path) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_version ORDER BY version")]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert versions == list(range(1, LATEST + 1))
    assert {"rating_followups", "rating_followup_log", "notify_queue"} <= tables
    again = open_hub_store(str(path))  # a current database: nothing to do
    assert again.migrations_applied == []
    again.close()


def test_a_partly_migrated_database_gets_only_the_missing_versions(tmp_path):
    path = tmp_path / "hub.sqlite3"
    open_hub_store(str(path)).close()
    with sqlite3.connect(path) as conn:
        conn.execute("DELETE FROM schema_version WHERE version > 2")
        conn.execute("DROP TABLE notify_queue")
    store = open_hub_store(str(path))
    try:
        assert store.migrations_applied == [m.version for m in MIGRATIONS if m.version > 2]
    finally:
        store.close()


def test_migrations_on_postgresql(pg_url, tmp_path):
    import psycopg

    store = open_hub_store(pg_url, tmp_path / "hub.key")
    assert store.migrations_applied == [m.version for m in MIGRATIONS]
    store.close()
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("DELETE FROM schema_version WHERE version >= 3")
        conn.execute("DROP TABLE notify_queue")
    store = open_hub_store(pg_url, tmp_path / "hub.key")
    try:
        assert store.migrations_applied == [m.version for m in MIGRATIONS if m.version >= 3]
    finally:
        store.close()


def test_figures_and_series_on_postgresql_match_the_independent_count(pg_url, tmp_path):
    """PostgreSQL computes the percentiles in SQL (percentile_disc) and the counts from the daily
    rollup kept by a statement trigger: the same numbers as the test's own arithmetic."""
    from kiosk.hub.console.routes import ConsoleOptions
    from kiosk.hub.console.store import ConsoleStore
    from kiosk.hub.server import start_hub_in_thread

    from test_hub_console import CONTRACT, HASH, INSTANT, TOKENS, Clock, expected_figures

    clock = Clock()
    hub = start_hub_in_thread(pg_url, TOKENS, key_file=tmp_path / "hub.key", platform=None,
                              console=ConsoleOptions(instant_services=INSTANT, clock=clock))
    try:
        console = ConsoleStore(hub.store, clock)
        for kiosk_id, station in STATION_OF.items():
            console.set_station(kiosk_id, station)
        console.put_staff("bureau", "bureau", None, HASH)
        sent = seed(hub, random.Random(18))
        client, _ = staff_client(hub, "bureau")
        for day_from, day_to, station, stations in (("2026-11-01", "2026-11-04", None, {"east", "west"}),
                                                    ("2026-11-02", "2026-11-03", "east", {"east"})):
            params = {"from": day_from, "to": day_to, **({"station": station} if station else {})}
            got = client.get("/api/figures", params=params).json()
            assert {k: got[k] for k in CONTRACT} == expected_figures(sent, day_from, day_to, stations), params
        series = client.get("/api/figures/series", params={"from": "2026-11-01", "to": "2026-11-04", "by": "month"}).json()
        assert series["buckets"][0]["total"] == sum(1 for i in sent if i["kind"] == "submission" and i["service"] != "hall_ticket")
        with hub.store.transaction() as cur:  # the rollup matches the facts it summarises
            cur.execute("SELECT COALESCE(SUM(n), 0) FROM facts_daily")
            rolled = cur.fetchone()[0]
            cur.execute("SELECT COUNT(*) FROM submission_facts")
            assert rolled == cur.fetchone()[0] == len(sent)
            cur.execute("DELETE FROM submission_facts WHERE category = 'rating'")  # a delete counts down
            cur.execute("SELECT COALESCE(SUM(n), 0) FROM facts_daily")
            rolled = cur.fetchone()[0]
            cur.execute("SELECT COUNT(*) FROM submission_facts")
            assert rolled == cur.fetchone()[0] < len(sent)
    finally:
        hub.stop()


def test_the_rollup_is_backfilled_for_an_old_database(tmp_path):
    from kiosk.hub.store import HubItem

    path = tmp_path / "hub.sqlite3"
    store = open_hub_store(str(path))
    items = [HubItem(str(uuid.uuid4()), "K1", "enrol", "submission", "2026-11-02T02:00:00Z", {}) for _ in range(4)]
    store.insert_batch(items)
    store.close()
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER facts_daily_insert")
        conn.execute("DROP TABLE facts_daily")
        conn.execute("DELETE FROM schema_version WHERE version = 5")
    store = open_hub_store(str(path))
    try:
        assert store.migrations_applied == [5]
        store.insert_batch([HubItem(str(uuid.uuid4()), "K1", "enrol", "submission", "2026-11-02T03:00:00Z", {})])
        with store.transaction() as cur:
            cur.execute("SELECT day, category, service, n FROM facts_daily")
            assert cur.fetchall() == [("2026-11-02", "application", "enrol", 5)]
    finally:
        store.close()
