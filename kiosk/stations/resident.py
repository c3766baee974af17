"""The resident kiosk station: builds the running GUI around a `KioskRuntime` — window,
controller, device threads (their events translated by `kiosk.devices`), the keyboard-wedge
scanner, idle watcher, voice. `kiosk run` and `kiosk demo` start it."""
from __future__ import annotations

import gc
import importlib
import logging
import os
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from kiosk.app import KioskRuntime
from kiosk.config import Config
from kiosk.devices.tasks import TaskLanes
from kiosk.devices.threads import DeviceChannel, DeviceThread
from kiosk.devices.wedge import KeyboardWedgeFilter
from kiosk.services.voice import EspeakSpeaker, NullSpeaker, VoicePlayer
from kiosk.ui.controller import KioskController
from kiosk.ui.i18n import set_language
from kiosk.ui.lockdown import NoContextMenus
from kiosk.ui.main_window import MainWindow
from kiosk.ui.panel import paint_ahead, screen_dpi, show_on_panel
from kiosk.ui.widgets.idle import IdleWatcher
from kiosk.stations.qt import qt_application, quit_on_signals, resolve_qt_types

log = logging.getLogger(__name__)

SYNC_START_FALLBACK_MS = 3000  # sync starts by then even if home is never painted
# Sync starts this long after home's first paint: after the first frame and the keyboard's
# warm-up steps, with the window idle, so its thread's Python (httpx's import) does not take the
# GIL turn by turn from a GUI thread that is painting (issue 20).
SYNC_START_AFTER_PAINT_MS = 500
WARM_UP_AFTER_PAINT_MS = 50


def make_voice(config: Config) -> VoicePlayer:
    """Offline Mandarin prompts through espeak-ng. Offscreen (tests, the scripted demo) nobody
    listens, so a recording speaker stands in: the prompts are still produced and checkable."""
    speaker: NullSpeaker | EspeakSpeaker
    if not config.voice.enabled or os.environ.get("QT_QPA_PLATFORM") == "offscreen":
        speaker = NullSpeaker()
    else:
        speaker = EspeakSpeaker(speed=config.voice.speed, volume=config.voice.volume)
    voice = VoicePlayer(speaker, language=config.kiosk.language)
    voice.mute(config.voice.muted)
    return voice


def _warm_up_keyboard(steps: list[Callable[[], object]] | None = None) -> None:
    """Once home is up: Qt Quick's modules, the keyboard's module, then its QML (compiled on Qt's
    loader thread), one step per event-loop turn — all at once took one turn 40–70 ms (issue 20)."""
    if steps is None:
        steps = [lambda: importlib.import_module("PySide6.QtQml"),
                 lambda: importlib.import_module("PySide6.QtQuick"),
                 lambda: importlib.import_module("PySide6.QtQuickWidgets"),
                 lambda: importlib.import_module("kiosk.ui.widgets.touch_keyboard"),
                 lambda: importlib.import_module("kiosk.ui.widgets.touch_keyboard").warm_up()]
    steps.pop(0)()
    if steps:
        QTimer.singleShot(0, lambda: _warm_up_keyboard(steps))


class AfterFirstPaint(QObject):
    """Calls `then` `delay_ms` after `widget`'s first paint, never in the same pass of the event
    loop (start-up work that must not delay the home screen)."""

    def __init__(self, widget: QWidget, then: Callable[[], None], delay_ms: int = 0) -> None:
        super().__init__(widget)
        self._then, self._delay_ms = then, delay_ms
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt API)
        if event.type() == QEvent.Type.Paint:
            watched.removeEventFilter(self)
            QTimer.singleShot(self._delay_ms, self._then)
        return False


