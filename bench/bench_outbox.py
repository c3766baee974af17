"""Outbox enqueue throughput.

  .venv/bin/python bench/bench_outbox.py [--n 2000]

Prints the durable enqueue rate (OutboxStore.enqueue: encrypt + two-table transaction, WAL,
synchronous=FULL) next to raw sqlite3 INSERT+COMMIT at the same settings. Sync throughput is in
bench/bench_sync.py.
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

sys.path.insert(0, str(ROOT / "bench"))

from figures import emit  # noqa: E402
from kiosk.services.crypto import FieldCipher  # noqa: E402
from kiosk.services.outbox import OutboxStore  # noqa: E402

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="enqueues / raw inserts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-") as d:
        tmp = Path(d)
        raw = bench_raw_sqlite(tmp, args.n)
        enqueue = bench_enqueue(tmp, args.n)
    print(f"durable enqueue         {enqueue:>8.0f} /s   (OutboxStore.enqueue, WAL, synchronous=FULL, AES-GCM)")
    print(f"raw INSERT+COMMIT       {raw:>8.0f} /s   (sqlite3, same settings)")
    emit("outbox enqueue (durable, encrypted)", enqueue, "/s", "≥ 0.5× raw SQLite commits", enqueue >= 0.5 * raw,
         raw, "raw INSERT+COMMIT")
    return 0


if __name__ == "__main__":
    sys.exit(main())
