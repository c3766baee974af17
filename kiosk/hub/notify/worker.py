"""The notice queue and its sender thread.

A state change to 办结 (done) or 退回补正 (returned) adds a `notify_queue` row in the change's own
transaction (ConsoleStore.set_state): no notice is lost to a crash between the two, and a row
names only (kiosk, submission, state, change) — the phone and the name stay in the sealed
submission and are read only when the notice is sent.

`NotifyWorker` claims due rows one at a time (a claim is an UPDATE that only one process wins,
so several hub workers share the queue), opens the submission, sends through the configured
`SmsSender` with the masked name and the service's title, and marks the row sent (the gateway's
message id kept), pending again with a back-off (a retryable error), failed (a final one) or
skipped (no mobile number on the application). A notice whose claim lapsed (a worker died
mid-send) is sent again: at least once, like the gateway itself promises.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Callable

from kiosk.hub.notify.sender import PHONE, SmsError, SmsMessage, SmsSender
from kiosk.hub.notify.simulator import sms_message_preview
from kiosk.hub.store import HubStore
from kiosk.privacy import mask_name

log = logging.getLogger(__name__)
CLAIM_S = 60.0


@dataclass(frozen=True)
class NotifyOptions:
    sender: SmsSender
    templates: dict[str, str] = field(default_factory=lambda: {"done": "SMS_KIOSK_DONE", "returned": "SMS_KIOSK_RETURNED"})
    poll_s: float = 5.0
    max_attempts: int = 8
    backoff_s: float = 30.0


def enqueue(hub: HubStore, cur: Any, kiosk_id: str, submission_id: str, state: str, change_seq: int, now: float) -> None:
    """In the caller's transaction (the state change)."""
    cur.execute(hub.sql("INSERT INTO notify_queue (kiosk_id, id, state, change_seq, status, created_at, next_at, attempts) "
                        "VALUES (?,?,?,?,'pending',?,?,0) ON CONFLICT (kiosk_id, id, change_seq) DO NOTHING"),
                (kiosk_id, submission_id, state, change_seq, now, now))


def phone_and_name(payload: dict[str, Any]) -> tuple[str | None, str]:
    raw_answers, raw_applicant = payload.get("answers"), payload.get("applicant")
    answers: dict[str, Any] = raw_answers if isinstance(raw_answers, dict) else {}
    applicant: dict[str, Any] = raw_applicant if isinstance(raw_applicant, dict) else {}
    phone = next((str(p).strip() for p in (answers.get("phone"), applicant.get("phone")) if isinstance(p, str) and p.strip()), None)
    name = applicant.get("name") if isinstance(applicant.get("name"), str) else ""
    return (phone if phone and PHONE.match(phone) else None), (mask_name(name) if name else "居民")


class NotifyWorker:
    def __init__(self, hub: HubStore, options: NotifyOptions, service_names: dict[str, str],
                 clock: Callable[[], float] = time.time) -> None:
        self.hub = hub
        self.options = options
        self.service_names = service_names
        self.clock = clock
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- the thread --------------------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="hub-notify", daemon=True)
            self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self.options.sender.close()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                while self.process_one() and not self._stop.is_set():
                    pass
            except Exception as exc:  # the database or the gateway: try again at the next tick
                log.error("notify: %s", type(exc).__name__)
            self._wake.wait(self.options.poll_s)
            self._wake.clear()

    # -- one notice --------------------------------------------------------------------------------
    def _claim(self) -> tuple[int, str, str, str, int] | None:
        now = self.clock()
        with self.hub.transaction() as cur:
            cur.execute(self.hub.sql("SELECT seq FROM notify_queue WHERE status = 'pending' AND next_at <= ? "
                                     "AND (claimed_until IS NULL OR claimed_until < ?) ORDER BY seq LIMIT 5"), (now, now))
            candidates = [r[0] for r in cur.fetchall()]
        for seq in candidates:
            with self.hub.transaction() as cur:
                cur.execute(self.hub.sql("UPDATE notify_queue SET claimed_until = ?, attempts = attempts + 1 WHERE seq = ? "
                                         "AND status = 'pending' AND (claimed_until IS NULL OR claimed_until < ?)"),
                            (now + CLAIM_S, seq, now))
                if cur.rowcount != 1:
                    continue  # another worker won it
                cur.execute(self.hub.sql("SELECT seq, kiosk_id, id, state, attempts FROM notify_queue WHERE seq = ?"), (seq,))
                row = cur.fetchone()
            return row[0], row[1], row[2], row[3], int(row[4])
        return None

    def _finish(self, seq: int, status: str, provider_id: str | None = None, error: str | None = None,
                retry_at: float | None = None) -> None:
        with self.hub.transaction() as cur:
            cur.execute(self.hub.sql("UPDATE notify_queue SET status = ?, provider_id = ?, last_error = ?, claimed_until = NULL, "
                                     "sent_at = ?, next_at = COALESCE(?, next_at) WHERE seq = ?"),
                        (status, provider_id, error, self.clock() if status == "sent" else None, retry_at, seq))

    def process_one(self) -> bool:
        """Send the next due notice; False when none is due."""
        claimed = self._claim()
        if claimed is None:
            return False
        seq, kiosk_id, submission_id, state, attempts = claimed
        meta = self.hub.get(submission_id, kiosk_id)
        payload = self.hub.payload(submission_id, kiosk_id) or {}
        phone, name = phone_and_name(payload)
        template = self.options.templates.get(state)
        if phone is None or template is None or meta is None:
            self._finish(seq, "skipped", error="no_mobile" if phone is None else "no_template")
            return True
        service = self.service_names.get(meta["service"], meta["service"])[:35]
        params = {"name": name[:35], "service": service}
        message = SmsMessage(phone, template, params, f"kiosk-{seq}", sms_message_preview(template, params))
        try:
            provider_id = self.options.sender.send(message)
        except SmsError as exc:
            if exc.retryable and attempts < self.options.max_attempts:
                delay = min(3600.0, self.options.backoff_s * 2 ** (attempts - 1))
                self._finish(seq, "pending", error=exc.code, retry_at=self.clock() + delay)
            else:
                self._finish(seq, "failed", error=exc.code)
            log.warning("notify %d: %s (attempt %d)", seq, exc.code, attempts)  # no phone, no name
            return True
        self._finish(seq, "sent", provider_id=provider_id)
        return True

    def status(self, kiosk_id: str, submission_id: str) -> list[dict[str, Any]]:
        """The notices of one application (the console's detail page)."""
        with self.hub.transaction() as cur:
            cur.execute(self.hub.sql("SELECT state, status, attempts, sent_at, last_error FROM notify_queue "
                                     "WHERE kiosk_id = ? AND id = ? ORDER BY seq"), (kiosk_id, submission_id))
            rows = cur.fetchall()
        return [{"state": r[0], "status": r[1], "attempts": int(r[2]),
                 "sent_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(r[3])) if r[3] else None, "error": r[4]}
                for r in rows]
