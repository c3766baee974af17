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
from typing import Any
from collections.abc import Callable

import uvicorn
from starlette.applications import Starlette

from kiosk.hub.app import create_app
from kiosk.hub.store import HubStore

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
    platform_sim: Any = None  # the PlatformSimHandle this hub started for itself (tests, demo), if any
    platform: Any = None  # the PlatformService answering record and voucher queries
    app: Any = None

    def stop(self, timeout: float = 10.0) -> None:
        self._server.should_exit = True
        self._thread.join(timeout)
        notifier = getattr(getattr(self.app, "state", None), "notifier", None)
        if notifier is not None:  # the SMS notice sender (kiosk/hub/notify)
            notifier.stop(timeout)
        if self._close_store:
            self.store.close()
        if self.platform_sim is not None:  # ours alone: the service talking to it goes with it
            self.platform_sim.stop()
            if self.platform is not None:
                self.platform.close()

    def __enter__(self) -> HubHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _bind(host: str, port: int, reuse_port: bool = False, listen: bool = True) -> socket.socket:
    """The listening socket handed to uvicorn (hub and hall). Its accepted connections must have
    TCP_NODELAY: uvicorn writes a response's headers and body in two sends, and with Nagle on the
    body waits for the client's delayed ACK — ~40 ms per kept-alive request (issue 20). asyncio
    sets TCP_NODELAY only on sockets whose `proto` is IPPROTO_TCP, and an accepted socket copies
    the listener's `proto`: `socket.socket(family, SOCK_STREAM)` says 0, so say IPPROTO_TCP. The
    option on the listener itself is inherited by accepted sockets on Linux (a second guard).
    `reuse_port`: one of several sockets on the same port (SO_REUSEPORT; `serve_workers`);
    `listen=False` only reserves the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind((host, port))
    if listen:
        sock.listen(128)
    sock.set_inheritable(True)
    return sock


def _reuse_port_available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def ready_to_serve(app: Any) -> None:
    """What a hub process does between building its app and serving: open the store's pool
    connections now (a burst of requests then finds them made, instead of waiting for new
    PostgreSQL backends — 10-100 ms each under load), then `settle_heap`."""
    warm_up = getattr(getattr(getattr(app, "state", None), "store", None), "warm_up", None)
    if warm_up is not None:
        try:
            warm_up()
        except Exception as exc:  # the database is down: requests will say so (503), serving goes on
            log.warning("hub: could not open the pool's connections up front: %s", type(exc).__name__)
    settle_heap()


def settle_heap() -> None:
    """Before a hub process starts serving: collect once, then move everything alive (modules,
    the app, its routes and pydantic schemas, the store) out of the collector's sight. A full
    collection walks every tracked object (~64,000 once the app is built: 30 ms on an idle
    core), and under the fleet bench's load a worker stalled 70-280 ms for each one, every few
    seconds — the requests it held waited as long (issue 20: the p99 tail). After `gc.freeze()`
    a collection walks only what requests made since."""
    import gc

    gc.collect()
    gc.freeze()


LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")


def exposure_problem(host: str, tls: bool, insecure: bool) -> str | None:
    """A bearer token must never cross a network in clear: off loopback, TLS (or an explicit
    --insecure, e.g. behind a TLS-terminating proxy on the same host) is required."""
    if host in LOOPBACK_HOSTS or host.startswith("127.") or tls or insecure:
        return None
    return (f"refusing to listen on {host} without TLS: pass --tls-cert and --tls-key, or --insecure "
            "when a reverse proxy on this machine terminates TLS (tokens must never cross a network in clear)")


def check_tls_files(cert: str, key: str) -> str | None:
    """Load the pair once up front, so a bad path or a mismatched key is one clear line."""
    import ssl

    for label, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not Path(path).is_file():
            return f"{label} {path}: no such file"
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, OSError) as exc:
        return f"cannot use TLS certificate {cert} with key {key}: {getattr(exc, 'reason', None) or exc}"
    return None


def _server(app: Starlette, log_level: str, tls_cert: str | None = None, tls_key: str | None = None) -> uvicorn.Server:
    config = uvicorn.Config(app, log_level=log_level, lifespan="off", access_log=False, timeout_keep_alive=5,
                            ssl_certfile=tls_cert, ssl_keyfile=tls_key)
    if tls_cert:  # `POST /v1/enrol` tells the kiosk what it should have seen (pinned on first use)
        from kiosk.hub.enrolment import certificate_fingerprint

        app.state.tls_fingerprint = certificate_fingerprint(tls_cert)
    return uvicorn.Server(config)


def start_hub_in_thread(db_url: str | HubStore, tokens: dict[str, str], host: str = "127.0.0.1", port: int = 0,
                        max_body_bytes: int = 1_000_000, log_level: str = "warning", key_file: str | Path | None = None,
                        tls_cert: str | None = None, tls_key: str | None = None, platform: Any = "sim",
                        **app_options: Any) -> HubHandle:
    """Start on a background thread and return once it accepts connections. port=0 picks a free port.
    `key_file`: the hub key ring (default: `keys/hub.key` beside a SQLite database).
    `platform`: a `PlatformService`, None (no platform: 503), or "sim" — tests and the demo — which
    starts a platform simulator on 127.0.0.1 for this hub alone and talks to it over HTTP."""
    from kiosk.hub.pool import open_store  # PostgreSQL on a connection pool

    store = db_url if isinstance(db_url, HubStore) else open_store(str(db_url), key_file)
    platform_sim = None
    if platform == "sim":
        from kiosk.hub.upstream.setup import platform_for_simulator

        platform, platform_sim = platform_for_simulator(store_dir(db_url, key_file))
    sock = _bind(host, port)
    actual_port = sock.getsockname()[1]
    app = create_app(store, tokens, max_body_bytes, platform=platform, **app_options)
    server = _server(app, log_level, tls_cert, tls_key)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"hub:{actual_port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("hub did not start")
        time.sleep(0.01)
    url_host = f"[{host}]" if ":" in host else host
    scheme = "https" if tls_cert else "http"
    return HubHandle(f"{scheme}://{url_host}:{actual_port}", store, server, thread,
                     _close_store=not isinstance(db_url, HubStore), platform_sim=platform_sim, platform=platform, app=app)


def store_dir(db_url: str | HubStore, key_file: str | Path | None = None) -> Path:
    """A folder beside the hub's data for its own small state files (the platform msgid sequence)."""
    if key_file:
        return Path(key_file).resolve().parent
    text = getattr(db_url, "path", None) or str(db_url)
    text = str(text).removeprefix("sqlite:///")
    if "://" in text or not text or text == ":memory:":
        import tempfile

        return Path(tempfile.mkdtemp(prefix="kiosk-hub-"))
    return Path(text).resolve().parent


