"""Ticket benchmarks: time to build one ticket's ESC/POS bytes, and to issue N tickets (each its
own durable transaction) beside raw SQLite INSERT+COMMIT on the same settings in the same run.

Run: .venv/bin/python bench/bench_ticket.py [--count 10000]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from drivers.printer.ticket import TicketContent, encode_ticket  # noqa: E402
from kiosk.config import QueueSection  # noqa: E402
from kiosk.services.queue import QueueService  # noqa: E402
from bench_outbox import bench_raw_sqlite  # noqa: E402
from figures import emit  # noqa: E402


def bench_encode(rounds: int = 2000) -> float:
    content = TicketContent("示范镇医保服务站", "门诊慢特病待遇报销", "B012", 7, 56, datetime(2024, 5, 1, 9, 30), True,
                            "7f3c2a9e-5b1d-4c8e-9a6f-2d4b8e1c0f37", footer="请留意叫号，过号请到服务台")
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        encode_ticket(content)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e6


def bench_issue(count: int = 10_000) -> float:
    bands = ("A", "B", "C", "D")
    with tempfile.TemporaryDirectory() as tmp:
        queue = QueueService(Path(tmp) / "queue.sqlite3", QueueSection(), 65)
        start = time.perf_counter()
        for i in range(count):
            queue.issue("S", "x", bands[i % 4], "elderly" if i % 5 == 0 else None)
        elapsed = time.perf_counter() - start
        queue.close()
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="tickets to issue")
    args = parser.parse_args()
    encode_us = bench_encode()
    print(f"encode_ticket: {encode_us:.1f} µs median")
    elapsed = bench_issue(args.count)
    with tempfile.TemporaryDirectory() as tmp:
        raw = bench_raw_sqlite(Path(tmp), args.count)
    rate = args.count / elapsed
    print(f"issue {args.count:,} tickets (WAL, synchronous=FULL, one transaction each): {elapsed:.2f} s, "
          f"{rate:.0f} tickets/s; raw INSERT+COMMIT {raw:.0f} /s")
    emit("ticket issue (durable)", rate, "/s", "≥ 0.5× raw SQLite commits", rate >= 0.5 * raw, raw, "raw INSERT+COMMIT")
    emit("ticket ESC/POS encode", encode_us, "µs", "reported", None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
