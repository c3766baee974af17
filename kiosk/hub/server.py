"""Running the hub: `serve` (foreground, `kiosk hub serve`) and `start_hub_in_thread` (tests, `kiosk demo`).

Binds 127.0.0.1 unless told otherwise: exposing the hub is a deliberate deployment decision.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import uvicorn

from kiosk.hub.app import create_app
from kiosk.hub.store import HubStore, open_hub_store

log = logging.getLogger(__name__)


def read_tokens_file(path: str | Path) -> dict[str, str]:
    """Lines `KIOSK_ID TOKEN`; blank lines and `#` comments ignored. Returns token → kiosk id."""
    tokens: dict[str, str] = {}
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected 'KIOSK_ID TOKEN'")
        tokens[parts[1]] = parts[0]
    return tokens


@dataclass
class HubHandle:
    url: str
    store: HubStore
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)
    _close_store: bool = field(default=True, repr=False)

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        if self._close_store:
            self.store.close()

    def __enter__(self) -> "HubHandle":
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _server(app: object, log_level: str) -> uvicorn.Server:
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False, timeout_keep_alive=5)
    return uvicorn.Server(config)


def start_hub_in_thread(db_url: str | HubStore, tokens: dict[str, str], host: str = "127.0.0.1", port: int = 0,
                        max_body_bytes: int = 1_000_000, log_level: str = "warning") -> HubHandle:
    """Start on a background thread and return once it accepts connections. port=0 picks a free port."""
    store = db_url if isinstance(db_url, HubStore) else open_hub_store(str(db_url))
    sock = _bind(host, port)
    actual_port = sock.getsockname()[1]
    server = _server(create_app(store, tokens, max_body_bytes), log_level)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"hub:{actual_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("hub did not start")
        time.sleep(0.01)
    url_host = f"[{host}]" if ":" in host else host
    return HubHandle(f"http://{url_host}:{actual_port}", store, server, thread, _close_store=not isinstance(db_url, HubStore))


def serve(db_url: str, host: str = "127.0.0.1", port: int = 8765, tokens: dict[str, str] | None = None,
          on_ready: Callable[[str], None] | None = None) -> None:
    """Foreground until SIGINT/SIGTERM (uvicorn handles the signals)."""
    store = open_hub_store(db_url)
    try:
        sock = _bind(host, port)
        if on_ready:
            on_ready(f"http://{host}:{sock.getsockname()[1]}")
        _server(create_app(store, tokens or {}), "info").run(sockets=[sock])
    finally:
        store.close()
