"""The console in a real browser (Debian's chromium + chromium-driver through Selenium; nothing
downloaded): a bureau user logs in; the fleet page shows a kiosk gone silent as offline and the
real kiosk runtime's simulated printer out of paper one heartbeat after it ran out; the figures
page draws its ECharts charts with the seeded numbers; an application is returned for
correction from its page; a station user sees only its own point.

Screenshots at 1920×1080 go to docs/screens only when asked (KIOSK_SCREENSHOTS_DIR=docs/screens):
a test run must not rewrite tracked files."""
from __future__ import annotations

import os
import random
import shutil
import tempfile
from pathlib import Path

import pytest

from test_hub_console import HASH, INSTANT, PASSWORD, STATION_OF, TOKENS, Clock, expected_figures, seed
from waiting import wait_until

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.options import Options  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

CHROMIUM, DRIVER = shutil.which("chromium"), shutil.which("chromedriver")
pytestmark = pytest.mark.skipif(not (CHROMIUM and DRIVER), reason="needs Debian's chromium and chromium-driver (scripts/setup.sh)")
SCREENS = Path(os.environ.get("KIOSK_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "kiosk-console-screens")
PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def browser(tmp_path: Path):
    options = Options()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--window-size=1920,1080", "--hide-scrollbars",
                 "--lang=zh-CN", f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(30)
    driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {"width": 1920, "height": 1080, "deviceScaleFactor": 1,
                                                                  "mobile": False})
    yield driver
    driver.quit()


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """A hub with the console on a controllable clock, and the real kiosk runtime (simulated
    printer) heartbeating to it as kiosk EAST-K."""
    from kiosk.app import KioskRuntime
    from kiosk.config import load_config
    from kiosk.hub.console.routes import ConsoleOptions
    from kiosk.hub.console.store import ConsoleStore
    from kiosk.hub.server import start_hub_in_thread

    clock = Clock()
    token = "tok-east-kiosk"
    hub = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {**TOKENS, token: "EAST-K"},
                              console=ConsoleOptions(offline_after_s=300.0, instant_services=INSTANT, clock=clock))
    console = ConsoleStore(hub.store, clock)
    for kiosk_id, station in {**STATION_OF, "EAST-K": "east"}.items():
        console.set_station(kiosk_id, station)
    console.put_staff("bureau", "bureau", None, HASH)
    console.put_staff("west", "station", "west", HASH)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "kiosk-data"))
    monkeypatch.setenv("KIOSK_HUB_URL", hub.url)
    monkeypatch.setenv("KIOSK_HUB_TOKEN", token)
    config = load_config(PROJECT / "config.toml")
    import dataclasses

    config = dataclasses.replace(config, kiosk=dataclasses.replace(config.kiosk, id="EAST-K"))
    runtime = KioskRuntime(config)
    runtime.start()
    yield hub, clock, runtime
    runtime.stop()
    hub.stop()


def wait_for(condition, timeout: float = 10.0, what: str = "condition"):
    # WebDriverException: the page is being replaced (stale element): look again
    return wait_until(condition, timeout, 0.05, what, retry_on=(WebDriverException,))


def shot(driver, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    assert driver.execute_script("return [window.innerWidth, window.innerHeight]") == [1920, 1080]
    driver.save_screenshot(str(SCREENS / f"console-{name}.png"))


def login(driver, base: str, user: str) -> None:
    driver.delete_all_cookies()
    driver.get(base + "/console/fleet")
    wait_for(lambda: "/console/login" in driver.current_url, what="the login page")
    driver.find_element(By.ID, "user").send_keys(user)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "login").click()
    wait_for(lambda: driver.current_url.endswith("/console/fleet"), what="the fleet page after login")
    # the URL changes before the new document is there: wait for the fleet table itself
    wait_for(lambda: driver.find_elements(By.ID, "fleet"), what="the fleet table")


def device_state(driver, kiosk_id: str, device: str) -> str:
    cells = driver.find_elements(By.CSS_SELECTOR, f"#kiosk-{kiosk_id} .dev[data-device={device}]")
    return cells[0].get_attribute("data-state") if cells else ""


