"""预约 (issue 19): appointments in the hall's queue database, booked by a clerk (API or `kiosk hall
add-appointment`), checked in at the kiosk with the code (typed or scanned) and queued with the
appointment's priority; wrong / used / expired codes and a hall that is down each give one clear
message; and self-declared priority reasons served like the green channel."""
from __future__ import annotations

import datetime as dt
import json
import uuid
from contextlib import closing

import httpx
import pytest

from test_hall_support import TOKEN, clerk_client, clock, hall, kiosk_client  # noqa: F401 (fixtures)


@pytest.fixture
def queue(tmp_path, config):
    from kiosk.services.queue import QueueService

    q = QueueService(tmp_path / "queue.sqlite3", config.queue, 65)
    yield q
    q.close()


def today() -> str:
    return dt.date.today().isoformat()


def test_a_check_in_claims_the_code_once_and_queues_with_the_appointments_priority(queue) -> None:
    from kiosk.services.queue import AppointmentRefused

    booked = queue.add_appointment("chronic_disease", "门诊慢特病认定", "C", today())
    assert len(booked.code) == 8 and booked.code.isdigit()
    first = str(uuid.uuid4())
    appointment, ticket = queue.check_in(booked.code, first)
    assert (ticket.number, ticket.priority_reason, ticket.service_code) == ("C001", "appointment", "chronic_disease")
    assert appointment.ticket_id == ticket.ticket_id and appointment.checked_in_at
    again_appointment, again = queue.check_in(booked.code, first)  # a retried request: the same ticket
    assert again.ticket_id == ticket.ticket_id and len(queue.today()) == 1
    with pytest.raises(AppointmentRefused) as used:
        queue.check_in(booked.code, str(uuid.uuid4()))
    assert used.value.reason == "used"
    with pytest.raises(AppointmentRefused) as unknown:
        queue.check_in("00000000" if booked.code != "00000000" else "11111111", first)
    assert unknown.value.reason == "unknown"


@pytest.mark.parametrize(("day", "window", "reason"), [
    (-1, (None, None), "expired"), (1, (None, None), "not_yet"),
    (0, ("00:00", "00:00"), "expired"), (0, ("23:59", "23:59"), "not_yet"),
])
def test_an_appointment_outside_its_day_or_window_is_refused(queue, day, window, reason) -> None:
    from kiosk.services.queue import AppointmentRefused

    now = dt.datetime.now()
    if window[0] == "00:00" and now.hour < 1 or window[0] == "23:59" and now.hour >= 22:
        pytest.skip("the margins cover the whole window at this time of day")
    booked = queue.add_appointment("enrol", "参保登记", "A", (now.date() + dt.timedelta(days=day)).isoformat(), *window)
    with pytest.raises(AppointmentRefused) as refused:
        queue.check_in(booked.code, str(uuid.uuid4()))
    assert refused.value.reason == reason and queue.today() == []


def test_declared_priority_reasons_are_served_like_the_green_channel(queue) -> None:
    normal = [queue.issue("enrol", "参保登记", "A", None) for _ in range(3)]
    pregnant = queue.issue("enrol", "参保登记", "A", "pregnant")
    military = queue.issue("enrol", "参保登记", "A", "military")
    order = [t.ticket_id for t in queue.waiting()]
    assert order[0] == pregnant.ticket_id and order.index(military.ticket_id) < order.index(normal[2].ticket_id)
    assert queue.people_ahead(pregnant) == 0
    content = queue.ticket_content(pregnant, "示范站")
    assert content.priority and content.counter_hint == "孕妇优先"
    with pytest.raises(ValueError):
        queue.issue("enrol", "参保登记", "A", "vip")


def test_the_priority_config_names_its_key_on_a_bad_reason(tmp_path, data_dir) -> None:
    from kiosk.config import PROJECT_ROOT, load_config
    from kiosk.errors import ConfigError

    assert load_config(environ={"KIOSK_DATA_DIR": str(data_dir)}).priority.reasons == ["disabled", "pregnant", "military"]
    text = (PROJECT_ROOT / "config.toml").read_text(encoding="utf-8").replace(
        'reasons = ["disabled", "pregnant", "military"]', 'reasons = ["disabled", "vip"]')
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path, environ={"KIOSK_DATA_DIR": str(data_dir)})
    assert "priority.reasons" in str(raised.value)


