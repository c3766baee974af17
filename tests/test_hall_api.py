"""The hall's HTTP contract (issue 17): tickets from the kiosk, the counter's call with the
application beside it, finish/transfer, lobby without personal data, rating pad, health."""
from __future__ import annotations

import json
import sqlite3
import threading
import uuid

import httpx
import pytest

from test_hall_support import (ID_NUMBER, NAME, PHONE, TOKEN, application, clerk_client, clock, hall,  # noqa: F401
                               issue, kiosk_client, wait_for)

TICKET_KEYS = {"ticket_id", "number", "band", "service", "service_name", "priority", "priority_reason", "issued_at",
               "state", "print_state", "counter", "people_ahead", "estimated_wait_min"}


def test_ticket_is_the_kiosk_ticket_json_plus_id_and_one_per_submission(hall) -> None:
    submission_id = str(uuid.uuid4())
    with kiosk_client(hall.url) as k:
        first = k.post("/api/tickets", json={"service": "chronic_disease", "priority": True, "submission_id": submission_id})
        again = k.post("/api/tickets", json={"service": "chronic_disease", "priority": True, "submission_id": submission_id})
        plain = k.post("/api/tickets", json={"service": "enrol", "priority": False, "submission_id": None})
    assert first.status_code == 200, first.text
    body = first.json()
    assert TICKET_KEYS <= body.keys() and body["id"] == body["ticket_id"] and body["submission_id"] == submission_id
    assert (body["number"], body["priority"], body["priority_reason"]) == ("C001", True, "elderly")
    assert again.json()["number"] == "C001"  # a kiosk retry never queues the resident twice
    assert plain.json()["number"] == "A001" and plain.json()["submission_id"] is None


@pytest.mark.parametrize(("headers", "body", "status", "error"), [
    ({}, {"service": "enrol", "priority": False, "submission_id": None}, 401, "unauthorized"),
    ({"Authorization": "Bearer wrong"}, {"service": "enrol", "priority": False, "submission_id": None}, 401, "unauthorized"),
    (None, {"service": "no_such", "priority": False, "submission_id": None}, 422, "unknown_service"),
    (None, {"service": "enrol", "priority": 3, "submission_id": None}, 422, "invalid"),
    (None, {"service": "enrol", "priority": False, "submission_id": "x' OR 1=1"}, 422, "invalid_submission_id"),
    (None, {"service": "enrol", "priority": False, "submission_id": None, "application": {"a": 1}}, 422, "application_without_submission"),
    (None, "not json", 400, "malformed_json"),
])
def test_bad_ticket_requests_get_one_clear_error(hall, headers, body, status, error) -> None:
    with httpx.Client(base_url=hall.url, headers=headers if headers is not None else {"Authorization": f"Bearer {TOKEN}"}) as c:
        r = c.post("/api/tickets", content=body if isinstance(body, str) else json.dumps(body))
    assert r.status_code == status and r.json()["error"] == error
    assert hall.service.queue.today() == []


def test_call_shows_the_application_with_option_labels_and_audits_the_view(hall) -> None:
    ticket = issue(hall.url)
    clerk = clerk_client(hall.url)
    r = clerk.post("/api/counters/3/call")
    assert r.status_code == 200, r.text
    called = r.json()["ticket"]
    assert (called["number"], called["submission_id"], called["counter"]) == (ticket["number"], ticket["submission_id"], 3)
    app = called["application"]
    assert app["applicant"] == application()["applicant"]  # full data for the logged-in clerk
    answers = {row["name"]: row["value"] for row in app["answers"]}
    assert answers["disease"] == "糖尿病" and answers["hospitals"] == "本镇卫生院、县中医院"
    assert app["materials"][:2] == ["身份证或社保卡", "二级以上医院诊断证明"]  # the guide's list, as on the ticket
    rows = hall.service.store.audit_rows()
    assert [(a.name, a.action, a.submission_id, a.ticket_id, a.counter) for a in rows] == \
        [("alice", "view_application", ticket["submission_id"], ticket["id"], 3)]
    assert clerk.get("/counter/3").status_code == 200  # the page view is a view too
    assert len(hall.service.store.audit_rows()) == 2
    assert clerk.post("/api/counters/3/call").json() == {"ticket": None}  # nobody waits


