"""Fixtures for the hall tests (imported by tests/test_hall_*.py): a hall on 127.0.0.1 with its
own data, a clerk account, a kiosk token, and an application as the kiosk builds it."""
from __future__ import annotations

import time
import uuid
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
from waiting import wait_until

KIOSK, TOKEN = "KIOSK-HALL-T", "hall-test-token-0123456789"
TOKENS = {TOKEN: KIOSK}
CLERK, PASSWORD = "alice", "correct horse 1"
CLERK2, PASSWORD2 = "bob", "battery staple 2"
NAME, ID_NUMBER, PHONE = "张小花", "11010519491231002X", "13800138000"


class FakeClock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def application(service: str = "chronic_disease") -> dict[str, Any]:
    """What kiosk.services.forms.build_payload makes for a resident who read their ID card."""
    return {"service": service, "form_version": 1,
            "applicant": {"name": NAME, "id_number": ID_NUMBER, "source": "idcard", "birth_date": "1949-12-31"},
            "answers": {"disease": "diabetes", "hospitals": ["h_township", "h_county_tcm"], "phone": PHONE}}


def open_parts(db: Path, config: Any, clock: Callable[[], float] = time.time, **options: Any):
    from kiosk.hall.auth import hash_password
    from kiosk.hall.server import open_hall

    parts = open_hall(db, config, sync=options.pop("sync", False), housekeeping=False, clock=clock, **options)
    parts.service.store.put_staff(CLERK, "clerk", hash_password(PASSWORD))
    parts.service.store.put_staff(CLERK2, "clerk", hash_password(PASSWORD2))
    return parts


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def hall(tmp_path: Path, config: Any, clock: FakeClock):
    from kiosk.hall.server import start_hall_in_thread

    handle = start_hall_in_thread(open_parts(tmp_path / "hall" / "hall.sqlite3", config, clock), TOKENS)
    yield handle
    handle.stop()


def kiosk_client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)


def clerk_client(url: str, user: str = CLERK, password: str = PASSWORD) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=10)
    r = client.post("/api/login", json={"user": user, "password": password})
    assert r.status_code == 200, r.text
    client.headers["X-CSRF-Token"] = r.json()["csrf"]
    return client


def issue(url: str, service: str = "chronic_disease", with_application: bool = True, priority: bool = False) -> dict:
    submission_id = str(uuid.uuid4())
    body: dict[str, Any] = {"service": service, "priority": priority, "submission_id": submission_id}
    if with_application:
        body["application"] = application(service)
    with kiosk_client(url) as k:
        r = k.post("/api/tickets", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(condition: Callable[[], Any], timeout: float = 10.0, step: float = 0.02) -> Any:
    return wait_until(condition, timeout, step)
