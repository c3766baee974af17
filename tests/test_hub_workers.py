"""Issue 18 (scale): the PostgreSQL hub on a connection pool and `kiosk hub serve --workers N`;
SQLite refuses more than one worker in one clear line."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import httpx
import pytest

from kiosk.hub.pool import ConnectionPool, PooledPostgresHubStore, PoolTimeout
from kiosk.hub.store import HubItem

from hub_fixtures import pg_url  # noqa: F401  (fixture)


class FakeConn:
    def __init__(self) -> None:
        self.closed = False
        self.broken = False
        self.info = type("Info", (), {"transaction_status": 0})()

    def rollback(self) -> None:
        self.info.transaction_status = 0

    def close(self) -> None:
        self.closed = True


def test_pool_is_bounded_reuses_connections_drops_broken_ones_and_times_out() -> None:
    made: list[FakeConn] = []

    def connect() -> FakeConn:
        made.append(FakeConn())
        return made[-1]

    pool = ConnectionPool(connect, max_size=2, timeout_s=0.2)
    a, b = pool.get(), pool.get()
    assert len(made) == 2 and pool.size == 2
    with pytest.raises(PoolTimeout):
        pool.get()  # both leased: waits, then one clear error
    a.info.transaction_status = 2  # left in a transaction: rolled back on return, then reused
    pool.put(a)
    assert pool.get() is a and a.info.transaction_status == 0
    b.broken = True
    pool.put(b)  # dropped, a new one is made on demand
    c = pool.get()
    assert c is not b and len(made) == 3 and b.closed
    # a waiter is woken by a return
    got: list[FakeConn] = []
    waiter = threading.Thread(target=lambda: got.append(pool.get()))
    pool.timeout_s = 5
    waiter.start()
    pool.put(c)
    waiter.join(5)
    assert got == [c]
    pool.close()
    assert a.closed is False  # leased connections are closed when they come back
    pool.put(a)
    assert a.closed


def test_sqlite_refuses_more_than_one_worker_in_one_line(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "kiosk", "hub", "serve", "--db", str(tmp_path / "hub.sqlite3"), "--workers", "2",
                        "--port", "0"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--workers 2 needs a PostgreSQL database" in r.stderr and "Traceback" not in r.stderr
    bad = subprocess.run([sys.executable, "-m", "kiosk", "hub", "serve", "--db", str(tmp_path / "hub.sqlite3"), "--workers", "0"],
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "expected 1 to 64" in bad.stderr


def item(kiosk: str, n: int) -> HubItem:
    return HubItem(str(uuid.UUID(int=n)), kiosk, "enrol", "submission", "2026-11-02T02:00:00Z", {"answers": {"n": n}})


def test_pooled_store_serves_threads_in_parallel_and_stays_idempotent(pg_url, tmp_path: Path) -> None:
    store = PooledPostgresHubStore(pg_url, tmp_path / "hub.key", pool_size=4)
    try:
        errors: list[BaseException] = []
        results: list[str] = []

        def worker(w: int) -> None:
            try:
                for batch in range(5):
                    items = [item("K1", w * 100 + batch * 10 + i) for i in range(10)]
                    items.append(item("K1", batch))  # the same ids from every thread: one accepted, others duplicate
                    results.extend(o.result for o in store.insert_batch(items))
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)

        threads = [threading.Thread(target=worker, args=(w,)) for w in range(1, 9)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert store.pool.size <= 4
        ids = store.ids()
        assert len(ids) == len(set(ids)) == 8 * 50 + 5
        assert results.count("rejected") == 0 and results.count("duplicate") == 8 * 5 - 5
        assert store.writable() and store.ping()
    finally:
        store.close()


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def test_hub_serve_with_two_workers_on_postgresql(pg_url, tmp_path: Path) -> None:
    tokens = tmp_path / "tokens"
    tokens.write_text("KW-1 worker-token-1\n")
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "hub", "serve", "--db", pg_url, "--workers", "2", "--port", "0",
                             "--tokens", str(tokens), "--key-file", str(tmp_path / "hub.key"), "--pool-size", "3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        ready = json.loads(line)
        assert ready["workers"] == 2 and "@" not in ready["db"]
        url = ready["listening"]
        deadline = time.monotonic() + 30
        while len(_children(proc.pid)) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_children(proc.pid)) == 2
        headers = {"Authorization": "Bearer worker-token-1"}
        sent = [{"id": str(uuid.uuid4()), "service": "enrol", "kind": "submission", "created_at": "2026-11-02T02:00:00Z",
                 "payload": {"answers": {"n": n}}} for n in range(40)]
        outcomes: list[str] = []

        def post(chunk: list[dict]) -> None:
            with httpx.Client(base_url=url, timeout=30) as client:  # new connections: spread over both workers
                for start in range(0, len(chunk), 5):
                    r = client.post("/v1/submissions", json={"items": chunk[start:start + 5]}, headers=headers)
                    outcomes.extend(x["result"] for x in r.json()["results"])

        threads = [threading.Thread(target=post, args=(sent[i::4],)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert outcomes.count("accepted") == 40
        again = httpx.post(url + "/v1/submissions", json={"items": sent[:5]}, headers=headers, timeout=30).json()
        assert [x["result"] for x in again["results"]] == ["duplicate"] * 5
        # a killed worker is started again; the port keeps answering
        victim = _children(proc.pid)[0]
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (victim in _children(proc.pid) or len(_children(proc.pid)) < 2) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(_children(proc.pid)) == 2 and victim not in _children(proc.pid)
        assert httpx.get(url + "/v1/health", timeout=30).status_code in (200, 503)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            assert proc.wait(30) == 0
        finally:
            if proc.poll() is None:
                proc.kill()


def test_pool_fill_opens_connections_up_to_its_size_once() -> None:
    made: list[FakeConn] = []

    def connect() -> FakeConn:
        made.append(FakeConn())
        return made[-1]

    pool = ConnectionPool(connect, max_size=3)
    held = pool.get()  # one already open and leased
    assert pool.fill() == 2 and pool.size == 3 and len(made) == 3
    assert pool.fill() == 0 and len(made) == 3  # nothing more to open
    pool.put(held)
    assert pool.get() is held  # the newest idle one first; the warmed ones wait below it
    pool.put(held)
    pool.close()
    assert all(c.closed for c in made)
    assert ConnectionPool(connect, max_size=4).fill(2) == 2


def test_a_pooled_store_warms_up_its_whole_pool(pg_url, tmp_path: Path) -> None:
    store = PooledPostgresHubStore(pg_url, tmp_path / "hub.key", pool_size=3)
    try:
        assert store.warm_up() == 2 and store.pool.size == 3  # the first one was open already
        assert store.insert_batch([item("K1", 1)])[0].result == "accepted" and store.pool.waits == 0
    finally:
        store.close()
