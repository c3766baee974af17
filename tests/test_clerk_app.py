"""`build_clerk_station(config)`: the station on the configured devices (simulated camera here)."""
from __future__ import annotations

from kiosk.ui.clerk_app import CLAIMED_DB, build_clerk_station


def test_station_opens_the_configured_camera_and_stores(config, qtbot) -> None:
    station = build_clerk_station(config)
    try:
        qtbot.addWidget(station.window)
        station.window.resize(1920, 1080)
        station.window.show()
        qtbot.waitUntil(lambda: station.screen.capture.isEnabled(), timeout=10_000)  # sim:// → assets/receipts
        assert station.screen.kiosk_id == config.kiosk.id
        assert (config.data_dir / "outbox.sqlite3").exists() and (config.data_dir / CLAIMED_DB).exists()
        assert config.outbox_key_path.exists()
        assert station.screen.preview.pixmap() is not None and not station.screen.preview.pixmap().isNull()
    finally:
        station.close()
