"""The bureau's console on the hub (issue 18): accounts, sessions and CSRF, heartbeats and the
fleet, figures against a seeded data set computed here independently, station isolation (JSON
and HTML), application states flowing back to the kiosk, audit rows, exports."""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import random
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from kiosk.hall.auth import hash_password
from kiosk.hall.report import HALL_TICKET_SERVICE, outcome_payload, rating_item
from kiosk.hub.console.routes import ConsoleOptions
from kiosk.hub.console.store import ConsoleStore
from kiosk.hub.server import start_hub_in_thread
from kiosk.services.queue import Ticket
from kiosk.services.ratings import rating_payload
from kiosk.services.sync import HubClient, HubNotFound

from hub_fixtures import pg_url  # noqa: F401  (fixture)

TOKENS = {"tok-east-1": "EAST-1", "tok-east-hall": "EAST-HALL", "tok-west-1": "WEST-1"}
STATION_OF = {"EAST-1": "east", "EAST-HALL": "east", "WEST-1": "west"}
PASSWORD = "correct-horse-1"
INSTANT = frozenset({"record_query", "voucher_help"})
HASH = hash_password(PASSWORD)  # argon2 is slow on purpose: hash once for every test account
CST = dt.timezone(dt.timedelta(hours=8))


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hub(tmp_path: Path, clock: Clock):
    options = ConsoleOptions(offline_after_s=300.0, instant_services=INSTANT, clock=clock)
    handle = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), TOKENS, console=options)
    console = ConsoleStore(handle.store, clock)
    for kiosk_id, station in STATION_OF.items():
        console.set_station(kiosk_id, station)
    console.put_staff("admin", "admin", None, HASH)
    console.put_staff("bureau", "bureau", None, HASH)
    console.put_staff("east", "station", "east", HASH)
    console.put_staff("west", "station", "west", HASH)
    handle.console = console
    yield handle
    handle.stop()


def kiosk_client(hub, kiosk_id: str) -> httpx.Client:
    token = next(t for t, k in TOKENS.items() if k == kiosk_id)
    return httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {token}"})


def staff_client(hub, user: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=hub.url)
    r = client.post("/console/login", json={"user": user, "password": PASSWORD})
    assert r.status_code == 200, r.text
    return client, r.json()["csrf"]


def post_items(hub, kiosk_id: str, items: list[dict]) -> None:
    with kiosk_client(hub, kiosk_id) as k:
        results = k.post("/v1/submissions", json={"items": items}).json()["results"]
    assert all(r["result"] == "accepted" for r in results), results


def application(service: str, created: dt.datetime, name: str = "张三丰", id_number: str = "110101199003078515") -> dict:
    return {"id": str(uuid.uuid4()), "service": service, "kind": "submission", "created_at": created.isoformat(),
            "payload": {"applicant": {"name": name, "id_number": id_number, "source": "idcard"},
                        "answers": {"phone": "13800138000"}}}


