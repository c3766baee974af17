"""`build_clerk_station(config)`: the station on the configured devices (simulated camera here)."""
from __future__ import annotations

from kiosk.stations.clerk import CLAIMED_DB, build_clerk_station


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


def test_card_read_at_the_clerk_desk_sets_the_resident(config, qtbot) -> None:
    import dataclasses

    from drivers.idcard.simulator import load_profile
    from kiosk.stations.clerk import attach_card_readers

    devices = dataclasses.replace(config.devices, sscard=dataclasses.replace(config.devices.sscard, enabled=False))
    config = dataclasses.replace(config, devices=devices)
    station = build_clerk_station(config)
    try:
        qtbot.addWidget(station.window)
        attach_card_readers(station, config)
        sims = station.closables[0].sims
        sims.idcard.insert(load_profile(config.resolve("assets/cards/idcard/young_parent.json")))
        qtbot.waitUntil(lambda: station.screen.batch.resident is not None, timeout=10_000)
        assert station.screen.batch.resident.id_number == "320682199506120038"
    finally:
        station.close()