# -- the hall's API ------------------------------------------------------------------------------
def book(url: str, **extra) -> dict:
    with closing(clerk_client(url)) as clerk:
        r = clerk.post("/api/appointments", json={"service": "chronic_disease", "day": today(), **extra})
    assert r.status_code == 200, r.text
    return r.json()


def test_clerk_books_and_the_kiosk_checks_in_over_the_api(hall) -> None:
    booked = book(hall.url)
    with httpx.Client(base_url=hall.url) as anonymous:  # booking needs a clerk, check-in a kiosk
        assert anonymous.post("/api/appointments", json={"service": "enrol", "day": today()}).status_code == 401
        assert anonymous.post("/v1/appointments/check-in", json={"code": booked["code"]}).status_code == 401
    request_id = str(uuid.uuid4())
    with kiosk_client(hall.url) as kiosk:
        r = kiosk.post("/v1/appointments/check-in", json={"code": booked["code"], "request_id": request_id})
        assert r.status_code == 200, r.text
        ticket = r.json()
        assert ticket["priority_reason"] == "appointment" and ticket["number"].startswith("C")
        assert ticket["appointment"]["code"] == booked["code"]
        again = kiosk.post("/v1/appointments/check-in", json={"code": booked["code"], "request_id": request_id})
        assert again.json()["id"] == ticket["id"]
        used = kiosk.post("/v1/appointments/check-in", json={"code": booked["code"], "request_id": str(uuid.uuid4())})
        assert (used.status_code, used.json()["error"]) == (409, "appointment_used")
        wrong = kiosk.post("/v1/appointments/check-in", json={"code": "12", "request_id": request_id})
        assert (wrong.status_code, wrong.json()["error"]) == (404, "appointment_unknown")
    with closing(clerk_client(hall.url)) as clerk:
        listed = clerk.get("/api/appointments").json()["appointments"]
        assert [a["ticket_id"] for a in listed] == [ticket["id"]]
        assert clerk.post("/api/counters/1/call").json()["ticket"]["id"] == ticket["id"]


def test_guessing_codes_is_stopped(hall) -> None:
    with kiosk_client(hall.url) as kiosk:
        codes = [kiosk.post("/v1/appointments/check-in", json={"code": f"{n:08d}", "request_id": str(uuid.uuid4())}).status_code
                 for n in range(25)]
    assert 429 in codes and set(codes) <= {404, 429}


def test_the_cli_books_an_appointment(tmp_path, data_dir, capsys) -> None:
    from kiosk.cli import main

    db = tmp_path / "hall.sqlite3"
    assert main(["hall", "add-appointment", "--service", "chronic_disease", "--from", "09:00", "--until", "10:00",
                 "--db", str(db)]) == 0
    booked = json.loads(capsys.readouterr().out)
    assert (booked["service"], booked["day"], booked["from"], booked["until"]) == ("chronic_disease", today(), "09:00", "10:00")
    assert main(["hall", "add-appointment", "--service", "nope", "--db", str(db)]) == 2
    assert "nope" in capsys.readouterr().err
    assert main(["hall", "add-appointment", "--service", "enrol", "--day", "2026-13-01", "--db", str(db)]) == 2


def test_the_counter_sees_who_acted_for_the_applicant_and_the_priority_reason(hall) -> None:
    from test_hall_support import application

    payload = {**application(), "priority": {"reason": "disabled", "self_declared": True},
               "proxy": {"helper": {"name": "李明", "id_number": "320682199506120038", "source": "idcard", "birth_date": None},
                         "relation": "grid_worker", "authorised_at": "2026-12-02T09:30:00", "resident_check": "unverified"}}
    with kiosk_client(hall.url) as kiosk:
        r = kiosk.post("/api/tickets", json={"service": "chronic_disease", "priority": "disabled",
                                             "submission_id": str(uuid.uuid4()), "application": payload})
        assert r.status_code == 200, r.text
    with closing(clerk_client(hall.url)) as clerk:
        called = clerk.post("/api/counters/1/call").json()["ticket"]
        assert called["priority_label"] == "残疾人优先"
        proxy = called["application"]["proxy"]
        assert (proxy["helper_name"], proxy["relation"], proxy["unverified"]) == ("李明", "网格员", True)
        page = clerk.get("/counter/1").text
    assert "帮办代办" in page and "李明" in page and "网格员" in page and "未核验" in page and "残疾人优先" in page
