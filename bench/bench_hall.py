"""Hall benchmarks (issue 17): call → the lobby's event stream shows it (p50/p95), and API
latency p50/p95 with 10 counters calling and finishing, a kiosk issuing tickets with
applications, and a lobby page both streaming and polling — all at once, on 127.0.0.1.

Run: .venv/bin/python bench/bench_hall.py [--seconds 10]
Clients keep their connections (as kiosks, counter pages and TVs do); the load generator shares
the machine and the GIL with the hall, so numbers are an upper bound.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402

from figures import emit  # noqa: E402


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--counters", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-hall-"))
    os.environ["KIOSK_DATA_DIR"] = str(tmp / "data")
    from kiosk.config import load_config
    from kiosk.hall.server import start_hall_in_thread
    from test_hall_support import TOKENS, application, clerk_client, issue, kiosk_client, open_parts

    hall = start_hall_in_thread(open_parts(tmp / "hall.sqlite3", load_config(ROOT / "config.toml")), TOKENS)
    url = hall.url
    seen: dict[int, float] = {}  # announce seq → when the lobby stream delivered it
    seen_lock = threading.Condition()
    stop = threading.Event()

    def lobby_stream() -> None:
        with httpx.stream("GET", f"{url}/api/lobby/events", timeout=None) as stream:
            for line in stream.iter_lines():
                if stop.is_set():
                    return
                if line.startswith("data:"):
                    announce = json.loads(line[5:]).get("announce")
                    if announce:
                        with seen_lock:
                            seen.setdefault(announce["seq"], time.perf_counter())
                            seen_lock.notify_all()

    threading.Thread(target=lobby_stream, daemon=True).start()
    time.sleep(0.3)

    # 0. the baseline: the lobby read on the idle hall (kept-alive, one at a time)
    idle = []
    with httpx.Client(base_url=url) as c:
        c.get("/api/lobby")
        for _ in range(40):
            start = time.perf_counter()
            c.get("/api/lobby")
            idle.append(time.perf_counter() - start)
    idle_p50 = pct(idle, 0.5)
    print(f"idle GET lobby: p50 {idle_p50:.1f} ms")

    # 1. call → lobby, one call at a time
    clerk = clerk_client(url)
    for _ in range(200):
        issue(url, service="enrol", with_application=False)
    latencies = []
    for i in range(150):
        start = time.perf_counter()
        clerk.post(f"/api/counters/{i % args.counters + 1}/call")
        seq = i + 1
        with seen_lock:
            seen_lock.wait_for(lambda: seq in seen, timeout=10)
        latencies.append(seen[seq] - start)
    print(f"call → lobby stream: p50 {pct(latencies, 0.5):.1f} ms, p95 {pct(latencies, 0.95):.1f} ms (n={len(latencies)})")

    # 2. everyone at once
    timings: dict[str, list[float]] = {}
    lock = threading.Lock()

    errors: dict[str, int] = {}

    def timed(name: str, fn) -> httpx.Response | None:
        start = time.perf_counter()
        try:
            r = fn()
        except httpx.HTTPError as exc:  # a timeout under load is a result, not a crash
            with lock:
                errors[f"{name}: {type(exc).__name__}"] = errors.get(f"{name}: {type(exc).__name__}", 0) + 1
            return None
        with lock:
            timings.setdefault(name, []).append(time.perf_counter() - start)
        return r

    clerks = {n: clerk_client(url) for n in range(1, args.counters + 1)}  # logged in before the clock starts
    deadline = time.monotonic() + args.seconds

    def counter(n: int) -> None:
        c = clerks[n]
        while time.monotonic() < deadline:
            r = timed("POST call", lambda: c.post(f"/api/counters/{n}/call"))
            t = r.json()["ticket"] if r is not None and r.status_code == 200 else None
            if t is None:
                time.sleep(0.05)
                continue
            timed("POST finish", lambda: c.post(f"/api/tickets/{t['id']}/finish", json={"outcome": "done", "note": ""}))

    def kiosk() -> None:  # one kept-alive client, as a kiosk holds its connection
        k = kiosk_client(url)
        while time.monotonic() < deadline:
            body = {"service": "chronic_disease", "priority": False, "submission_id": str(uuid.uuid4()),
                    "application": application()}
            timed("POST tickets (with application)", lambda: k.post("/api/tickets", json=body))

    def lobby_poll() -> None:
        c = httpx.Client(base_url=url)
        while time.monotonic() < deadline:
            timed("GET lobby", lambda: c.get("/api/lobby"))
            time.sleep(0.2)

    threads = [threading.Thread(target=counter, args=(n,)) for n in range(1, args.counters + 1)]
    threads += [threading.Thread(target=kiosk), threading.Thread(target=lobby_poll)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    print(f"{args.counters} counters + kiosk + lobby for {args.seconds:.0f} s:")
    for name, samples in sorted(timings.items()):
        print(f"  {name:32s} n={len(samples):5d}  p50 {pct(samples, 0.5):6.1f} ms  p95 {pct(samples, 0.95):6.1f} ms  "
              f"max {max(samples) * 1000:6.1f} ms")
    print(f"  tickets finished: {len(timings.get('POST finish', []))}, mean {statistics.mean(sum(timings.values(), [])) * 1000:.1f} ms")
    if errors:
        print("  errors: " + ", ".join(f"{k} × {v}" for k, v in sorted(errors.items())))
    hall.stop()
    emit("hall: call → lobby stream, p95", pct(latencies, 0.95), "ms", "reported", None, idle_p50, "idle GET lobby p50")
    for name in ("GET lobby", "POST call"):
        if timings.get(name):
            emit(f"hall under load ({args.counters} counters + kiosk + lobby): {name} p95", pct(timings[name], 0.95), "ms",
                 "reported", None, idle_p50, "idle GET lobby p50")


if __name__ == "__main__":
    main()