def serve(db_url: str, host: str = "127.0.0.1", port: int = 8765, tokens: dict[str, str] | None = None,
          on_ready: Callable[[str], None] | None = None, key_file: str | Path | None = None,
          tls_cert: str | None = None, tls_key: str | None = None, store: HubStore | None = None,
          platform: Any = None, console: Any = None) -> None:
    """Foreground until SIGINT/SIGTERM (uvicorn handles the signals). `platform`: see start_hub_in_thread;
    `console`: ConsoleOptions (e.g. the SMS notice sender from [hub.sms])."""
    from kiosk.hub.pool import open_store

    store = store or open_store(db_url, key_file)
    try:
        sock = _bind(host, port)
        if on_ready:
            url_host = f"[{host}]" if ":" in host else host
            on_ready(f"{'https' if tls_cert else 'http'}://{url_host}:{sock.getsockname()[1]}")
        app = create_app(store, tokens or {}, platform=platform, console=console)
        server = _server(app, "info", tls_cert, tls_key)
        ready_to_serve(app)
        server.run(sockets=[sock])
    finally:
        notifier = getattr(app.state, "notifier", None) if "app" in locals() else None
        if notifier is not None:
            notifier.stop()
        store.close()


# -- several worker processes (`kiosk hub serve --workers N`, PostgreSQL only) ----------------------
def serve_workers(workers: int, build: Callable[[], tuple[Any, Callable[[], None]]], host: str = "127.0.0.1",
                  port: int = 8765, tls_cert: str | None = None, tls_key: str | None = None,
                  on_ready: Callable[[str], None] | None = None, log_level: str = "info",
                  respawn_limit: int = 5) -> int:
    """Reserve the port once, fork `workers` processes that each build their own app and store
    (`build()` → (app, close); a database connection is never shared across a fork) and then
    listen on the port themselves (SO_REUSEPORT): the kernel hands each new connection to one
    worker's listener by a hash of its addresses, so connections are spread evenly. (One shared
    listener, as before issue 20, let whichever worker woke first accept every pending
    connection at once: a burst of kiosks connecting landed 2:1 on one worker and stayed there
    for as long as they kept their connections alive — its queue was the fleet bench's tail.)
    Without SO_REUSEPORT the workers share the parent's listener as before. The parent only
    supervises: SIGTERM/SIGINT go on to the workers (uvicorn drains and exits), a worker that
    dies unasked is started again (at most `respawn_limit` times in a row within a minute).
    Every write of the hub is idempotent per (kiosk, id), so a retry landing on another worker
    is answered like a retry on the same one. Returns the exit status."""
    import os
    import signal

    import select

    reuse_port = _reuse_port_available()
    sock = _bind(host, port, reuse_port=reuse_port, listen=not reuse_port)  # held by the parent: the port stays ours
    actual_port = sock.getsockname()[1]
    url_host = f"[{host}]" if ":" in host else host
    url = f"{'https' if tls_cert else 'http'}://{url_host}:{actual_port}"
    # "ready" means connections are accepted: with a listener per worker, once the workers listen
    listening_r, listening_w = os.pipe() if reuse_port else (-1, -1)
    announced = not reuse_port
    if announced and on_ready:
        on_ready(url)
    listening = 0
    stopping = False
    children: dict[int, int] = {}  # pid → worker number

    def start(number: int) -> None:
        pid = os.fork()
        if pid == 0:  # the worker
            status = 0
            try:
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                app, close = build()
                try:
                    server = _server(app, log_level, tls_cert, tls_key)
                    ready_to_serve(app)
                    if reuse_port:  # this worker's own listener, once it is ready to answer
                        sock.close()
                        os.close(listening_r)
                        listener = _bind(host, actual_port, reuse_port=True)
                        os.write(listening_w, b"l")
                        os.close(listening_w)
                    else:
                        listener = sock
                    server.run(sockets=[listener])
                finally:
                    close()
            except BaseException as exc:  # one line, never a traceback of a worker
                print(f"kiosk hub: worker {number} stopped: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}",
                      file=__import__("sys").stderr, flush=True)
                status = 1
            os._exit(status)
        children[pid] = number

    def stop(signum: int, _frame: Any) -> None:
        nonlocal stopping
        stopping = True
        for pid in list(children):
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    previous = {s: signal.signal(s, stop) for s in (signal.SIGTERM, signal.SIGINT)}
    deaths: list[float] = []
    status = 0
    try:
        for number in range(workers):
            start(number)
        stop_deadline: float | None = None
        while children:
            try:
                pid, code = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:  # nobody exited: supervise at a relaxed pace
                if not announced and not stopping:
                    if select.select([listening_r], [], [], 0.2)[0]:
                        listening += len(os.read(listening_r, 64))
                    if listening >= workers or (listening and deaths):  # all up (or some up, one lost)
                        announced = True
                        if on_ready:
                            on_ready(url)
                    continue
                if stopping:
                    stop_deadline = stop_deadline or time.monotonic() + 20
                    if time.monotonic() > stop_deadline:  # a worker that does not drain in time
                        for child in list(children):
                            try:
                                os.kill(child, signal.SIGKILL)
                            except ProcessLookupError:
                                pass
                time.sleep(0.2)
                continue
            dead = children.pop(pid, None)
            if dead is None or stopping:
                continue
            log.error("hub worker %d (pid %d) exited with status %d; starting it again", dead, pid, code >> 8)
            now = time.monotonic()
            deaths = [t for t in deaths if now - t < 60] + [now]
            if len(deaths) > respawn_limit:
                print("kiosk hub: workers keep dying; stopping (see the lines above)", file=__import__("sys").stderr)
                status = 1
                stop(signal.SIGTERM, None)
                continue
            time.sleep(0.5)
            start(dead)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        sock.close()
        if reuse_port:
            os.close(listening_r)
            os.close(listening_w)
    return status