# -- accounts, login, CSRF ----------------------------------------------------------------------
def test_add_user_command_hashes_with_argon2_and_refuses_bad_input_in_one_line(tmp_path):
    db = str(tmp_path / "hub.sqlite3")

    def run(*args: str, password: str = PASSWORD + "\n") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "kiosk", "hub", *args, "--db", db], input=password,
                              capture_output=True, text=True, timeout=60)

    ok = run("add-user", "li", "--role", "station", "--station", "east", "--password-stdin")
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout) == {"user": "li", "role": "station", "station": "east", "created": True}
    assert PASSWORD not in ok.stdout + ok.stderr
    for args, password in ((("add-user", "x", "--role", "station", "--password-stdin"), PASSWORD),  # no station
                           (("add-user", "x", "--role", "bureau", "--station", "east", "--password-stdin"), PASSWORD),
                           (("add-user", "x", "--role", "bureau", "--password-stdin"), "short\n"),
                           (("add-user", "a b", "--role", "bureau", "--password-stdin"), PASSWORD),
                           (("add-user", "x", "--role", "boss", "--password-stdin"), PASSWORD),
                           (("add-kiosk", "K 1", "--station", "east"), "")):
        bad = run(*args, password=password)
        assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "Traceback" not in bad.stderr, (args, bad.stderr)
    mapped = run("add-kiosk", "EAST-9", "--station", "east", password="")
    assert mapped.returncode == 0 and json.loads(mapped.stdout) == {"kiosk_id": "EAST-9", "station": "east"}
    with sqlite3.connect(db) as conn:
        (stored,) = conn.execute("SELECT password_hash FROM console_staff WHERE name = 'li'").fetchone()
        assert conn.execute("SELECT station FROM kiosk_stations WHERE kiosk_id = 'EAST-9'").fetchone() == ("east",)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_login_sets_a_strict_http_only_cookie_and_bad_logins_are_refused(hub):
    client = httpx.Client(base_url=hub.url)
    assert client.get("/api/fleet").status_code == 401
    assert client.post("/console/login", json={"user": "bureau", "password": "wrong-password"}).status_code == 401
    assert client.post("/console/login", json={"user": "nobody", "password": PASSWORD}).status_code == 401
    r = client.post("/console/login", json={"user": "bureau", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["role"] == "bureau" and r.json()["csrf"]
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "console_session=" in cookie
    assert "secure" not in cookie  # plain HTTP on loopback (tests, demo)
    behind_tls = httpx.post(hub.url + "/console/login", json={"user": "bureau", "password": PASSWORD},
                            headers={"X-Forwarded-Proto": "https"})  # the TLS proxy in front of the hub
    assert "secure" in behind_tls.headers["set-cookie"].lower()
    assert client.get("/api/fleet").status_code == 200
    assert client.post("/console/logout", json={}).status_code == 200
    assert client.get("/api/fleet").status_code == 401
    # pages send a visitor without a session to the login page
    page = httpx.get(hub.url + "/console/figures", follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"].startswith("/console/login")


def test_console_responses_carry_the_security_headers_and_kiosk_calls_do_not_pay_for_them(hub):
    client, _ = staff_client(hub, "bureau")
    for path in ("/console/fleet", "/api/fleet", "/console/login"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert "frame-ancestors 'none'" in r.headers["content-security-policy"], path
        assert r.headers["x-frame-options"] == "DENY" and r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["cache-control"] == "no-store", path  # staff pages hold personal data
    css = client.get("/static/hall.css")
    assert css.status_code == 200 and css.headers["x-content-type-options"] == "nosniff"
    assert css.headers.get("cache-control") != "no-store"  # static files may be cached
    with kiosk_client(hub, "EAST-1") as k:
        r = k.post("/v1/submissions", json={"items": []})
    assert "content-security-policy" not in r.headers  # the kiosk's API is not a page


def test_state_changes_need_the_csrf_token_or_a_same_origin_json_request(hub):
    created = dt.datetime(2026, 11, 2, 9, 0, tzinfo=CST)
    item = application("enrol", created)
    post_items(hub, "EAST-1", [item])
    client, csrf = staff_client(hub, "bureau")
    path = f"/api/applications/{item['id']}/state"
    body = json.dumps({"state": "accepted", "note": ""})
    # a cross-site form post: no token, not JSON
    assert client.post(path, content=body, headers={"Content-Type": "text/plain"}).status_code == 403
    assert client.post(path, content=body, headers={"Content-Type": "text/plain", "X-CSRF-Token": "forged"}).status_code == 403
    # JSON from a foreign origin
    assert client.post(path, content=body, headers={"Content-Type": "application/json",
                                                    "Origin": "https://evil.example"}).status_code == 403
    assert client.post(path, content=body, headers={"Content-Type": "text/plain", "X-CSRF-Token": csrf}).status_code == 200
    assert client.post(path, json={"state": "processing", "note": ""}).status_code == 200
    # the page's form needs the session's token in the form
    form = client.post(f"/console/applications/EAST-1/{item['id']}/state", data={"state": "done", "csrf": "nope"},
                       follow_redirects=False)
    assert form.status_code == 303 and "error=csrf" in form.headers["location"]
    assert client.get(f"/api/applications/{item['id']}").json()["state"] == "processing"
    form = client.post(f"/console/applications/EAST-1/{item['id']}/state", data={"state": "done", "csrf": csrf},
                       follow_redirects=False)
    assert form.status_code == 303 and "error" not in form.headers["location"]
    assert client.get(f"/api/applications/{item['id']}").json()["state"] == "done"
    # the login form itself carries a one-time token in a cookie
    login = httpx.post(hub.url + "/console/login", data={"user": "bureau", "password": PASSWORD, "csrf": "x"},
                       follow_redirects=False)
    assert login.status_code == 303 and "error=expired" in login.headers["location"]


# -- heartbeat and fleet --------------------------------------------------------------------------
FLEET_KEYS = {"kiosk_id", "online", "last_seen", "version", "backlog", "oldest_pending_age_s", "devices"}


def test_fleet_contract_and_a_silent_kiosk_goes_offline(hub, clock):
    with kiosk_client(hub, "EAST-1") as k:
        r = k.post("/v1/heartbeat", json={"version": "1.2.3", "backlog": 4, "oldest_pending_age_s": 95.5,
                                         "devices": {"idcard": "ok", "sscard": "ok", "printer": "paper_out",
                                                     "qrscan": "ok", "camera": "disabled"}})
        assert r.status_code == 200 and r.json()["ok"] is True
        assert k.post("/v1/heartbeat", json={"devices": {"Printer!": "ok"}}).status_code == 422
        assert k.post("/v1/heartbeat", json={"backlog": -1}).status_code == 422
        assert k.post("/v1/heartbeat", content=b"not json").status_code == 400
    assert httpx.post(hub.url + "/v1/heartbeat", json={}).status_code == 401
    clock.now += 200
    with kiosk_client(hub, "WEST-1") as k:
        assert k.post("/v1/heartbeat", json={"version": "1.2.3", "backlog": 0, "devices": {"printer": "ok"}}).status_code == 200
    client, _ = staff_client(hub, "bureau")
    body = client.get("/api/fleet").json()
    by_id = {k["kiosk_id"]: k for k in body["kiosks"]}
    assert set(by_id) == {"EAST-1", "EAST-HALL", "WEST-1"}  # the hall is mapped but has never beaten
    for entry in by_id.values():
        assert FLEET_KEYS <= set(entry) and isinstance(entry["online"], bool) and isinstance(entry["devices"], dict)
    east = by_id["EAST-1"]
    assert east["online"] is True and east["version"] == "1.2.3" and east["backlog"] == 4
    assert east["oldest_pending_age_s"] == 95.5 and east["devices"]["printer"] == "paper_out"
    assert east["last_seen"] == dt.datetime.fromtimestamp(clock.now - 200, dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert by_id["EAST-HALL"]["online"] is False and by_id["EAST-HALL"]["last_seen"] is None
    clock.now += 101  # EAST-1 silent for 301 s > 300 s
    by_id = {k["kiosk_id"]: k for k in client.get("/api/fleet").json()["kiosks"]}
    assert by_id["EAST-1"]["online"] is False and by_id["WEST-1"]["online"] is True


def test_the_sync_worker_sends_device_states_and_backlog_in_its_heartbeat(hub, tmp_path, clock):
    from kiosk.services.crypto import FieldCipher
    from kiosk.services.device_board import DeviceBoard, printer_detail
    from kiosk.services.outbox import OutboxStore
    from kiosk.services.sync import Syncer, SyncWorker
    from drivers.printer.status import PrinterStatus

    board = DeviceBoard({"idcard": "unknown", "printer": "unknown"})
    board.set("idcard", "ok")  # as a DeviceThread does on ReaderConnected (test_device_events)
    board.set("printer", printer_detail(PrinterStatus(online=True, paper="near_end")))
    outbox = OutboxStore(tmp_path / "outbox.sqlite3", FieldCipher.load_or_create(tmp_path / "keys" / "outbox.key"))
    client = HubClient(hub.url, "tok-east-1")
    worker = SyncWorker(Syncer(outbox, client), health=lambda: {"version": "9.9", "devices": board.snapshot()},
                        hub_heartbeat_s=60.0)
    try:
        assert worker.send_heartbeat() is True
        assert worker.send_heartbeat() is False  # not due yet
        board.set("printer", printer_detail(PrinterStatus(online=True, paper="out")))
        assert worker.send_heartbeat(force=True) is True
    finally:
        client.close()
        outbox.close()
    staff, _ = staff_client(hub, "east")
    east = next(k for k in staff.get("/api/fleet").json()["kiosks"] if k["kiosk_id"] == "EAST-1")
    assert east["devices"] == {"idcard": "ok", "printer": "paper_out"} and east["version"] == "9.9"
    assert east["backlog"] == 0 and east["online"] is True


# -- figures ----------------------------------------------------------------------------------------
def nearest_rank(values: list[float], p: int) -> float | None:
    if not values:
        return None
    s = sorted(values)
    return s[max(1, math.ceil(p * len(s) / 100)) - 1]


def seed(hub, rng: random.Random) -> list[dict]:
    """Applications, kiosk and counter ratings, finished and transferred hall tickets over four
    days at both stations; returns what was sent, for the test's own arithmetic."""
    services = ["enrol", "contribution", "sporadic_reimburse", "record_query", "voucher_help"]
    bands = {"enrol": "A", "contribution": "A", "sporadic_reimburse": "B", "record_query": "D", "voucher_help": "D"}
    sent = []
    for kiosk_id in ("EAST-1", "WEST-1", "EAST-HALL"):
        items = []
        for _ in range(60):
            day = dt.datetime(2026, 11, rng.randint(1, 4), rng.randint(0, 23), rng.randint(0, 59), tzinfo=CST)
            service = rng.choice(services)
            if kiosk_id == "EAST-HALL":
                issued = day.replace(tzinfo=None)
                called = issued + dt.timedelta(seconds=rng.randint(0, 1500))
                finished = called + dt.timedelta(seconds=rng.randint(30, 900))
                ticket = Ticket(str(uuid.uuid4()), "A001", bands[service], service, service, None, issued,
                                state="done", counter=1, outcome=rng.choice(["done", "returned"]), called_at=called,
                                first_called_at=called, finished_at=finished)
                if rng.random() < 0.15:
                    payload = {**outcome_payload(ticket), "event": "ticket_transferred"}
                else:
                    payload = outcome_payload(ticket)
                items.append({"id": str(uuid.uuid4()), "service": HALL_TICKET_SERVICE, "kind": "submission",
                              "created_at": day.isoformat(), "payload": payload})
                if rng.random() < 0.5:
                    items.append({"id": str(uuid.uuid4()), "service": service, "kind": "rating", "created_at": day.isoformat(),
                                  "payload": rating_item(ticket, rng.randint(1, 5), ["服务态度"], 1)})
            elif rng.random() < 0.3:
                items.append({"id": str(uuid.uuid4()), "service": service, "kind": "rating", "created_at": day.isoformat(),
                              "payload": rating_payload(service, str(uuid.uuid4()), rng.randint(1, 5), "")})
            else:
                items.append(application(service, day))
        post_items(hub, kiosk_id, items)
        sent += [{**i, "kiosk_id": kiosk_id} for i in items]
    return sent


def expected_figures(sent: list[dict], day_from: str, day_to: str, stations: set[str]) -> dict:
    def local_day(item: dict) -> str:
        return dt.datetime.fromisoformat(item["created_at"]).astimezone(CST).date().isoformat()

    chosen = [i for i in sent if STATION_OF[i["kiosk_id"]] in stations and day_from <= local_day(i) <= day_to]
    applications: dict[str, int] = {}
    ratings = {str(level): 0 for level in (5, 4, 3, 2, 1)}
    finished = []
    for i in chosen:
        if i["kind"] == "rating":
            ratings[str(i["payload"]["score"])] += 1
        elif i["service"] == HALL_TICKET_SERVICE:
            if i["payload"]["event"] == "ticket_finished":
                finished.append(i["payload"])
        else:
            applications[i["service"]] = applications.get(i["service"], 0) + 1
    waits = [p["waiting_s"] for p in finished]
    handling = [p["handling_s"] for p in finished]
    instant = [p for p in finished if p["service"] in INSTANT]
    return {
        "applications": dict(sorted(applications.items())), "ratings": ratings,
        "consultations": sum(p["band"] == "D" for p in finished),
        "wait_s": {"p50": nearest_rank(waits, 50), "p90": nearest_rank(waits, 90)},
        "handling_s": {"p50": nearest_rank(handling, 50), "p90": nearest_rank(handling, 90)},
        "instant_within_10min": round(sum(p["waiting_s"] + p["handling_s"] <= 600 for p in instant) / len(instant), 4)
        if instant else None,
    }


CONTRACT = ("applications", "ratings", "consultations", "wait_s", "handling_s", "instant_within_10min")


def test_figures_match_a_seeded_data_set_computed_independently(hub):
    sent = seed(hub, random.Random(18))
    client, _ = staff_client(hub, "bureau")
    for day_from, day_to, station, stations in (("2026-11-01", "2026-11-04", None, {"east", "west"}),
                                                ("2026-11-02", "2026-11-03", "east", {"east"}),
                                                ("2026-11-04", "2026-11-04", "west", {"west"})):
        params = {"from": day_from, "to": day_to, **({"station": station} if station else {})}
        got = client.get("/api/figures", params=params).json()
        want = expected_figures(sent, day_from, day_to, stations)
        assert {k: got[k] for k in CONTRACT} == want, (params, got, want)
    everything = client.get("/api/figures", params={"from": "2026-11-01", "to": "2026-11-04"}).json()
    assert sum(everything["ratings"].values()) > 0 and everything["wait_s"]["p90"] is not None
    # ratings are never applications, hall tickets neither
    assert sum(everything["applications"].values()) == sum(1 for i in sent if i["kind"] == "submission"
                                                          and i["service"] != HALL_TICKET_SERVICE)
    for bad in ({"from": "2026-13-01", "to": "2026-11-04"}, {"from": "2026-11-04", "to": "2026-11-01"},
                {"from": "2020-01-01", "to": "2026-11-01"}):
        assert client.get("/api/figures", params=bad).status_code == 422


def test_figures_never_open_a_payload(hub, monkeypatch):
    seed(hub, random.Random(3))
    from kiosk.hub.keys import HubKeyring

    opened = []
    original = HubKeyring.open
    monkeypatch.setattr(HubKeyring, "open", lambda *a, **k: opened.append(a) or original(*a, **k))
    client, _ = staff_client(hub, "bureau")
    assert client.get("/api/figures", params={"from": "2026-11-01", "to": "2026-11-04"}).status_code == 200
    assert client.get("/console/figures", params={"from": "2026-11-01", "to": "2026-11-04"}).status_code == 200
    assert opened == []


def test_facts_of_rows_stored_before_the_console_are_backfilled_once(tmp_path):
    from kiosk.hub.store import HubItem, open_hub_store

    store = open_hub_store(str(tmp_path / "hub.sqlite3"))
    item = HubItem(str(uuid.uuid4()), "EAST-1", "enrol", "submission", "2026-11-01T01:00:00Z", {"answers": {}})
    store.insert_batch([item])
    with store.transaction() as cur:  # as a database from before issue 18 would be
        cur.execute("DELETE FROM submission_facts")
        cur.execute("DELETE FROM hub_meta")
    store.close()
    store = open_hub_store(str(tmp_path / "hub.sqlite3"))
    try:
        figures = ConsoleStore(store).figures("2026-11-01", "2026-11-01", None, frozenset())
        assert figures["applications"] == {"enrol": 1}
    finally:
        store.close()


# -- station isolation -------------------------------------------------------------------------------
def test_a_station_user_sees_only_its_own_point_in_json_and_html(hub):
    east_item = application("enrol", dt.datetime(2026, 11, 2, 9, tzinfo=CST), name="东村居民")
    west_item = application("enrol", dt.datetime(2026, 11, 2, 9, tzinfo=CST), name="西村居民")
    post_items(hub, "EAST-1", [east_item])
    post_items(hub, "WEST-1", [west_item])
    for kiosk_id in ("EAST-1", "WEST-1"):
        with kiosk_client(hub, kiosk_id) as k:
            k.post("/v1/heartbeat", json={"devices": {"printer": "ok"}})
    east, csrf = staff_client(hub, "east")
    assert {k["kiosk_id"] for k in east.get("/api/fleet").json()["kiosks"]} == {"EAST-1", "EAST-HALL"}
    assert [a["id"] for a in east.get("/api/applications").json()["applications"]] == [east_item["id"]]
    assert east.get("/api/applications", params={"station": "west"}).status_code == 403
    assert east.get("/api/figures", params={"from": "2026-11-02", "to": "2026-11-02", "station": "west"}).status_code == 403
    own = east.get("/api/figures", params={"from": "2026-11-02", "to": "2026-11-02"}).json()
    assert own["applications"] == {"enrol": 1} and own["station"] == "east"
    assert east.get(f"/api/applications/{west_item['id']}").status_code == 404
    assert east.post(f"/api/applications/{west_item['id']}/state", json={"state": "done", "note": ""}).status_code == 404
    # HTML
    fleet = east.get("/console/fleet").text
    assert "EAST-1" in fleet and "WEST-1" not in fleet
    listing = east.get("/console/applications").text
    assert east_item["id"][:8] in listing and west_item["id"][:8] not in listing
    page = east.get(f"/console/applications/WEST-1/{west_item['id']}")
    assert page.status_code == 404 and "西村居民" not in page.text
    assert east.get("/console/figures", params={"station": "west"}).status_code == 403
    csv_text = east.get("/console/export/applications.csv").content.decode("utf-8-sig")
    assert east_item["id"] in csv_text and west_item["id"] not in csv_text
    # the bureau sees both
    bureau, _ = staff_client(hub, "bureau")
    assert {k["kiosk_id"] for k in bureau.get("/api/fleet").json()["kiosks"]} == {"EAST-1", "EAST-HALL", "WEST-1"}
    assert len(bureau.get("/api/applications").json()["applications"]) == 2


# -- back office ---------------------------------------------------------------------------------------
def test_state_set_in_the_console_reaches_the_kiosk_and_every_view_is_audited(hub, tmp_path):
    item = application("sporadic_reimburse", dt.datetime(2026, 11, 3, 10, tzinfo=CST), name="王小明")
    post_items(hub, "EAST-1", [item])
    kiosk = HubClient(hub.url, "tok-east-1")
    other = HubClient(hub.url, "tok-west-1")
    try:
        assert kiosk.application_state(item["id"])["state"] == "submitted"
        with pytest.raises(HubNotFound):
            other.application_state(item["id"])  # another kiosk's application is not its business
        east, _ = staff_client(hub, "east")
        assert east.post(f"/api/applications/{item['id']}/state", json={"state": "returned", "note": " "}).status_code == 422
        assert east.post(f"/api/applications/{item['id']}/state", json={"state": "lost", "note": ""}).status_code == 422
        r = east.post(f"/api/applications/{item['id']}/state", json={"state": "returned", "note": "缺少发票原件"})
        assert r.status_code == 200 and r.json()["state"] == "returned"
        state = kiosk.application_state(item["id"])
        assert state["state"] == "returned" and state["note"] == "缺少发票原件"
        changes, cursor = kiosk.state_changes(0)
        assert [(c["id"], c["state"]) for c in changes] == [(item["id"], "returned")]
        bureau, _ = staff_client(hub, "bureau")
        assert bureau.post(f"/api/applications/{item['id']}/state", json={"state": "done", "note": "已办结"}).status_code == 200
        changes, cursor = kiosk.state_changes(cursor)
        assert [(c["id"], c["state"]) for c in changes] == [(item["id"], "done")]
        assert kiosk.state_changes(cursor) == ([], cursor)
        assert other.state_changes(0) == ([], 0)
        detail = bureau.get(f"/api/applications/{item['id']}").json()
        assert detail["application"]["applicant"]["name"] == "王小明"
        assert [h["state"] for h in detail["history"]] == ["returned", "done"]
        page = bureau.get(f"/console/applications/EAST-1/{item['id']}")
        assert page.status_code == 200 and "王小明" in page.text and "办结" in page.text
    finally:
        kiosk.close()
        other.close()
    audit = hub.console.audit_rows()
    views = [(a["name"], a["action"], a["submission_id"]) for a in audit if a["action"] == "view_application"]
    assert views == [("bureau", "view_application", item["id"])] * 2
    assert {(a["name"], a["detail"]) for a in audit if a["action"] == "set_state"} == {("east", "returned"), ("bureau", "done")}
    admin, _ = staff_client(hub, "admin")
    assert admin.get("/api/audit").status_code == 200 and bureau_forbidden_audit(hub)
    # the note may name a resident's papers: sealed at rest like payloads
    raw = b"".join(p.read_bytes() for p in tmp_path.glob("hub.sqlite3*"))
    assert "缺少发票原件".encode() not in raw and "王小明".encode() not in raw


def bureau_forbidden_audit(hub) -> bool:
    bureau, _ = staff_client(hub, "bureau")
    return bureau.get("/api/audit").status_code == 403


def test_list_filters_and_exports_match_the_json(hub):
    items = [application(s, dt.datetime(2026, 11, d, 9, tzinfo=CST)) for s, d in
             (("enrol", 1), ("enrol", 2), ("contribution", 2), ("transfer", 3))]
    post_items(hub, "EAST-1", items)
    client, _ = staff_client(hub, "bureau")
    client.post(f"/api/applications/{items[1]['id']}/state", json={"state": "processing", "note": ""})
    listed = client.get("/api/applications", params={"service": "enrol"}).json()["applications"]
    assert {a["id"] for a in listed} == {items[0]["id"], items[1]["id"]}
    assert [a["id"] for a in client.get("/api/applications", params={"state": "processing"}).json()["applications"]] == [items[1]["id"]]
    assert len(client.get("/api/applications", params={"state": "submitted"}).json()["applications"]) == 3
    assert [a["id"] for a in client.get("/api/applications", params={"from": "2026-11-03", "to": "2026-11-03"}).json()["applications"]] == [items[3]["id"]]
    rows = list(csv.reader(io.StringIO(client.get("/console/export/applications.csv").content.decode("utf-8-sig"))))
    assert rows[0][0] == "业务编号" and {r[0] for r in rows[1:]} == {i["id"] for i in items}
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get("/console/export/figures-services.xlsx",
                                               params={"from": "2026-11-01", "to": "2026-11-03"}).content))
    sheet = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert sheet[0] == ["业务代码", "业务", "申请件数"]
    assert {r[0]: r[2] for r in sheet[1:]} == {"contribution": 1, "enrol": 2, "transfer": 1}
    fleet = list(csv.reader(io.StringIO(client.get("/console/export/fleet.csv").content.decode("utf-8-sig"))))
    assert fleet[0][0] == "终端"
    assert client.get("/console/export/secrets.csv").status_code == 404


# -- the same console on PostgreSQL ------------------------------------------------------------------
@pytest.mark.postgres
def test_console_on_postgresql(pg_url, tmp_path, clock):
    handle = start_hub_in_thread(pg_url, TOKENS, key_file=tmp_path / "hub.key",
                                 console=ConsoleOptions(instant_services=INSTANT, clock=clock))
    try:
        console = ConsoleStore(handle.store, clock)
        for kiosk_id, station in STATION_OF.items():
            console.set_station(kiosk_id, station)
        console.put_staff("bureau", "bureau", None, HASH)
        console.put_staff("west", "station", "west", HASH)
        sent = seed(handle, random.Random(5))
        with kiosk_client(handle, "WEST-1") as k:
            assert k.post("/v1/heartbeat", json={"version": "1", "backlog": 1, "devices": {"printer": "paper_low"}}).status_code == 200
        bureau, _ = staff_client(handle, "bureau")
        got = bureau.get("/api/figures", params={"from": "2026-11-01", "to": "2026-11-04"}).json()
        assert {k: got[k] for k in CONTRACT} == expected_figures(sent, "2026-11-01", "2026-11-04", {"east", "west"})
        west, _ = staff_client(handle, "west")
        assert [k["kiosk_id"] for k in west.get("/api/fleet").json()["kiosks"]] == ["WEST-1"]
        target = next(i for i in sent if i["kiosk_id"] == "WEST-1" and i["kind"] == "submission")
        assert west.post(f"/api/applications/{target['id']}/state", json={"state": "accepted", "note": "已收件"}).status_code == 200
        with kiosk_client(handle, "WEST-1") as k:
            assert k.get(f"/v1/applications/{target['id']}/state").json()["state"] == "accepted"
        assert west.get(f"/api/applications/{target['id']}").json()["note"] == "已收件"
        assert len(west.get("/console/applications").text) > 0
    finally:
        handle.stop()


def test_kiosk_progress_service_reads_the_state_set_in_the_console(hub):
    from kiosk.errors import UserFacingError
    from kiosk.services.progress import application_progress, progress_of

    item = application("transfer", dt.datetime(2026, 11, 3, 10, tzinfo=CST))
    post_items(hub, "EAST-1", [item])
    bureau, _ = staff_client(hub, "bureau")
    bureau.post(f"/api/applications/{item['id']}/state", json={"state": "returned", "note": "缺少转出地参保凭证"})
    client = HubClient(hub.url, "tok-east-1")
    try:
        (progress,) = application_progress(client, [item["id"], str(uuid.uuid4())])  # the unknown id is left out
    finally:
        client.close()
    assert progress.state == "returned" and progress.label.zh_CN == "退回补正" and progress.note == "缺少转出地参保凭证"
    assert "补齐材料" in progress.next_step.zh_CN and progress.next_step.en
    assert progress_of({"state": "weird"}).label.zh_CN == "状态未知"
    offline = HubClient("http://127.0.0.1:9", "tok-east-1", timeout_s=1)
    try:
        with pytest.raises(UserFacingError):
            application_progress(offline, [item["id"]])
    finally:
        offline.close()
