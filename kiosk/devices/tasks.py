"""Lanes of background work (outbox disk writes, printing, hub calls) off the GUI thread.

Each lane is one worker thread, so work on one resource stays ordered (a print never overtakes
the submission it belongs to). Results come back to the GUI thread through a queued signal: this
is the kiosk's one way to run background work.

`user_error` is the one error → message mapping for what a lane's work raised: a
`UserFacingError` is shown as it is; anything else is logged with its traceback and a short
reference number, and the screen shows a generic zh/en message with that reference — never a
Python exception's text.
"""
from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

from PySide6.QtCore import QObject, Qt, Signal

from kiosk.errors import UserFacingError

log = logging.getLogger(__name__)

INTERNAL = "E-INTERNAL"


# What a resident reads for an unexpected failure; a staff screen (the clerk's) passes its own.
RESIDENT_GENERIC = ("系统繁忙，请稍后再试或到窗口办理", "The system is busy; please try again or go to a counter")


class InternalError(UserFacingError):
    """An unexpected failure as a person sees it: a generic message and the reference under
    which the log holds the details."""

    def __init__(self, reference: str, generic: tuple[str, str] = RESIDENT_GENERIC) -> None:
        super().__init__(INTERNAL, f"{generic[0]}（参考号 {reference}）", f"{generic[1]} (reference {reference})")
        self.reference = reference


def user_error(error: BaseException, generic: tuple[str, str] = RESIDENT_GENERIC) -> UserFacingError:
    """What a person may be shown for `error`: itself when it is safe to show, else the `generic`
    (zh, en) message with a reference number that is logged together with the traceback."""
    if isinstance(error, UserFacingError):
        return error
    reference = secrets.token_hex(3).upper()
    log.error("unexpected %s, shown as reference %s", type(error).__name__, reference,
              exc_info=(type(error), error, error.__traceback__))
    return InternalError(reference, generic)


class _Delivery(QObject):
    deliver = Signal(object, object, object)  # callback, result, error


class TaskLanes(QObject):
    def __init__(self, lanes: tuple[str, ...] = ("outbox", "printer", "hub", "ocr")) -> None:
        super().__init__()
        self._executors = {name: ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"lane-{name}") for name in lanes}
        self._delivery = _Delivery()
        self._delivery.setParent(self)  # deleted with the lanes, on the thread that deletes them
        self._delivery.deliver.connect(self._on_deliver, Qt.ConnectionType.QueuedConnection)
        self._pending = 0
        self._closed = False

    def run(
        self,
        lane: str,
        work: Callable[[], Any],
        on_done: Callable[[Any], None] | None = None,
        on_error: Callable[[BaseException], None] | None = None,
    ) -> Future[Any] | None:
        if self._closed:  # the kiosk is shutting down: late follow-up work is dropped, not queued
            log.debug("lane %s closed; work dropped", lane)
            return None
        self._pending += 1

        def finished(future: Future[Any]) -> None:
            if future.cancelled():  # dropped by shutdown(), on the thread shutting the lanes down
                self._pending -= 1
                return
            error = future.exception()
            result = None if error else future.result()
            if error is not None and not isinstance(error, Exception):
                error = RuntimeError(repr(error))
            if error is not None:
                log.warning("task on lane %s failed: %s", lane, error, exc_info=error)
            callback = on_error if error is not None else on_done
            self._delivery.deliver.emit(callback, result if error is None else error, None)

        future = self._executors[lane].submit(work)
        future.add_done_callback(finished)
        return future

    def _on_deliver(self, callback: Any, value: Any, _unused: Any) -> None:
        self._pending -= 1
        if self._closed:  # the screens these results were for are being torn down
            return
        if callback is not None:
            try:
                callback(value)
            except Exception:
                log.exception("result handler failed")

    @property
    def busy(self) -> bool:
        return self._pending > 0

    def shutdown(self) -> None:
        """Queued prints and hub calls are dropped; queued outbox writes still finish, since a
        resident may be waiting for the 提交成功 they lead to."""
        self._closed = True
        for name, executor in self._executors.items():
            executor.shutdown(wait=True, cancel_futures=name != "outbox")
