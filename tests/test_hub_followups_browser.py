"""Issue 18/19 console pages in a real browser (Debian's chromium through Selenium): the 差评回访
list with an overdue item, a follow-up recorded through the page's form, the figures page by week
with one line per service point, and a 零星报销 application with its receipt pictures.

Screenshots at 1920×1080 go to docs/screens only when asked (KIOSK_SCREENSHOTS_DIR=docs/screens)."""
from __future__ import annotations

import datetime as dt
import random
import uuid
from pathlib import Path

import httpx
import pytest

from test_hub_console import CST, HASH, INSTANT, STATION_OF, TOKENS, Clock, post_items, seed
from test_hub_console_browser import browser, login, shot, wait_for  # noqa: F401  (fixture)
from test_hub_followups import rating

from selenium.webdriver.common.by import By  # noqa: E402

DAY = 86400.0


@pytest.fixture
def hub(tmp_path: Path):
    from kiosk.hub.console.routes import ConsoleOptions
    from kiosk.hub.console.store import ConsoleStore
    from kiosk.hub.server import start_hub_in_thread

    clock = Clock()
    handle = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), TOKENS, platform=None,
                                 console=ConsoleOptions(offline_after_s=300.0, instant_services=INSTANT, clock=clock))
    console = ConsoleStore(handle.store, clock)
    for kiosk_id, station in STATION_OF.items():
        console.set_station(kiosk_id, station)
    console.put_staff("bureau", "bureau", None, HASH)
    handle.clock = clock
    yield handle
    handle.stop()


def test_followups_figures_by_week_and_receipt_pictures_in_a_real_browser(browser, hub):
    seed(hub, random.Random(18))
    rated = dt.datetime(2026, 11, 2, 10, 0, tzinfo=CST)
    bad = [rating("enrol", rated, 1, "排队太久，无人引导"), rating("contribution", rated + dt.timedelta(days=1), 2, "屏幕字太小"),
           rating("record_query", rated - dt.timedelta(days=20), 1, "打印机没纸")]
    post_items(hub, "EAST-1", bad[:2])
    post_items(hub, "WEST-1", bad[2:])
    hub.clock.now = (rated + dt.timedelta(days=3)).timestamp()
    base = hub.url
    login(browser, base, "bureau")

    browser.get(base + "/console/followups")
    rows = browser.find_elements(By.CSS_SELECTOR, "#followups tbody tr")
    ids = {b["id"] for b in bad}
    links = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "#followups a")]
    assert len([link for link in links if any(i in link for i in ids)]) == len(bad)
    overdue = browser.find_elements(By.CSS_SELECTOR, "#followups tr.overdue")
    assert len(overdue) == 1 and "超期" in overdue[0].text  # the 20-day-old one
    assert len(rows) >= len(bad)
    shot(browser, "followups")

    target = next(link for link in links if bad[0]["id"] in link)
    browser.get(target)
    assert "排队太久" in browser.find_element(By.ID, "reason").text
    browser.find_element(By.CSS_SELECTOR, "input[name=state][value=called_back]").click()
    browser.find_element(By.ID, "note").send_keys("已电话回访，居民反映高峰期无导办员")
    browser.find_element(By.ID, "save-followup").click()
    wait_for(lambda: browser.find_element(By.ID, "followup-state").text == "已回访", what="the new follow-up state")
    assert "已电话回访" in browser.find_element(By.ID, "history").text
    shot(browser, "followup")

    browser.get(base + "/console/figures?from=2026-10-12&to=2026-11-08&by=week")
    wait_for(lambda: browser.find_element(By.ID, "chart-daily").get_attribute("data-rendered") == "1", what="the weekly chart")
    series = browser.find_element(By.ID, "table-series").text
    assert "2026-W45" in series and "2026-W42" in series
    assert "差评" in browser.find_element(By.ID, "kpi-followup").find_element(By.XPATH, "..").text
    shot(browser, "figures-weekly")

    # a 零星报销 claim with two receipt pictures: the page shows both images, decoded by the browser
    from test_receipt_images import claim_with_pictures

    sid = str(uuid.uuid4())
    item = {"id": sid, "service": "sporadic_reimburse", "kind": "submission", "created_at": rated.isoformat(),
            "payload": claim_with_pictures(2).payload()}
    with httpx.Client(base_url=base, headers={"Authorization": "Bearer tok-east-1"}, timeout=30) as k:
        assert k.post("/v1/submissions", json={"items": [item]}).json()["results"][0]["result"] == "accepted"
    browser.get(f"{base}/console/applications/EAST-1/{sid}")
    images = browser.find_elements(By.CSS_SELECTOR, "#receipt-images img")
    assert len(images) == 2
    wait_for(lambda: all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i) for i in images),
             what="the receipt pictures decoded")
    browser.execute_script("document.getElementById('receipts').scrollIntoView()")
    shot(browser, "application-receipts")
