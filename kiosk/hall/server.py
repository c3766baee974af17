"""Running the hall: `open_hall` builds it from a database path and the config, `serve` runs it
in the foreground (`kiosk hall serve`), `start_hall_in_thread` for tests and `kiosk demo`.

Files (all beside the database unless given): the hall database (queue + hall tables, 0600),
`keys/hall.key` (0600; seals applications and the hall's outbox), `<db>-outbox.sqlite3` (what
the hall owes the hub). A housekeeping thread purges applications past their retention and
expired sessions; a SyncWorker (the kiosk's own) drains the outbox to the hub when configured.
"""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from collections.abc import Callable

import uvicorn

from kiosk.config import Config
from kiosk.hall.app import create_app
from kiosk.hall.auth import SessionRules
from kiosk.hall.report import HallReporter
from kiosk.hall.service import HallService, HallSettings
from kiosk.hall.store import HallStore, restrict
from kiosk.hub.server import _bind
from kiosk.services.forms import load_forms
from kiosk.services.outbox import OutboxStore
from kiosk.services.queue import QueueService

log = logging.getLogger(__name__)


@dataclass
class HallParts:
    service: HallService
    outbox: OutboxStore
    sync: Any = None  # SyncWorker when a hub is configured
    housekeeping: Housekeeping | None = None

    def close(self) -> None:
        if self.housekeeping:
            self.housekeeping.stop()
        if self.sync is not None:
            self.sync.stop()
            self.sync.syncer.client.close()
        self.service.queue.close()
        self.service.store.close()
        self.outbox.close()

    def health(self) -> dict[str, Any]:
        status = self.outbox.status()
        return {"outbox": {"pending": status.pending, "sending": status.sending, "quarantined": status.quarantined},
                "hub_online": getattr(self.sync, "online", None)}


class Housekeeping(threading.Thread):
    def __init__(self, service: HallService, every_s: float = 600.0, session_max_s: float = 36000.0) -> None:
        super().__init__(name="hall-housekeeping", daemon=True)
        self.service, self.every_s, self.session_max_s = service, every_s, session_max_s
        self._stop_requested = threading.Event()

    def run(self) -> None:
        while not self._stop_requested.is_set():
            try:
                purged = self.service.purge()
                self.service.store.purge_sessions(self.session_max_s)
                if self.service.reporter is not None:  # what the hub confirmed long ago
                    self.service.reporter.outbox.purge_acked(self.service.settings.retention_s / 86400.0)
                if purged:
                    log.info("hall: purged %d application(s) past their retention", purged)
            except Exception as exc:
                log.error("hall housekeeping failed: %s", type(exc).__name__)
            self._stop_requested.wait(self.every_s)

    def stop(self) -> None:
        self._stop_requested.set()
        if self.is_alive():
            self.join(5)


def default_paths(db_path: Path, key_file: str | Path | None) -> tuple[Path, Path]:
    key = Path(key_file) if key_file else db_path.parent / "keys" / "hall.key"
    return key, db_path.with_name(db_path.stem + "-outbox.sqlite3")


