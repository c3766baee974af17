"""PostgreSQL hub store on a connection pool (issue 18: scale to a province).

`PostgresHubStore` talks to the database over one connection under one lock: every request of a
hub worker waits for the one before it, whatever the server could do in parallel. Here the store's
lock becomes a *lease*: entering it hands this thread a connection of its own from a bounded pool
(`ConnectionPool`), leaving it gives the connection back (rolled back if a transaction was left
open, dropped if broken, so a lost server heals on the next lease). Every store method keeps its
shape — one `with self._lock:` around one transaction — so the SQL and the idempotency rules of
kiosk/hub/store.py are shared unchanged; only where the connection comes from differs.

The pool is a few lines on a Condition rather than a dependency: connections are made on demand up
to `max_size`, idle ones are reused newest first (warm caches), a lease waits up to `timeout_s`
for a free connection and then fails with a clear error (503 to the kiosk, which retries).
"""
from __future__ import annotations

import os
import threading
import time
from typing import Any
from collections.abc import Callable

from kiosk.hub.store import HubStore, HubStoreError, PostgresHubStore, open_hub_store, safe_db_url

DEFAULT_POOL_SIZE = 8


class PoolTimeout(HubStoreError):
    """No connection became free in time."""


class ConnectionPool:
    def __init__(self, connect: Callable[[], Any], max_size: int = DEFAULT_POOL_SIZE, timeout_s: float = 30.0,
                 label: str = "database") -> None:
        if max_size < 1:
            raise ValueError("pool size must be at least 1")
        self._connect = connect
        self.max_size = max_size
        self.timeout_s = timeout_s
        self.label = label
        self._idle: list[Any] = []
        self._open = 0
        self._closed = False
        self._cond = threading.Condition()
        self.waits = 0  # leases that had to wait for a free connection (bench, diagnostics)

    def get(self) -> Any:
        deadline = time.monotonic() + self.timeout_s
        with self._cond:
            while True:
                if self._closed:
                    raise HubStoreError(f"connection pool for {self.label} is closed")
                while self._idle:
                    conn = self._idle.pop()
                    if not (conn.closed or getattr(conn, "broken", False)):
                        return conn
                    self._open -= 1
                if self._open < self.max_size:
                    self._open += 1
                    break
                self.waits += 1
                left = deadline - time.monotonic()
                if (left <= 0 or not self._cond.wait(left)) and not self._idle and self._open >= self.max_size:
                    raise PoolTimeout(f"no free connection to {self.label} within {self.timeout_s:g} s")
        try:
            return self._connect()  # outside the condition: a slow connect does not stall the others
        except BaseException:
            with self._cond:
                self._open -= 1
                self._cond.notify()
            raise

    def put(self, conn: Any) -> None:
        healthy = not (conn.closed or getattr(conn, "broken", False))
        if healthy:
            try:
                if conn.info.transaction_status != 0:  # psycopg TransactionStatus.IDLE
                    conn.rollback()
            except Exception:
                healthy = False
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(conn)
            else:
                self._open -= 1
                _close_quietly(conn)
            self._cond.notify()

    def fill(self, n: int | None = None) -> int:
        """Open connections until `n` (default `max_size`) are open; returns how many were made.
        A serving hub calls it before its first request (`PooledPostgresHubStore.warm_up`)."""
        target = self.max_size if n is None else min(n, self.max_size)
        made = []
        try:
            while True:
                with self._cond:
                    if self._closed or self._open >= target:
                        break
                    self._open += 1
                try:
                    made.append(self._connect())
                except BaseException:
                    with self._cond:
                        self._open -= 1
                        self._cond.notify()
                    raise
        finally:
            with self._cond:
                if self._closed:  # closed meanwhile: these are nobody's
                    self._open -= len(made)
                    for conn in made:
                        _close_quietly(conn)
                else:
                    self._idle[:0] = made  # under the warm ones: the newest idle is reused first
                self._cond.notify_all()
        return len(made)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            self._open -= len(idle)
            self._cond.notify_all()
        for conn in idle:
            _close_quietly(conn)

    @property
    def size(self) -> int:
        return self._open


class _Lease:
    """Used where the store uses its lock: a pooled connection bound to the entering thread
    (re-entrant within a thread: the inner block shares the outer connection)."""

    def __init__(self, pool: ConnectionPool) -> None:
        self.pool = pool
        self.local = threading.local()

    def __enter__(self) -> _Lease:
        depth = getattr(self.local, "depth", 0)
        if depth == 0:
            self.local.conn = self.pool.get()
        self.local.depth = depth + 1
        return self

    def __exit__(self, *exc: object) -> None:
        self.local.depth -= 1
        if self.local.depth == 0:
            conn, self.local.conn = self.local.conn, None
            self.pool.put(conn)


class PooledPostgresHubStore(PostgresHubStore):
    """Opens (and migrates) over one connection like `PostgresHubStore`, then serves from a pool."""

    kind = "postgresql"

    def __init__(self, url: str, key_file: str | os.PathLike[str] | None = None,
                 pool_size: int = DEFAULT_POOL_SIZE, timeout_s: float = 30.0) -> None:
        self._lease: _Lease | None = None
        super().__init__(url, key_file)  # schema, migrations and key ring over a first connection
        first = self.__dict__.pop("_single_conn")
        self.pool = ConnectionPool(self._connect, pool_size, timeout_s, safe_db_url(url))
        self.pool._open += 1
        self.pool.put(first)  # the first connection becomes the pool's first idle one
        self._lease = _Lease(self.pool)

    # `self._conn` / `self._lock` as the base class uses them
    @property
    def _conn(self) -> Any:
        if self._lease is None:
            return self.__dict__.get("_single_conn")
        conn = getattr(self._lease.local, "conn", None)
        if conn is None:
            raise RuntimeError("pooled store used outside its lease")
        return conn

    @_conn.setter
    def _conn(self, value: Any) -> None:
        self.__dict__["_single_conn"] = value

    @property
    def _lock(self) -> Any:
        return self._lease if self._lease is not None else self.__dict__["_plain_lock"]

    @_lock.setter
    def _lock(self, value: Any) -> None:
        self.__dict__["_plain_lock"] = value

    def _reconnect_if_broken(self) -> None:
        """The pool drops broken connections when they come back and checks idle ones on lease."""

    def warm_up(self) -> int:
        """Open the whole pool now (kiosk/hub/server.py `ready_to_serve`), so a burst of requests
        at start does not wait for new backends. Returns how many connections were made."""
        return self.pool.fill() if self._lease is not None else 0

    def close(self) -> None:
        if self._lease is None:
            single = self.__dict__.get("_single_conn")
            if single is not None:
                single.close()
            return
        self.pool.close()


def open_store(db_url: str, key_file: str | os.PathLike[str] | None = None, pool_size: int = DEFAULT_POOL_SIZE) -> HubStore:
    """The hub's store as `kiosk hub serve` runs it: PostgreSQL on a pool, SQLite as before
    (one connection: SQLite has one writer at a time anyway)."""
    if db_url.startswith(("postgresql://", "postgres://")):
        return PooledPostgresHubStore(db_url, key_file, pool_size)
    return open_hub_store(db_url, key_file)


def _close_quietly(conn: Any) -> None:
    try:
        conn.close()
    except Exception:
        pass
