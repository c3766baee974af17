"""Kept-alive requests to the hub (and the hall, which binds the same way) are as fast as fresh ones.

uvicorn writes a response's headers and its body in two sends. Without TCP_NODELAY on the
server's accepted socket, Nagle's algorithm holds the body until the client ACKs the headers,
and the client delays that ACK by ~40 ms: every request after the first on a kept-alive
connection took ~42 ms instead of ~1 ms (issue 20).
"""
from __future__ import annotations

import socket
import time
from pathlib import Path

import httpx

from kiosk.hub.server import _bind, start_hub_in_thread


def test_bound_socket_gives_accepted_connections_nodelay() -> None:
    listener = _bind("127.0.0.1", 0)
    try:
        with socket.create_connection(listener.getsockname()):
            accepted, _ = listener.accept()
            with accepted:
                # asyncio sets TCP_NODELAY itself only when proto is IPPROTO_TCP; the option is also inherited
                assert accepted.proto == socket.IPPROTO_TCP
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
    finally:
        listener.close()


def test_running_hub_connections_have_nodelay(tmp_path: Path) -> None:
    with start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {"t": "K"}) as hub, httpx.Client(base_url=hub.url) as client:
        assert client.get("/v1/health").status_code == 200
        conns = list(hub._server.server_state.connections)
        assert conns, "the kept-alive connection is open"
        for proto in conns:
            sock = proto.transport.get_extra_info("socket")
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0


def test_kept_alive_request_is_not_held_by_delayed_ack(tmp_path: Path) -> None:
    """With the stall every kept-alive request takes ≥ 40 ms (the delayed-ACK timer), so even the
    fastest of several would; without it the fastest is a few ms even on a loaded machine."""
    with start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {"t": "K"}) as hub, \
            httpx.Client(base_url=hub.url, headers={"Authorization": "Bearer t"}) as client:
        client.post("/v1/submissions", json={"items": []})  # opens the connection
        samples = []
        for _ in range(8):
            start = time.perf_counter()
            assert client.post("/v1/submissions", json={"items": []}).status_code == 422
            samples.append((time.perf_counter() - start) * 1000)
        assert min(samples) < 30, samples