def test_bureau_and_station_users_in_a_real_browser(browser, setup):
    hub, clock, runtime = setup
    sent = seed(hub, random.Random(7))
    kiosk_printer = runtime.sims.printer
    assert runtime.backend.printer_state() == "ok"
    assert runtime.sync_worker.send_heartbeat(force=True)
    from test_hub_console import kiosk_client

    with kiosk_client(hub, "WEST-1") as k:
        k.post("/v1/heartbeat", json={"version": "0.1.0", "backlog": 3, "oldest_pending_age_s": 840,
                                     "devices": {"idcard": "ok", "printer": "ok", "sscard": "error"}})

    browser.get(hub.url + "/console/login")
    shot(browser, "login")
    login(browser, hub.url, "bureau")
    assert device_state(browser, "EAST-K", "printer") == "ok"
    assert "offline" not in browser.find_element(By.ID, "kiosk-WEST-1").get_attribute("class")

    # WEST-1 falls silent; the kiosk's printer runs out of paper and its next heartbeat says so
    clock.now += 400
    kiosk_printer.paper = "out"
    assert runtime.backend.printer_state() == "error"
    assert runtime.sync_worker.send_heartbeat(force=True)
    browser.refresh()
    west = browser.find_element(By.ID, "kiosk-WEST-1")
    assert "offline" in west.get_attribute("class") and "离线" in west.find_element(By.CSS_SELECTOR, ".online-state").text
    assert device_state(browser, "EAST-K", "printer") == "paper_out"
    east = browser.find_element(By.ID, "kiosk-EAST-K")
    assert "缺纸" in east.text and "在线" in east.text and "fault" in east.get_attribute("class")
    assert "bad" in browser.find_element(By.ID, "offline-count").get_attribute("class")
    shot(browser, "fleet")

    browser.get(hub.url + "/console/figures?from=2026-11-01&to=2026-11-04")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, "#chart-services[data-rendered] svg path"), what="the chart")
    want = expected_figures(sent, "2026-11-01", "2026-11-04", {"east", "west"})
    assert browser.find_element(By.ID, "kpi-applications").text == str(sum(want["applications"].values()))
    assert browser.find_element(By.ID, "kpi-consultations").text == str(want["consultations"])
    rows = {r.find_elements(By.TAG_NAME, "td")[0].text: r.find_elements(By.TAG_NAME, "td")[1].text
            for r in browser.find_elements(By.CSS_SELECTOR, "#table-ratings tbody tr")}
    assert rows["非常满意"] == str(want["ratings"]["5"]) and rows["非常不满意"] == str(want["ratings"]["1"])
    shot(browser, "figures")

    browser.get(hub.url + "/console/applications?station=east")
    shot(browser, "applications")
    first = browser.find_element(By.CSS_SELECTOR, "#applications tbody a")
    first.click()
    wait_for(lambda: browser.find_elements(By.ID, "applicant"), what="the application page")
    assert "张三丰" in browser.find_element(By.ID, "applicant").text  # decrypted for the bureau, and audited
    browser.find_element(By.CSS_SELECTOR, "input[name=state][value=returned]").click()
    browser.find_element(By.ID, "note").send_keys("缺少户口簿首页复印件")
    browser.find_element(By.ID, "save-state").click()
    wait_for(lambda: browser.find_element(By.ID, "current-state").text == "退回补正", what="the new state")
    assert "缺少户口簿首页复印件" in browser.find_element(By.ID, "history").text
    shot(browser, "application")
    detail_url = browser.current_url
    from kiosk.hub.console.store import ConsoleStore

    views = [a for a in ConsoleStore(hub.store).audit_rows() if a["action"] == "view_application"]
    assert views and {a["name"] for a in views} == {"bureau"}

    # a station user: only its own point, in every page
    login(browser, hub.url, "west")
    fleet_ids = [e.get_attribute("id") for e in browser.find_elements(By.CSS_SELECTOR, "#fleet tbody tr")]
    assert fleet_ids == ["kiosk-WEST-1"]
    browser.get(detail_url)
    assert "没有这条申请" in browser.find_element(By.ID, "page-error").text
    assert not browser.find_elements(By.ID, "applicant")
    browser.get(hub.url + "/console/figures?station=east")
    assert "只能查看本服务点" in browser.find_element(By.ID, "page-error").text
