"""Fixtures for the outbox/sync/hub tests: a cipher, a store, a hub in a thread, a throwaway
PostgreSQL cluster, and a fault-injecting TCP proxy. Imported by the test modules (conftest.py
belongs to the app owner).

PostgreSQL: `KIOSK_TEST_PG_URL` (an existing server) wins; otherwise a cluster is made with
`initdb` in a temporary directory (as the `postgres` user via `runuser` when running as root),
started with `pg_ctl` on 127.0.0.1 and a private socket directory, and removed at exit.
"""
from __future__ import annotations

import atexit
import glob
import os
import random
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import pytest

from kiosk.hub.server import start_hub_in_thread
from kiosk.services.crypto import FieldCipher
from kiosk.services.outbox import OutboxStore

TOKEN, KIOSK = "test-token-1", "KIOSK-T1"
OTHER_TOKEN, OTHER_KIOSK = "test-token-2", "KIOSK-T2"
TOKENS = {TOKEN: KIOSK, OTHER_TOKEN: OTHER_KIOSK}


@pytest.fixture
def cipher(tmp_path: Path) -> FieldCipher:
    return FieldCipher.load_or_create(tmp_path / "keys" / "outbox.key")


@pytest.fixture
def store(tmp_path: Path, cipher: FieldCipher):
    s = OutboxStore(tmp_path / "outbox.sqlite3", cipher)
    yield s
    s.close()


@pytest.fixture
def hub(tmp_path: Path):
    handle = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), TOKENS)
    yield handle
    handle.stop()


# -- PostgreSQL -------------------------------------------------------------------------------
class TemporaryPostgres:
    def __init__(self) -> None:
        self.url: str | None = None
        self.skip_reason = ""
        self._dir: str | None = None
        self._bin = ""
        self._as_postgres = False

    def _run(self, *cmd: str, timeout: float = 60) -> subprocess.CompletedProcess:
        argv = [os.path.join(self._bin, cmd[0]), *cmd[1:]]
        if self._as_postgres:
            argv = ["runuser", "-u", "postgres", "--", *argv]
        return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)

    def start(self) -> "TemporaryPostgres":
        if os.environ.get("KIOSK_TEST_PG_URL"):
            self.url = os.environ["KIOSK_TEST_PG_URL"]
            return self
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        initdb = bins[-1] if bins else shutil.which("initdb")
        if not initdb:
            self.skip_reason = "PostgreSQL not installed (no initdb; apt install postgresql or set KIOSK_TEST_PG_URL)"
            return self
        self._bin = os.path.dirname(initdb)
        self._as_postgres = os.geteuid() == 0  # postgres refuses to run as root
        if self._as_postgres and not shutil.which("runuser"):
            self.skip_reason = "running as root without runuser: cannot start postgres as the postgres user"
            return self
        self._dir = tempfile.mkdtemp(prefix="kiosk-pg-")
        data, sock = os.path.join(self._dir, "data"), os.path.join(self._dir, "sock")
        os.mkdir(sock)
        if self._as_postgres:
            import pwd
            pw = pwd.getpwnam("postgres")
            for path in (self._dir, sock):
                os.chown(path, pw.pw_uid, pw.pw_gid)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        r = self._run("initdb", "-D", data, "--auth=trust", "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")
        if r.returncode != 0:
            self.skip_reason = f"initdb failed: {r.stderr.strip()[-300:]}"
            return self
        opts = f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c fsync=on -c max_connections=50"
        r = self._run("pg_ctl", "-D", data, "-o", opts, "-l", os.path.join(self._dir, "log"), "-w", "-t", "30", "start")
        if r.returncode != 0:
            log = Path(self._dir, "log").read_text(errors="replace")[-300:] if Path(self._dir, "log").exists() else ""
            self.skip_reason = f"pg_ctl start failed: {r.stderr.strip()[-200:]} {log}"
            return self
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"
        atexit.register(self.stop)
        return self

    def stop(self) -> None:
        if self._dir and self.url:
            self._run("pg_ctl", "-D", os.path.join(self._dir, "data"), "-m", "immediate", "-w", "stop")
            self.url = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def fresh_database(self) -> str:
        """A new empty database on the server, so tests do not see each other's rows."""
        import psycopg
        name = f"t_{os.getpid()}_{random.randrange(1 << 30)}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name


_PG: TemporaryPostgres | None = None
_PG_LOCK = threading.Lock()


def temporary_postgres() -> TemporaryPostgres:
    global _PG
    with _PG_LOCK:
        if _PG is None:
            try:
                _PG = TemporaryPostgres().start()
            except (OSError, subprocess.SubprocessError) as exc:
                _PG = TemporaryPostgres()
                _PG.skip_reason = f"cannot start PostgreSQL: {exc}"
        return _PG


@pytest.fixture
def pg_url() -> str:
    pg = temporary_postgres()
    if not pg.url:
        pytest.skip(pg.skip_reason)
    return pg.fresh_database()


# -- fault proxy -----------------------------------------------------------------------------
class FaultProxy:
    """TCP proxy on 127.0.0.1 in front of the hub. Each connection draws one fault:
    pass, drop (forward the request, wait for the hub's reply — it has committed — then close
    without answering), error500 (forward, discard the reply, answer 500), fail500 (answer 500
    without forwarding), garbage (200 with a non-JSON body), stall (hold the connection past the
    client's timeout). Use with a client that does not keep connections alive."""

    FAULTS = ("pass", "drop", "error500", "fail500", "garbage", "stall")

    def __init__(self, upstream_port: int, weights: dict[str, float] | None = None, stall_s: float = 3.0, seed: int = 1) -> None:
        self.upstream_port = upstream_port
        self.weights = weights or {"pass": 1.0}
        self.stall_s = stall_s
        self.rng = random.Random(seed)
        self.counts: dict[str, int] = {f: 0 for f in self.FAULTS}
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True, name="fault-proxy").start()

    def _draw(self) -> str:
        with self._lock:
            faults, weights = zip(*self.weights.items())
            fault = self.rng.choices(faults, weights)[0]
            self.counts[fault] += 1
            return fault

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._handle, args=(client, self._draw()), daemon=True).start()

    @staticmethod
    def _read_request(conn: socket.socket) -> bytes:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return data
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        while len(body) < length:
            chunk = conn.recv(65536)
            if not chunk:
                break
            body += chunk
        return head + b"\r\n\r\n" + body

    @staticmethod
    def _read_response(conn: socket.socket) -> bytes:
        return FaultProxy._read_request(conn)  # same framing (the hub always sends Content-Length)

    def _handle(self, client: socket.socket, fault: str) -> None:
        try:
            with client:
                client.settimeout(10)
                request = self._read_request(client)
                if not request:
                    return
                if fault == "stall":
                    time.sleep(self.stall_s)  # the injected fault: a hub that hangs (not a wait)
                    return
                if fault == "fail500":
                    client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                    return
                if fault == "garbage":
                    body = b"<html>proxy error \xff\xfe"
                    client.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
                    return
                with socket.create_connection(("127.0.0.1", self.upstream_port), timeout=10) as upstream:
                    upstream.sendall(request)
                    response = self._read_response(upstream)
                if fault == "drop":
                    client.shutdown(socket.SHUT_RDWR)
                elif fault == "error500":
                    client.sendall(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                else:
                    client.sendall(response)
        except OSError:
            pass

    def close(self) -> None:
        self._stopped.set()
        self._sock.close()
