"""The clerk station: the 零星报销 scan station as its own window, on the configured devices.

`build_clerk_station(config)` wires the camera (config.devices.camera), the warm OCR reader
(config.ocr.engine, in its own process), the outbox and the claimed-receipts register into a `ClerkStationScreen`;
`run_clerk_station(config)` shows it and runs the Qt event loop (`kiosk run --station clerk`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import Qt

from kiosk.config import Config
from kiosk.devices.events import PersonRead, ReadFailed
from kiosk.devices.receipt_capture import ReceiptCapture
from kiosk.devices.tasks import TaskLanes
from kiosk.stations.qt import qt_application, quit_on_signals
from kiosk.ui.clerk_app import ClerkWindow
from kiosk.ui.i18n import set_language
from kiosk.ui.panel import show_on_panel
from kiosk.ui.screens.clerk_station import ClerkStationScreen
from kiosk.ui.theme import Metrics

log = logging.getLogger(__name__)

CLAIMED_DB = "claimed_receipts.sqlite3"
SIM_PREVIEW_MS = 2000  # the folder simulator shows a new receipt per frame: slow enough to pick one
LIVE_PREVIEW_MS = 300


@dataclass
class ClerkStation:
    """Everything the running station owns, so `close()` releases it in order."""

    window: ClerkWindow
    screen: ClerkStationScreen
    lanes: TaskLanes
    closables: list[Any] = field(default_factory=list)
    channel: Any = None  # the card readers' DeviceChannel, kept alive as long as the station

    def close(self) -> None:
        self.screen.shutdown()
        self.lanes.shutdown()
        self.screen.capture_service.release_after_shutdown()
        for thing in self.closables:
            try:
                thing.close()
            except Exception:
                log.exception("closing %s failed", type(thing).__name__)
        for owned in (self.channel, self.lanes):  # on this (GUI) thread, not by a later GC on another one
            if owned is not None:
                owned.deleteLater()
        self.window.close()


def build_clerk_station(config: Config) -> ClerkStation:
    from drivers.camera import open_camera
    from kiosk.ocr.checks import SqliteClaimedReceipts
    from kiosk.ocr.worker import OcrProcess
    from kiosk.services.submissions import open_outbox

    qt_application()
    set_language(config.kiosk.language)
    camera_cfg = config.devices.camera
    outbox = open_outbox(config)
    claimed = SqliteClaimedReceipts(config.data_dir / CLAIMED_DB)
    lanes = TaskLanes()
    simulated = camera_cfg.source.startswith("sim://")

    def camera_factory() -> Any:
        if not camera_cfg.enabled:
            from drivers.camera import CameraDisabled
            raise CameraDisabled()
        return open_camera(camera_cfg.source, config.resolve(camera_cfg.sim_folder))

    # The engine runs in its own process (kiosk/ocr/worker.py), started now so it is warm by the
    # first capture: in a thread its native set-up and parts of each reading held the GIL and the
    # GUI thread waited (issue 20).
    reader = OcrProcess(config.ocr.engine, claimed_path=config.data_dir / CLAIMED_DB)
    reader.start()
    capture = ReceiptCapture(lanes, camera_factory, lambda: reader)
    screen = ClerkStationScreen(
        Metrics(config.display.dpi), lanes, capture, outbox, config.kiosk.id, claimed,
        preview_ms=SIM_PREVIEW_MS if simulated else LIVE_PREVIEW_MS,
    )
    window = ClerkWindow(screen, config.display.font_family, config.display.theme)
    return ClerkStation(window, screen, lanes, [claimed, outbox, reader])


def attach_card_readers(station: ClerkStation, config: Config) -> None:
    """The resident identifies at the clerk's desk with the same readers as at the kiosk."""
    from kiosk.devices.simulators import start_simulators
    from kiosk.devices.sources import identity_sources
    from kiosk.devices.threads import DeviceChannel, DeviceThread

    sims = start_simulators(config, kinds=("idcard",))
    channel = DeviceChannel()

    def on_event(device: str, event: object) -> None:
        if isinstance(event, PersonRead):
            station.screen.set_resident(event.person)
        elif isinstance(event, ReadFailed):  # the clerk sees the card did not read and asks again
            log.info("card read failed at the clerk desk: %s", event.error.code)

    channel.event.connect(on_event, Qt.ConnectionType.QueuedConnection)
    threads = [DeviceThread(name, source, channel) for name, source in identity_sources(config, sims).items()]
    for thread in threads:
        thread.start()
    station.channel = channel
    station.closables[:0] = [_Stopper(threads, sims)]


@dataclass
class _Stopper:
    threads: list[Any]
    sims: Any

    def close(self) -> None:
        for thread in self.threads:
            thread.stop()
        self.sims.stop()


def run_clerk_station(config: Config) -> int:
    """Show the station and run until the window closes; returns the exit code."""
    app = qt_application()
    station = build_clerk_station(config)
    attach_card_readers(station, config)
    show_on_panel(station.window, config.kiosk.fullscreen)
    signals = quit_on_signals(app)  # a stopped service still releases the camera and readers
    try:
        return app.exec()
    finally:
        signals.stop()
        station.close()