class KioskShell:
    def __init__(self, config: Config, runtime: KioskRuntime | None = None) -> None:
        self.app = qt_application(touch_keyboard=True)
        self.config = config
        self.runtime = runtime or KioskRuntime(config)
        self.channel = DeviceChannel()
        self.lanes = TaskLanes()
        backend = self.runtime.start(on_sync_status=lambda status: self.channel.event.emit("sync", status))
        set_language(config.kiosk.language)
        display = config.display
        self.panel_size = (display.width, display.height)
        self.window = MainWindow(
            self.runtime.forms.forms, screen_dpi(self.panel_size, display.panel_diagonal_in, display.dpi),
            display.font_family, display.theme,
            config.kiosk.service_point, (config.privacy.mask_head, config.privacy.mask_tail),
        )
        self.window.set_default_mode(display.default_mode == "elderly")
        self.voice = make_voice(config)
        self.idle = IdleWatcher(config.kiosk.idle_timeout_s, config.kiosk.idle_warning_s)
        self.app.installEventFilter(self.idle)
        self.controller = KioskController(self.window, backend, self.lanes, self.channel,
                                          config.kiosk.elderly_age, self.idle, self.voice)
        self._sync_started = False
        self.wedge = KeyboardWedgeFilter(channel=self.channel)  # a HID scanner's code: a VoucherScanned event
        self.app.installEventFilter(self.wedge)
        resolve_qt_types(self.app)
        if config.technician.pin_hash:
            self.controller.diagnostics_factory = self.runtime.diagnostics
        board = self.runtime.device_board
        self.threads = [DeviceThread(name, source, self.channel, board.set if board is not None else None)
                        for name, source in self.runtime.device_sources.items()]
        for thread in self.threads:
            thread.start()
        paint_ahead(self.window, config.kiosk.fullscreen, self.panel_size)
        # The start-up heap (Qt wrappers, forms, modules: ~50k objects, no cyclic garbage) out of the
        # collector's sight: a full collection over it held the GIL 20–25 ms, ~100 ms in a process
        # with the hub's modules too, at whatever moment it fell due — once inside the first
        # second at home (issue 20). `close` gives it back.
        gc.freeze()
        # Sync's first round imports httpx and builds its TLS context (~0.2 s of Python on a thread
        # of its own): begun while the window is being built and painted, it took the GIL from the
        # GUI thread for most of that time (home 110–200 ms late on two cores, issue 20). It starts
        # once home is painted and the window has settled; a window never painted (no display
        # attached) starts it anyway.
        self._sync_after_paint = AfterFirstPaint(self.window.home, self._start_sync, SYNC_START_AFTER_PAINT_MS)
        QTimer.singleShot(SYNC_START_FALLBACK_MS, self._start_sync)

    def _start_sync(self) -> None:
        if not self.runtime.sync_worker.is_alive() and not self._sync_started:
            self._sync_started = True
            self.runtime.start_sync()

    def exec(self) -> int:
        """Show the window and run until it closes or the process is told to stop."""
        self._signal_timer = quit_on_signals(self.app)
        self.show()
        from kiosk.devices.watchdog import start_watchdog  # systemd: READY=1 once shown, WATCHDOG=1 from this loop
        self._watchdog = start_watchdog(self.app)
        self._lockdown = NoContextMenus(self.app)  # no menus (right click, long press): no way out
        self.app.installEventFilter(self._lockdown)
        self.warm_up_after_paint()
        return self.app.exec()

    def warm_up_after_paint(self) -> None:
        """Once home is painted: the pinyin keyboard's module and QML (so its first show only
        makes its keys). `exec` does this; so does a benchmark that shows the window itself."""
        self._warm = AfterFirstPaint(self.window.home, _warm_up_keyboard, WARM_UP_AFTER_PAINT_MS)

    def show(self) -> None:
        show_on_panel(self.window, self.config.kiosk.fullscreen, self.panel_size)

    def close(self) -> None:
        gc.unfreeze()  # what this shell held becomes collectable once it is gone
        self._sync_started = True  # a fallback start still due must not start a stopped runtime's sync
        if self.controller.technician_screen is not None:
            self.controller.technician_screen.reset()  # detaches the live device trace
        self.app.removeEventFilter(self.idle)
        self.app.removeEventFilter(self.wedge)
        for thread in self.threads:
            thread.stop()
        self.lanes.shutdown()
        self.voice.stop()
        self.runtime.stop()
        try:  # events already queued by device threads must not reach a deleted window
            self.channel.event.disconnect()
        except (RuntimeError, TypeError):
            pass
        self.controller.deleteLater()
        self.window.close()
        self.window.deleteLater()
        # The shell's parentless QObjects too (the idle watcher's timer runs): a cyclic garbage
        # collection may run on any thread — a device or lane thread — and a QObject destroyed
        # there leaves its timer registered with the GUI thread, which then fires into freed memory.
        for owned in (self.idle, self.wedge, self.channel, self.lanes):
            owned.deleteLater()
        # Delete now, while Python and Qt are both alive; leaving it to interpreter shutdown
        # lets the garbage collector meet half-destroyed Qt objects.
        QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