def test_application_may_arrive_separately_and_conflicts_are_refused(hall) -> None:
    submission_id = str(uuid.uuid4())
    with kiosk_client(hall.url) as k:
        stored = k.post("/api/applications", json={"submission_id": submission_id, "service": "chronic_disease",
                                                   "payload": application()})
        again = k.post("/api/applications", json={"submission_id": submission_id, "service": "chronic_disease",
                                                  "payload": application()})
        changed = {**application(), "answers": {"disease": "copd"}}
        conflict = k.post("/api/applications", json={"submission_id": submission_id, "service": "chronic_disease",
                                                     "payload": changed})
        k.post("/api/tickets", json={"service": "chronic_disease", "priority": False, "submission_id": submission_id})
    assert stored.json()["stored"] == "new" and again.json()["stored"] == "duplicate"
    assert conflict.status_code == 409
    called = clerk_client(hall.url).post("/api/counters/1/call").json()["ticket"]
    assert {r["name"]: r["value"] for r in called["application"]["answers"]}["disease"] == "糖尿病"


def test_finish_outcomes_are_recorded_and_reported_with_times(hall) -> None:
    ticket = issue(hall.url)
    clerk = clerk_client(hall.url)
    clerk.post("/api/counters/1/call")
    r = clerk.post(f"/api/tickets/{ticket['id']}/finish", json={"outcome": "returned", "note": "缺少：病历"})
    assert r.status_code == 200, r.text
    assert (r.json()["ticket"]["outcome"], r.json()["ticket"]["note"]) == ("returned", "缺少：病历")
    again = clerk.post(f"/api/tickets/{ticket['id']}/finish", json={"outcome": "done", "note": ""})
    assert again.status_code == 409 and again.json()["error"] == "not_called"
    bad = clerk.post(f"/api/tickets/{ticket['id']}/finish", json={"outcome": "lost", "note": ""})
    assert bad.status_code == 422
    [entry] = hall.parts.outbox.list(reveal=True)
    assert (entry.service, entry.kind, entry.kiosk_id) == ("hall_ticket", "submission", "KIOSK-0001")
    payload = entry.payload
    assert (payload["outcome"], payload["submission_id"], payload["counter"]) == ("returned", ticket["submission_id"], 1)
    assert payload["waiting_s"] is not None and payload["handling_s"] is not None


def test_transfer_keeps_the_place_and_recall_skip_answer(hall) -> None:
    first = issue(hall.url, service="enrol", with_application=False)
    issue(hall.url, service="sporadic_reimburse", with_application=False)
    clerk = clerk_client(hall.url)
    assert clerk.post("/api/counters/1/call").json()["ticket"]["number"] == first["number"]
    assert clerk.post("/api/counters/1/recall").json()["ticket"]["number"] == first["number"]
    r = clerk.post(f"/api/tickets/{first['id']}/finish", json={"outcome": "transferred", "note": "转报销", "to_band": "B"})
    assert r.json()["ticket"]["state"] == "waiting"
    assert httpx.get(f"{hall.url}/api/lobby").json()["waiting"]["B"] == 2
    assert clerk.post("/api/counters/2/call", json={"bands": ["B"]}).json()["ticket"]["number"] == first["number"]
    assert clerk.post("/api/counters/2/skip").json()["ticket"]["state"] == "skipped"
    assert clerk.post("/api/counters/2/skip").json() == {"ticket": None}
    no_target = clerk.post(f"/api/tickets/{first['id']}/finish", json={"outcome": "transferred", "note": ""})
    assert no_target.status_code == 422


