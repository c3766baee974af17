"""Real browser (Debian's chromium + chromium-driver through Selenium; nothing downloaded): a
resident submits at the kiosk (the pytest-qt journey, the kiosk's [hall] pointing at the hall) →
clerk login → 叫号 → the application typed at the kiosk is on the counter page → 办结 → the lobby
page updates without reload within 1 s → the rating pad asks → the rating reaches the hub.

Screenshots at 1920×1080 go to docs/screens only when asked (KIOSK_SCREENSHOTS_DIR=docs/screens):
a test run must not rewrite tracked files."""
from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from test_hall_support import (CLERK, CLERK2, KIOSK, PASSWORD2, TOKEN, TOKENS, PASSWORD, clerk_client, issue,
                               open_parts, wait_for)

PROJECT = Path(__file__).resolve().parent.parent

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (scripts/setup.sh)")
SCREENS = Path(os.environ.get("KIOSK_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "kiosk-hall-screens")


@pytest.fixture
def browser(tmp_path: Path):
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1920,1080", "--hide-scrollbars", "--mute-audio",
                 "--autoplay-policy=no-user-gesture-required",  # the lobby TV's flag (docs/architecture.md)
                 "--lang=zh-CN", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def hub_and_hall(tmp_path: Path, config):
    from kiosk.hall.server import start_hall_in_thread
    from kiosk.hub.server import start_hub_in_thread

    hub = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {TOKEN: KIOSK}, key_file=tmp_path / "hub.key")
    parts = open_parts(tmp_path / "hall" / "hall.sqlite3", config, sync=True, hub_url=hub.url, hub_token=TOKEN, hall_id=KIOSK)
    hall = start_hall_in_thread(parts, TOKENS)
    yield hub, hall
    hall.stop()
    hub.stop()


def full_hd(driver) -> None:
    """Every window's page exactly 1920×1080 (a new window would get the default size)."""
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1920, "height": 1080, "deviceScaleFactor": 1,
                                                                  "mobile": False})


def shot(driver, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    size = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    assert size == [1920, 1080], size
    driver.save_screenshot(str(SCREENS / f"hall-{name}.png"))


def texts(driver, css: str) -> list[str]:
    """Read in one script: the live lobby may redraw between finding elements and reading them."""
    return driver.execute_script("return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText.trim())", css)


def kiosk_submits(kiosk_shell, hall_url: str) -> tuple[dict, object]:
    """A resident at the kiosk: card, 门诊慢特病认定, the pages, 提交 — the number comes from the hall."""
    from drivers.idcard.simulator import load_profile
    from kiosk.ui.journey import Journey, play_chronic_disease

    shell, _own_hub = kiosk_shell(hall={"url": hall_url, "token": TOKEN})
    place = lambda: shell.runtime.sims.idcard.insert(load_profile(PROJECT / "assets/cards/idcard/young_parent.json"))  # noqa: E731
    play_chronic_disease(Journey(shell.window, log=lambda _: None), place,
                         {"disease": "diabetes", "hospitals": ["h_township", "h_county_tcm"], "phone": "13912345678"},
                         lambda: bool(shell.controller.done_view.number) and not shell.controller.done_view.printing)
    view = shell.controller.done_view
    ticket = shell.controller.last_ticket.ticket.json
    assert (ticket["number"], ticket["submission_id"]) == (view.number, view.reference)
    return ticket, shell.controller.session.person


def test_counter_lobby_and_rating_pad_in_a_real_browser(browser, hub_and_hall, kiosk_shell) -> None:
    hub, hall = hub_and_hall
    url = hall.url
    ticket, person = kiosk_submits(kiosk_shell, url)  # application + ticket, sent by the kiosk's submit
    for _ in range(3):
        issue(url, service="enrol", with_application=False)
    issue(url, service="sporadic_reimburse", with_application=False, priority=True)
    other = clerk_client(url, CLERK2, PASSWORD2)
    assert other.post("/api/counters/2/call").json()["ticket"]["number"] == "B001"  # green channel first

    lobby, = browser.window_handles
    full_hd(browser)
    browser.get(f"{url}/lobby")
    wait_for(lambda: browser.execute_script("return document.body.getAttribute('data-version')") is not None)
    browser.execute_script("window.__notReloaded = 17")
    assert texts(browser, "#calling .num") == ["B001"]

    browser.switch_to.new_window("window")
    full_hd(browser)
    rate = browser.current_window_handle
    browser.get(f"{url}/rate/1")
    assert browser.find_element(By.ID, "idle").is_displayed()

    browser.switch_to.new_window("window")
    full_hd(browser)
    counter = browser.current_window_handle
    browser.get(f"{url}/counter/1")
    assert browser.current_url.startswith(f"{url}/login")
    browser.find_element(By.ID, "user").send_keys(CLERK)
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    browser.find_element(By.ID, "login").click()
    wait_for(lambda: browser.current_url == f"{url}/counter/1")

    browser.find_element(By.ID, "call").click()
    wait_for(lambda: texts(browser, "#number") == [ticket["number"]])  # the page reloads: no stale element
    applicant = browser.find_element(By.ID, "applicant").text
    assert person.name in applicant and person.id_number in applicant  # full data for the logged-in clerk
    answers = browser.find_element(By.ID, "answers").text
    assert "糖尿病" in answers and "本镇卫生院、县中医院" in answers
    assert "二级以上医院诊断证明" in browser.find_element(By.ID, "materials").text  # the guide's list, as on the ticket
    assert hall.service.store.audit_rows()[0].name == CLERK
    shot(browser, "counter")

    browser.switch_to.window(lobby)
    wait_for(lambda: ticket["number"] in texts(browser, "#calling .num"), timeout=1.0)

    browser.switch_to.window(counter)
    started = time.monotonic()
    browser.find_element(By.ID, "finish").click()
    browser.switch_to.window(lobby)
    wait_for(lambda: ticket["number"] not in texts(browser, "#calling .num")
             and ticket["number"] in texts(browser, "#recent .num"), timeout=1.0, step=0.01)
    lobby_s = time.monotonic() - started
    assert browser.execute_script("return window.__notReloaded") == 17  # live, not reloaded
    assert hall.service.queue.get(ticket["id"]).outcome == "done"
    third = other.post("/api/counters/3/call").json()["ticket"]["number"]  # a busy hall for the picture
    wait_for(lambda: third in texts(browser, "#calling .num"), timeout=1.0)
    shot(browser, "lobby")

    browser.switch_to.window(rate)
    wait_for(lambda: browser.find_element(By.ID, "pad").is_displayed(), timeout=2.0)
    assert ticket["number"] in browser.find_element(By.ID, "rate-ticket").text
    shot(browser, "rate")
    browser.find_element(By.CSS_SELECTOR, ".score.s2").click()
    wait_for(lambda: browser.find_element(By.ID, "tags").is_displayed())
    browser.find_element(By.CSS_SELECTOR, "input[name=tag][value=服务态度]").click()
    shot(browser, "rate-reasons")
    browser.find_element(By.ID, "send").click()
    wait_for(lambda: browser.find_element(By.ID, "thanks").is_displayed())

    [rating] = [e for e in hall.parts.outbox.list(reveal=True) if e.kind == "rating"]
    assert (rating.payload["score"], rating.payload["tags"], rating.payload["reference"]) == (2, ["服务态度"], ticket["submission_id"])
    received = wait_for(lambda: hub.store.get(rating.id, KIOSK), timeout=15)
    assert received["kind"] == "rating" and received["service"] == "chronic_disease"
    print(f"lobby updated {lobby_s * 1000:.0f} ms after 办结")
