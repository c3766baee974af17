"""The two staff-side stations on the shared queue database: a counter (clerk's window) and the
lobby display. `run_counter_station` / `run_lobby_display` are what `kiosk run --station
counter|lobby` calls; `CounterStation` / `LobbyStation` build the same windows without the
event loop (tests, screenshots).

Composition only: the queue database is opened here (like `kiosk/app.py` does for the
resident kiosk) and handed to the screens, which use it through a task lane.
"""
from __future__ import annotations

import logging

from PySide6.QtWidgets import QApplication, QFrame, QHBoxLayout, QMainWindow, QVBoxLayout, QWidget

from kiosk.config import Config
from kiosk.devices.tasks import TaskLanes
from kiosk.services.queue import QueueService
from kiosk.services.voice import EspeakSpeaker, Speaker, VoicePlayer
from kiosk.ui.i18n import register_strings, set_language, tr
from kiosk.ui.screens.base import Screen, label
from kiosk.ui.screens.counter import CounterScreen
from kiosk.ui.screens.lobby import LobbyScreen
from kiosk.ui.panel import apply_kiosk_style, show_on_panel
from kiosk.ui.theme import Metrics, palette_for

log = logging.getLogger(__name__)
LANE = "queue"

register_strings({
    "station.counter_title": ("医保服务窗口", "Service counter"),
    "station.lobby_title": ("医保服务大厅", "Medical insurance service hall"),
})


def ensure_application() -> QApplication:
    app = QApplication.instance()
    return app if app is not None else QApplication([])  # type: ignore[return-value]


class StationWindow(QMainWindow):
    """Header (title, service point) over one screen, styled like the resident kiosk."""

    def __init__(self, screen: Screen, title_key: str, font_family: str, theme: str, service_point: str = "") -> None:
        super().__init__()
        self.screen, self.title_key = screen, title_key
        self.font_family, self.theme_name = font_family, theme
        self.metrics = screen.metrics
        self.setWindowTitle("医保自助 Kiosk")
        central = QWidget()
        column = QVBoxLayout(central)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(0)
        self.setCentralWidget(central)
        header = QFrame()
        header.setObjectName("Header")
        self._header_row = QHBoxLayout(header)
        self.app_title = label(role="title", wrap=False)
        self.service_point = label(service_point, wrap=False)
        self.service_point.setProperty("data", True)
        self._header_row.addWidget(self.app_title)
        self._header_row.addStretch(1)
        self._header_row.addWidget(self.service_point)
        column.addWidget(header)
        column.addWidget(screen, 1)
        self.apply_style()
        self.retranslate()

    def apply_style(self) -> None:
        m = self.metrics
        self._header_row.setContentsMargins(m.mm(6), m.mm(2), m.mm(6), m.mm(2))
        apply_kiosk_style(self, m, self.theme_name, self.font_family)

    def set_elderly(self, elderly: bool) -> None:
        self.metrics = Metrics(dpi=self.metrics.dpi, elderly=elderly)
        self.apply_style()
        self.screen.apply_metrics(self.metrics)
        self.retranslate()

    def set_language(self, language: str) -> None:
        set_language(language)
        self.retranslate()

    def retranslate(self) -> None:
        self.app_title.setText(tr(self.title_key))
        self.screen.retranslate()


class _Station:
    def __init__(self, config: Config, queue: QueueService | None, lanes: TaskLanes | None,
                 voice: VoicePlayer | None) -> None:
        self.app = ensure_application()
        self.config = config
        set_language(config.kiosk.language)
        self.queue = queue or QueueService(config.data_dir / "queue.sqlite3", config.queue, config.kiosk.elderly_age)
        self.lanes = lanes or TaskLanes((LANE,))
        self.voice = voice
        self.window: StationWindow

    def show(self) -> None:
        show_on_panel(self.window, self.config.kiosk.fullscreen)

    def close(self) -> None:
        """Timer first (no new lane work), then the lane drains, then voice and database."""
        self.window.screen.stop()  # type: ignore[attr-defined]
        self.lanes.shutdown()
        if self.voice is not None:
            self.voice.stop()
        self.queue.close()
        self.window.close()
        self.window.deleteLater()


def default_voice(speaker: Speaker | None = None) -> VoicePlayer:
    """espeak-ng, or a disabled player with one log line when it is not installed."""
    return VoicePlayer(speaker or EspeakSpeaker())


def queue_services(config: Config) -> list[tuple[str, str, str]]:
    """Services that issue counter tickets, for the counter's filter: (code, zh, en)."""
    from kiosk.services.forms import load_forms

    catalog = load_forms(config.resolve(config.kiosk.forms_dir))
    forms = sorted((f for f in catalog.forms if not f.instant), key=lambda f: (f.order, f.code))
    return [(f.code, f.title.zh_CN, f.title.en) for f in forms]


class CounterStation(_Station):
    def __init__(self, config: Config, counter: int, queue: QueueService | None = None,
                 lanes: TaskLanes | None = None, voice: VoicePlayer | None = None,
                 services: list[tuple[str, str, str]] | None = None, elderly: bool = False,
                 refresh_ms: int = 5000) -> None:
        super().__init__(config, queue, lanes, voice if voice is not None else default_voice())
        metrics = Metrics(dpi=config.display.dpi, elderly=elderly)
        self.screen = CounterScreen(metrics, self.queue, self.lanes, self.voice, counter,
                                    queue_services(config) if services is None else services, LANE, refresh_ms)
        self.window = StationWindow(self.screen, "station.counter_title", config.display.font_family,
                                    config.display.theme, config.kiosk.service_point)


class LobbyStation(_Station):
    def __init__(self, config: Config, queue: QueueService | None = None, lanes: TaskLanes | None = None,
                 voice: VoicePlayer | None = None, elderly: bool = True, refresh_ms: int = 3000) -> None:
        """`voice`: give one to have the lobby speak the new calls it sees (speaker at the lobby)."""
        super().__init__(config, queue, lanes, voice)
        metrics = Metrics(dpi=config.display.dpi, elderly=elderly)
        self.screen = LobbyScreen(metrics, self.queue, self.lanes, LANE, refresh_ms, self.voice,
                                  palette_for(config.display.theme))
        self.window = StationWindow(self.screen, "station.lobby_title", config.display.font_family,
                                    config.display.theme, config.kiosk.service_point)


def run_counter_station(config: Config, counter: int) -> int:
    station = CounterStation(config, counter)
    station.show()
    try:
        return station.app.exec()
    finally:
        station.close()


def run_lobby_display(config: Config, announce: bool = False) -> int:
    """`announce=True` when the hall's speaker is on the lobby PC rather than at the counters."""
    station = LobbyStation(config, voice=default_voice() if announce else None)
    station.show()
    try:
        return station.app.exec()
    finally:
        station.close()