def test_lobby_and_its_events_carry_numbers_and_counters_only(hall) -> None:
    issue(hall.url)
    issue(hall.url)
    clerk = clerk_client(hall.url)
    clerk.post("/api/counters/4/call")
    lobby = httpx.get(f"{hall.url}/api/lobby").json()
    assert lobby["calling"] == [{"number": "C001", "counter": 4}] and lobby["waiting"]["C"] == 1
    page = httpx.get(f"{hall.url}/lobby").text
    with httpx.stream("GET", f"{hall.url}/api/lobby/events", timeout=10) as stream:
        event = ""
        for line in stream.iter_lines():
            event += line + "\n"
            if line.startswith("data:"):
                break
    rate = httpx.get(f"{hall.url}/api/counters/4/rating").text + httpx.get(f"{hall.url}/rate/4").text
    for text in (json.dumps(lobby, ensure_ascii=False), page, event, rate):
        for secret in (NAME, ID_NUMBER, PHONE, "糖尿病", "1949"):
            assert secret not in text
    assert "C001" in page and "C001" in event


def test_voice_serves_a_wav_of_the_call_and_nothing_else(hall) -> None:
    r = httpx.get(f"{hall.url}/api/voice", params={"number": "A001", "counter": 3}, timeout=30)
    if r.status_code == 503:
        pytest.skip("espeak-ng not installed")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/wav" and r.content[:4] == b"RIFF"
    assert httpx.get(f"{hall.url}/api/voice", params={"number": "张三", "counter": 3}).status_code == 422


def test_rating_pad_rates_the_ticket_just_finished_once(hall) -> None:
    ticket = issue(hall.url)
    clerk = clerk_client(hall.url)
    assert httpx.get(f"{hall.url}/api/counters/5/rating").json() == {"pending": None}
    clerk.post("/api/counters/5/call")
    clerk.post(f"/api/tickets/{ticket['id']}/finish", json={"outcome": "done", "note": ""})
    pending = httpx.get(f"{hall.url}/api/counters/5/rating").json()["pending"]
    assert pending["ticket_id"] == ticket["id"]
    bad_tags = httpx.post(f"{hall.url}/api/counters/5/rating", json={"ticket_id": ticket["id"], "score": 5, "tags": ["服务态度"]})
    assert bad_tags.status_code == 422  # reasons only under the lower levels
    ok = httpx.post(f"{hall.url}/api/counters/5/rating", json={"ticket_id": ticket["id"], "score": 2, "tags": ["服务效率"]})
    assert ok.status_code == 200, ok.text
    twice = httpx.post(f"{hall.url}/api/counters/5/rating", json={"ticket_id": ticket["id"], "score": 5, "tags": []})
    assert twice.status_code == 409
    ratings = [e for e in hall.parts.outbox.list(reveal=True) if e.kind == "rating"]
    assert len(ratings) == 1
    payload = ratings[0].payload
    assert (payload["service"], payload["reference"], payload["score"], payload["reason"]) == \
        ("chronic_disease", ticket["submission_id"], 2, "服务效率")
    assert payload["ticket_id"] == ticket["id"] and NAME not in json.dumps(payload, ensure_ascii=False)