def open_hall(db_path: str | Path, config: Config, key_file: str | Path | None = None, hall_id: str | None = None,
              hub_url: str | None = None, hub_token: str | None = None, retention_days: float | None = None,
              sync: bool = True, housekeeping: bool = True, clock: Callable[[], float] = time.time) -> HallParts:
    """Open (creating on first use) the hall database, key and outbox. HallStoreError/OutboxError on trouble."""
    db_path = Path(db_path)
    key_path, outbox_path = default_paths(db_path, key_file)
    store = HallStore(db_path, key_path, clock=clock)  # first: creates the 0600 file and the key
    queue = QueueService(db_path, config.queue, config.kiosk.elderly_age)
    store.share_lock(queue.lock)
    outbox = OutboxStore(outbox_path, None, key_path=key_path, create_key=False)
    restrict(db_path)
    restrict(outbox_path)
    hall_id = hall_id or config.kiosk.id
    days = retention_days if retention_days is not None else config.privacy.retention_days
    settings = HallSettings(service_point=config.signage.name or config.kiosk.service_point, retention_s=float(days) * 86400.0,
                            policy_qr_url=config.signage.policy_qr_url, phone=config.signage.phone)
    forms = load_forms(config.resolve(config.kiosk.forms_dir))
    service = HallService(queue, store, forms, HallReporter(outbox, hall_id), settings, clock=clock)
    parts = HallParts(service, outbox)
    if sync and (hub_url or config.hub.url):
        from kiosk.services.sync import HubClient, Syncer, SyncWorker

        client = HubClient(hub_url or config.hub.url, hub_token or config.hub.token, config.hub.timeout_s,
                           ca_file=config.hub.ca_file or None)
        parts.sync = SyncWorker(Syncer(outbox, client, config.outbox.batch_size), config.outbox.backoff_base_s,
                                config.outbox.backoff_cap_s, idle_s=5.0)
        parts.sync.start()
        if service.reporter is not None:
            service.reporter.wake = parts.sync.wake  # a new report goes out now, not at the next idle tick
    if housekeeping:
        parts.housekeeping = Housekeeping(service)
        parts.housekeeping.start()
    return parts


class _HallServer(uvicorn.Server):
    """Ends the live streams first on SIGINT/SIGTERM or stop(): an open SSE stream would
    otherwise hold the shutdown until uvicorn cancels it mid-write."""

    def __init__(self, config: uvicorn.Config, service: HallService) -> None:
        super().__init__(config)
        self.service = service

    def handle_exit(self, sig: int, frame: Any) -> None:
        self.service.live.close()
        super().handle_exit(sig, frame)


def _server(app: Any, service: HallService, log_level: str, tls_cert: str | None = None,
            tls_key: str | None = None) -> _HallServer:
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False, timeout_keep_alive=5,
                            ssl_certfile=tls_cert, ssl_keyfile=tls_key, timeout_graceful_shutdown=3)
    return _HallServer(config, service)


@dataclass
class HallHandle:
    url: str
    parts: HallParts
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def service(self) -> HallService:
        return self.parts.service

    def stop(self, timeout: float = 10.0) -> None:
        self.parts.service.live.close()
        self._server.should_exit = True
        self._thread.join(timeout)
        self.parts.close()

    def __enter__(self) -> HallHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_hall_in_thread(parts: HallParts, tokens: dict[str, str], host: str = "127.0.0.1", port: int = 0,
                         rules: SessionRules = SessionRules(), log_level: str = "warning", **app_options: Any) -> HallHandle:
    """Serve on a background thread; returns once it accepts connections. port=0 picks a free port."""
    sock = _bind(host, port)
    actual = sock.getsockname()[1]
    app = create_app(parts.service, tokens, rules, extra_health=parts.health, **app_options)
    server = _server(app, parts.service, log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"hall:{actual}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("hall did not start")
        time.sleep(0.01)
    url_host = f"[{host}]" if ":" in host else host
    return HallHandle(f"http://{url_host}:{actual}", parts, server, thread)


def serve(parts: HallParts, tokens: dict[str, str], host: str = "127.0.0.1", port: int = 8780,
          tls_cert: str | None = None, tls_key: str | None = None,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Foreground until SIGINT/SIGTERM (uvicorn handles the signals)."""
    try:
        sock = _bind(host, port)
        url_host = f"[{host}]" if ":" in host else host
        if on_ready:
            on_ready(f"{'https' if tls_cert else 'http'}://{url_host}:{sock.getsockname()[1]}")
        rules = SessionRules(secure_cookie=bool(tls_cert))
        server = _server(create_app(parts.service, tokens, rules, extra_health=parts.health), parts.service, "info",
                         tls_cert, tls_key)
        server.run(sockets=[sock])
    finally:
        parts.close()
