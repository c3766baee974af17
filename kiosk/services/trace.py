"""Live device trace for the technician screen: the drivers' DEBUG wire logs (serial commands,
APDU headers and status words, printer status) in a ring buffer, masked like every log.

The drivers already log only codes and lengths; masking is the second line of defence, and the
strict kind (`kiosk.privacy.scrub_strict`): besides ID- and phone-shaped numbers it hides full
dates (a birth date beside a masked ID number rebuilds it) and Chinese names. Tracing is
switched on only while a technician watches, so normal logs stay quiet.
"""
from __future__ import annotations

import logging
import threading
from collections import deque

from kiosk.privacy import MaskingLogFilter, scrub_strict

TRACED_LOGGERS = ("drivers.idcard", "drivers.sscard", "drivers.printer", "drivers.qrscan")


class DeviceTrace(logging.Handler):
    def __init__(self, capacity: int = 200) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: deque[str] = deque(maxlen=capacity)
        self.setFormatter(logging.Formatter("%(asctime)s.%(msecs)03d %(name)s %(message)s", "%H:%M:%S"))
        self.addFilter(MaskingLogFilter())
        self._saved_levels: dict[str, int] = {}
        self._guard = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self.lines.append(scrub_strict(self.format(record)))
        except Exception:  # a trace line must never break a device thread
            self.handleError(record)

    def start(self) -> None:
        with self._guard:
            if self._saved_levels:
                return
            for name in TRACED_LOGGERS:
                logger = logging.getLogger(name)
                self._saved_levels[name] = logger.level
                logger.setLevel(logging.DEBUG)
                logger.addHandler(self)

    def stop(self) -> None:
        with self._guard:
            for name, level in self._saved_levels.items():
                logger = logging.getLogger(name)
                logger.removeHandler(self)
                logger.setLevel(level)
            self._saved_levels.clear()

    def recent(self, n: int = 12) -> list[str]:
        return list(self.lines)[-n:]
