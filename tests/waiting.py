"""Waiting on a condition with a deadline — the tests' one polling loop (never a fixed sleep).

Qt tests use `qtbot.waitUntil`; threads signal a `threading.Event`/`Condition` where they can;
everything else (a subprocess's file, a thread's side effect, a web page) polls here."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(condition: Callable[[], T], timeout: float = 10.0, interval: float = 0.02, what: str = "condition",
               retry_on: tuple[type[BaseException], ...] = ()) -> T:
    """Poll `condition` until it returns something truthy, and return that. Raises AssertionError
    naming `what` after `timeout` seconds. Exceptions in `retry_on` count as "not yet"."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = condition()
        except retry_on:
            value = None  # type: ignore[assignment]  # "not yet", like a falsy value
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


class Counter:
    """Wraps a callable and counts its calls; `wait(n)` blocks until it has been called n times.
    For "the driver retried a few times" without guessing how long a few retries take."""

    def __init__(self, wrapped: Callable[..., object]) -> None:
        import threading

        self.wrapped = wrapped
        self.calls = 0
        self._cond = threading.Condition()

    def __call__(self, *args: object, **kwargs: object) -> object:
        with self._cond:
            self.calls += 1
            self._cond.notify_all()
        return self.wrapped(*args, **kwargs)

    def wait(self, count: int, timeout: float = 10.0) -> None:
        with self._cond:
            assert self._cond.wait_for(lambda: self.calls >= count, timeout), f"{self.calls} calls, wanted {count}"


def settled(qtbot: object, findings: Callable[[], list[T]], timeout_ms: int = 3000) -> list[T]:
    """Wait until `findings()` (e.g. an accessibility audit) comes back empty — a resize or a
    restyle settles over a few event-loop turns — then return its last answer, so
    `assert settled(qtbot, lambda: audit(window, metrics)) == []` still shows what is left."""
    from pytestqt.exceptions import TimeoutError as QtTimeout

    try:
        qtbot.waitUntil(lambda: not findings(), timeout=timeout_ms)  # type: ignore[attr-defined]  # pytest-qt's QtBot
    except QtTimeout:
        pass  # the caller's assert reports the findings
    return findings()
