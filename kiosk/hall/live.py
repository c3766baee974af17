"""Change notification for live pages (lobby, rating pad): a version number that every change
bumps, and asyncio waiters woken from whichever thread made the change."""
from __future__ import annotations

import asyncio
import threading


class LiveFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.version = 0
        self.closed = False  # the server is stopping: live streams end instead of being cancelled
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def notify(self) -> None:
        with self._lock:
            self.version += 1
            waiters = list(self._waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # that loop has closed (server shutting down)
                pass

    def close(self) -> None:
        self.closed = True
        self.notify()

    async def wait(self, seen: int, timeout_s: float) -> int:
        """The version once it differs from `seen`, or the same one after `timeout_s`."""
        entry = (asyncio.get_running_loop(), asyncio.Event())
        with self._lock:
            if self.version != seen:
                return self.version
            self._waiters.add(entry)
        try:
            await asyncio.wait_for(entry[1].wait(), timeout_s)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                self._waiters.discard(entry)
        return self.version
