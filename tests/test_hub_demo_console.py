"""Issue 18: `kiosk demo` makes the console reachable — a bureau account with a fresh password
(printed once on stderr by the demo), the demo kiosk mapped to a service point."""
from __future__ import annotations

from pathlib import Path

import httpx

from kiosk.hub.console.demo import DEMO_CONSOLE_USER, DEMO_STATION, prepare_demo_console
from kiosk.hub.server import start_hub_in_thread


def test_demo_console_account_logs_in_and_a_new_run_replaces_the_password(tmp_path: Path) -> None:
    with start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {"t": "KIOSK-DEMO"}, platform=None) as hub:
        user, first = prepare_demo_console(hub.store, ["KIOSK-DEMO"])
        assert user == DEMO_CONSOLE_USER and len(first) >= 12
        r = httpx.post(hub.url + "/console/login", json={"user": user, "password": first})
        assert r.status_code == 200 and r.json()["role"] == "bureau"
        fleet = httpx.get(hub.url + "/api/fleet", cookies=r.cookies).json()["kiosks"]
        assert [(k["kiosk_id"], k["station"]) for k in fleet] == [("KIOSK-DEMO", DEMO_STATION)]
        _, second = prepare_demo_console(hub.store, ["KIOSK-DEMO"])
        assert second != first
        assert httpx.post(hub.url + "/console/login", json={"user": user, "password": first}).status_code == 401
        assert httpx.get(hub.url + "/api/fleet", cookies=r.cookies).status_code == 401  # the old run's session ended
