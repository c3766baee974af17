"""Sliding-window counters for the hub: failed logins per client address, record lookups per kiosk.

In memory, per hub process: a restart forgets them, which is acceptable for a brake on guessing
(the window is a minute). Bounded: idle keys are pruned when the table grows.
"""
from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_s: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 max_keys: int = 10_000) -> None:
        self.limit, self.window_s, self._clock, self._max_keys = limit, window_s, clock, max_keys
        self._events: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _fresh(self, key: str, now: float) -> deque[float]:
        events = self._events.setdefault(key, deque())
        while events and events[0] <= now - self.window_s:
            events.popleft()
        return events

    def retry_after(self, key: str) -> int:
        """0 when `key` may go on; else whole seconds until its oldest event leaves the window."""
        with self._lock:
            now = self._clock()
            events = self._fresh(key, now)
            if len(events) < self.limit:
                return 0
            return max(1, math.ceil(events[0] + self.window_s - now))

    def record(self, key: str) -> int:
        """Count one event; returns how many `key` has in the window now."""
        with self._lock:
            now = self._clock()
            if len(self._events) >= self._max_keys:
                self._prune(now)
            events = self._fresh(key, now)
            events.append(now)
            return len(events)

    def _prune(self, now: float) -> None:
        for key in [k for k, v in self._events.items() if not v or v[-1] <= now - self.window_s]:
            del self._events[key]
        while len(self._events) >= self._max_keys:  # all busy: forget the oldest key rather than grow
            del self._events[next(iter(self._events))]
