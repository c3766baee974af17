"""`kiosk demo`'s console account: the bureau console must be reachable in the demo without a
published password. A fresh password each run (argon2 like any account), the demo kiosk and
hall mapped to one service point so the station filter and the station view have data."""
from __future__ import annotations

import secrets

from kiosk.hub.console.store import ConsoleStore
from kiosk.hub.store import HubStore

DEMO_CONSOLE_USER = "demo-bureau"
DEMO_STATION = "demo-point"


def prepare_demo_console(store: HubStore, kiosk_ids: list[str]) -> tuple[str, str]:
    """(user, password) of a bureau account valid for this demo run; previous runs' sessions end."""
    from kiosk.hall.auth import hash_password

    password = secrets.token_urlsafe(12)
    console = ConsoleStore(store)
    console.put_staff(DEMO_CONSOLE_USER, "bureau", None, hash_password(password))
    for kiosk_id in kiosk_ids:
        if console.station_of(kiosk_id) is None:
            console.set_station(kiosk_id, DEMO_STATION)
    return DEMO_CONSOLE_USER, password
