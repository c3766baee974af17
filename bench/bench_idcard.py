"""ID card read latency over a real pty to the simulator.

Prints, in ms (median and p95 over N reads):
  parse       last reply byte received → `IdCardText` parsed (what the driver adds after the wire)
  round trip  find → select → read `30 01`, request written to text parsed (pty, no card delay)
  parse only  `parse_text` on the 256-byte block, in-process

Usage: .venv/bin/python bench/bench_idcard.py [-n 200] [--profile assets/cards/idcard/resident.json]
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from drivers.idcard.reader import IdCardReader  # noqa: E402
from drivers.idcard.simulator import IdCardSimulator, load_profile  # noqa: E402
from drivers.idcard.text import parse_text  # noqa: E402
from figures import emit  # noqa: E402


def _stats(samples_ms: list[float]) -> str:
    ordered = sorted(samples_ms)
    p95 = ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))]
    return f"median {statistics.median(ordered):8.3f} ms   p95 {p95:8.3f} ms   (n={len(ordered)})"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200, help="number of reads")
    parser.add_argument("--profile", default=str(ROOT / "assets/cards/idcard/resident.json"))
    parser.add_argument("--tcp", action="store_true", help="loopback TCP instead of a pty")
    args = parser.parse_args(argv)

    profile = load_profile(args.profile)
    parse_ms, round_trip_ms = [], []
    with IdCardSimulator(profile) as sim:
        url = sim.start_tcp() if args.tcp else sim.start_pty()
        with IdCardReader(url) as reader:
            reader.read_card()  # warm-up
            for _ in range(args.n):
                sim.lift_and_replace()
                started = time.monotonic()
                read = reader.read_card()
                round_trip_ms.append((read.parsed_at - started) * 1000)
                parse_ms.append((read.parsed_at - read.reply_received_at) * 1000)

    only_ms = []
    for _ in range(max(args.n, 1000)):
        t0 = time.perf_counter()
        parse_text(profile.text)
        only_ms.append((time.perf_counter() - t0) * 1000)

    transport = "tcp" if args.tcp else "pty"
    print(f"ID card reader benchmark ({transport}, profile {profile.label})")
    print(f"  last reply byte → IdCardText : {_stats(parse_ms)}")
    print(f"  find→select→read round trip  : {_stats(round_trip_ms)}")
    print(f"  parse_text only              : {_stats(only_ms)}")
    parse, only, trip = (statistics.median(x) for x in (parse_ms, only_ms, round_trip_ms))
    emit(f"ID card: last reply byte → text parsed ({transport})", parse, "ms", "reported", None, only,
         "parse_text alone, in-process")
    emit(f"ID card: find→select→read round trip ({transport})", trip, "ms", "reported", None, parse,
         "of which after the last byte")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
