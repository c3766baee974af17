"""Issue 19 at the counter, in a real browser: a 零星报销 claim with its receipt pictures reaches the
hall with its ticket; the clerk who calls it sees each picture beside the OCR'd fields.
Screenshot at 1920×1080 to docs/screens only when asked (KIOSK_SCREENSHOTS_DIR=docs/screens)."""
from __future__ import annotations

import uuid
from pathlib import Path

import httpx

from test_hall_support import CLERK, PASSWORD, TOKEN, open_parts
from test_hub_console_browser import SCREENS, browser, wait_for  # noqa: F401  (fixture)
from test_receipt_images import claim_with_pictures

from selenium.webdriver.common.by import By  # noqa: E402

PROJECT = Path(__file__).resolve().parents[1]


def test_counter_shows_the_receipt_pictures(browser, tmp_path: Path) -> None:
    from kiosk.config import load_config
    from kiosk.hall.server import start_hall_in_thread

    hall = start_hall_in_thread(open_parts(tmp_path / "hall.sqlite3", load_config(PROJECT / "config.toml")),
                                {TOKEN: "KIOSK-T"})
    try:
        payload = {**claim_with_pictures(2).payload(), "form_version": 1}
        body = {"service": "sporadic_reimburse", "priority": False, "submission_id": str(uuid.uuid4()), "application": payload}
        r = httpx.post(hall.url + "/api/tickets", json=body, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert r.status_code == 200, r.text
        browser.get(f"{hall.url}/counter/1")
        browser.find_element(By.ID, "user").send_keys(CLERK)
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "login").click()
        wait_for(lambda: browser.current_url == f"{hall.url}/counter/1", what="the counter page")
        browser.find_element(By.ID, "call").click()
        wait_for(lambda: len(browser.find_elements(By.CSS_SELECTOR, "#receipt-images img")) == 2, what="the pictures")
        images = browser.find_elements(By.CSS_SELECTOR, "#receipt-images img")
        wait_for(lambda: all(browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)
                             for i in images), what="the pictures decoded")
        assert "1066.78" in browser.find_element(By.ID, "receipts").text
        browser.execute_script("document.getElementById('receipts').scrollIntoView()")
        SCREENS.mkdir(parents=True, exist_ok=True)
        browser.save_screenshot(str(SCREENS / "hall-counter-receipts.png"))
    finally:
        hall.stop()
