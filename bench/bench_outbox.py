"""Outbox and sync throughput.

  .venv/bin/python bench/bench_outbox.py [--n 2000] [--sync-n 5000] [--batch 50] [--no-pg]

Prints the durable enqueue rate (OutboxStore.enqueue: encrypt + two-table transaction, WAL,
synchronous=FULL) next to raw sqlite3 INSERT+COMMIT at the same settings, and the sync
throughput (submissions/s acknowledged) to a loopback hub on SQLite and, when a throwaway
cluster can be started (see tests/hub_fixtures.py), PostgreSQL.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from kiosk.hub.server import start_hub_in_thread  # noqa: E402
from kiosk.services.crypto import FieldCipher  # noqa: E402
from kiosk.services.outbox import OutboxStore  # noqa: E402
from kiosk.services.sync import HubClient, Syncer  # noqa: E402

PAYLOAD = {"service": "enrol", "form_version": 1,
           "applicant": {"name": "张三", "id_number": "11010519491231002X", "source": "idcard", "birth_date": "1949-12-31"},
           "answers": {"phone": "13912345678", "scheme": "resident", "consent": True}}


def bench_enqueue(tmp: Path, n: int) -> float:
    store = OutboxStore(tmp / "outbox.sqlite3", FieldCipher.load_or_create(tmp / "keys" / "outbox.key"))
    start = time.perf_counter()
    for _ in range(n):
        store.enqueue(store.new_submission_id(), "enrol", "KIOSK-BENCH", PAYLOAD)
    rate = n / (time.perf_counter() - start)
    store.close()
    return rate


def bench_raw_sqlite(tmp: Path, n: int) -> float:
    conn = sqlite3.connect(tmp / "raw.sqlite3", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT UNIQUE, body BLOB)")
    body = json.dumps(PAYLOAD, ensure_ascii=False).encode()
    start = time.perf_counter()
    for _ in range(n):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (id, body) VALUES (?, ?)", (str(uuid.uuid4()), body))
        conn.execute("COMMIT")
    rate = n / (time.perf_counter() - start)
    conn.close()
    return rate


def bench_sync(tmp: Path, db_url: str, n: int, batch: int) -> float:
    token = "bench-token"
    store = OutboxStore(tmp / "sync-outbox.sqlite3", FieldCipher.load_or_create(tmp / "keys" / "outbox.key"))
    for _ in range(n):
        store.enqueue(store.new_submission_id(), "enrol", "KIOSK-BENCH", PAYLOAD)
    with start_hub_in_thread(db_url, {token: "KIOSK-BENCH"}) as hub:
        client = HubClient(hub.url, token, 30)
        start = time.perf_counter()
        report = Syncer(store, client, batch).drain()
        elapsed = time.perf_counter() - start
        client.close()
        assert report.acked == n and report.error is None, report
    store.close()
    (tmp / "sync-outbox.sqlite3").unlink()
    return n / elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="enqueues / raw inserts")
    parser.add_argument("--sync-n", type=int, default=5000, help="submissions to sync per database")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    results: dict[str, float | str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as d:
        tmp = Path(d)
        results["enqueue_durable_per_s"] = round(bench_enqueue(tmp, args.n))
        results["raw_sqlite_insert_commit_per_s"] = round(bench_raw_sqlite(tmp, args.n))
        print(f"durable enqueue         {results['enqueue_durable_per_s']:>8} /s   (OutboxStore.enqueue, WAL, synchronous=FULL, AES-GCM)")
        print(f"raw INSERT+COMMIT       {results['raw_sqlite_insert_commit_per_s']:>8} /s   (sqlite3, same settings)")
        results["sync_sqlite_hub_per_s"] = round(bench_sync(tmp, str(tmp / "hub.sqlite3"), args.sync_n, args.batch))
        print(f"sync → SQLite hub       {results['sync_sqlite_hub_per_s']:>8} /s   (batch {args.batch}, loopback HTTP)")
        if args.no_pg:
            results["sync_postgresql_hub_per_s"] = "skipped (--no-pg)"
        else:
            from hub_fixtures import temporary_postgres
            pg = temporary_postgres()
            if pg.url:
                results["sync_postgresql_hub_per_s"] = round(bench_sync(tmp, pg.fresh_database(), args.sync_n, args.batch))
                pg.stop()
            else:
                results["sync_postgresql_hub_per_s"] = f"skipped ({pg.skip_reason})"
        value = results["sync_postgresql_hub_per_s"]
        print(f"sync → PostgreSQL hub   {value:>8} /s   (batch {args.batch}, loopback HTTP)" if isinstance(value, int)
              else f"sync → PostgreSQL hub   {value}")
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
