"""The counter page in a real browser (issue 19): a 代办 application shows the helper, the relation,
the 委托 time and that the typed-in applicant is still to be checked; the priority tag names its
reason. Screenshot with KIOSK_SCREENSHOTS_DIR=docs/screens (as tests/test_hall_browser.py)."""
from __future__ import annotations

import uuid

import pytest
from selenium.webdriver.common.by import By

from test_hall_browser import browser, full_hd, shot, texts  # noqa: F401 (fixtures)
from test_hall_support import CLERK, PASSWORD, application, clock, hall, kiosk_client  # noqa: F401 (fixtures)
from waiting import wait_until

pytestmark = pytest.mark.slow


def test_the_counter_page_shows_a_proxy_application(browser, hall) -> None:
    payload = {**application(), "priority": {"reason": "disabled", "self_declared": True},
               "proxy": {"helper": {"name": "李明", "id_number": "320682199506120038", "source": "idcard", "birth_date": None},
                         "relation": "grid_worker", "authorised_at": "2026-12-02T09:30:00", "resident_check": "unverified"}}
    payload["applicant"] = {**payload["applicant"], "source": "typed"}
    with kiosk_client(hall.url) as kiosk:
        assert kiosk.post("/api/tickets", json={"service": "chronic_disease", "priority": "disabled",
                                                "submission_id": str(uuid.uuid4()), "application": payload}).status_code == 200
    full_hd(browser)
    browser.get(f"{hall.url}/counter/1")
    browser.find_element(By.ID, "user").send_keys(CLERK)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait_until(lambda: browser.current_url == f"{hall.url}/counter/1")
    browser.find_element(By.ID, "call").click()
    wait_until(lambda: browser.find_elements(By.ID, "proxy"))
    proxy = " ".join(texts(browser, "#proxy dd"))
    assert "李明" in proxy and "网格员" in proxy and "未核验" in proxy and "2026-12-02 09:30" in proxy
    assert texts(browser, "#priority") == ["残疾人优先"]
    assert "代办人输入" in " ".join(texts(browser, "#applicant dd"))
    shot(browser, "counter-proxy")