def test_two_clerks_calling_at_the_same_instant_never_get_the_same_ticket(hall) -> None:
    for _ in range(24):
        issue(hall.url, with_application=False)
    clerks = [clerk_client(hall.url) for _ in range(6)]
    barrier = threading.Barrier(len(clerks))
    got: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def work(n: int, client: httpx.Client) -> None:
        for _ in range(5):
            barrier.wait(timeout=30)
            r = client.post(f"/api/counters/{n}/call")
            with lock:
                if r.status_code != 200:
                    errors.append(r.text)
                elif r.json()["ticket"] is not None:
                    got.append(r.json()["ticket"]["number"])

    threads = [threading.Thread(target=work, args=(n + 1, c)) for n, c in enumerate(clerks)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    assert len(got) == len(set(got)) == 24  # every ticket called once, none twice


def test_health(hall) -> None:
    body = httpx.get(f"{hall.url}/api/health").json()
    assert body["status"] == "ok" and body["outbox"]["pending"] == 0


def test_pages_send_security_headers_and_wait_for_condition(hall) -> None:
    r = httpx.get(f"{hall.url}/lobby")
    assert "default-src 'self'" in r.headers["content-security-policy"] and r.headers["x-frame-options"] == "DENY"
    assert "http://" not in r.text.replace(hall.url, "") and "https://" not in r.text  # nothing from the internet
    css = httpx.get(f"{hall.url}/theme.css").text
    assert "--primary:#0A4F9C" in css
    wait_for(lambda: httpx.get(f"{hall.url}/api/health").status_code == 200)


def test_application_is_sealed_in_the_database(hall, tmp_path) -> None:
    issue(hall.url)
    db = tmp_path / "hall" / "hall.sqlite3"
    raw = b"".join(p.read_bytes() for p in db.parent.glob("hall.sqlite3*"))
    for secret in (NAME, ID_NUMBER, PHONE):
        assert secret.encode() not in raw
    (payload,) = sqlite3.connect(db).execute("SELECT payload FROM applications").fetchone()
    assert payload[:1] == b"\x01"


def test_counter_page_forms_call_return_with_missing_materials_and_transfer(hall) -> None:
    ticket = issue(hall.url, service="sporadic_reimburse")
    clerk = clerk_client(hall.url)
    csrf = clerk.headers["X-CSRF-Token"]
    assert clerk.post("/counter/2/call", data={"csrf": csrf}, follow_redirects=False).headers["location"] == "/counter/2"
    page = clerk.get("/counter/2").text
    assert ticket["number"] in page and "医疗费用发票原件" in page and NAME in page
    materials = ["身份证或社保卡", "医疗费用发票原件"]
    r = clerk.post("/counter/2/finish", data={"csrf": csrf, "ticket_id": ticket["id"], "outcome": "returned",
                                              "note": "请补齐后再来", "material": materials, "present": materials[:1]},
                   follow_redirects=False)
    assert r.headers["location"] == "/counter/2"
    finished = hall.service.queue.get(ticket["id"])
    assert (finished.outcome, finished.note) == ("returned", "缺少材料：医疗费用发票原件；请补齐后再来")
    second = issue(hall.url, service="enrol", with_application=False)
    clerk.post("/counter/2/call", data={"csrf": csrf})
    clerk.post("/counter/2/finish", data={"csrf": csrf, "ticket_id": second["id"], "outcome": "transferred",
                                          "note": "", "to_band": "", "to_counter": "7"})
    assert hall.service.queue.get(second["id"]).route_counter == 7
    bad = clerk.post("/counter/2/finish", data={"csrf": csrf, "ticket_id": second["id"], "outcome": "done"},
                     follow_redirects=False)
    assert "error=not_called" in bad.headers["location"]


def test_a_reimbursement_shows_its_receipts(hall) -> None:
    import uuid as _uuid

    submission_id = str(_uuid.uuid4())
    claim = {"service": "sporadic_reimburse", "applicant": application()["applicant"], "total": "356.20",
             "receipts": [{"fields": {"bill_code": "41060122", "bill_number": "0012345678", "hospital": "县人民医院",
                                      "issue_date": "2024-04-28", "total": "356.20"},
                           "items": [{"name": "西药费", "amount": "300.00"}], "checks": {}, "needs_review": [],
                           "corrected_fields": [], "confirmed_by_clerk": True, "template": "henan"}]}
    with kiosk_client(hall.url) as k:
        k.post("/api/tickets", json={"service": "sporadic_reimburse", "priority": False, "submission_id": submission_id,
                                     "application": claim})
    clerk = clerk_client(hall.url)
    [receipt] = clerk.post("/api/counters/1/call").json()["ticket"]["application"]["receipts"]
    assert (receipt["number"], receipt["hospital"], receipt["total"], receipt["confirmed"]) == \
        ("410601220012345678", "县人民医院", "356.20", True)
    page = clerk.get("/counter/1").text
    assert "县人民医院" in page and "合计 356.20 元" in page
