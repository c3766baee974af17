"""A county's fleet against one hub (issue 18): simulated kiosks heartbeating every 30 s plus a
steady stream of small submission batches, on 127.0.0.1, bounded in count and time.

  .venv/bin/python bench/bench_fleet.py [--kiosks 2000] [--rate 200] [--seconds 30] [--workers 2]
                                        [--facts 1000000] [--no-pg]

* The hub runs as `kiosk hub serve` does, in its own process(es): PostgreSQL with --workers
  (a throwaway cluster from tests/hub_fixtures.py, or KIOSK_TEST_PG_URL), else SQLite, one worker.
* Open loop: every request is sent at its scheduled time whatever the hub's pace (kiosks do not
  wait for each other), so a slow hub shows as latency, not as a politely lower rate. Each
  kiosk's heartbeat falls at a random offset in the 30 s period; submissions arrive as a Poisson
  stream of batches of 1–3 items from random kiosks.
* Reported: p50/p99 latency of heartbeats and submission batches, errors (non-2xx, refused
  items, timeouts), the rate achieved against the rate offered, and the idle latency of the same
  requests on the same hub measured first (the baseline). Then the figures page's time over
  --facts stored items (facts written in bulk), month and year.
The load generator shares the 2 cores with the hub: the numbers are an upper bound.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402

HEARTBEAT_S = 30.0
DEVICES = {"idcard": "ok", "sscard": "ok", "printer": "ok", "camera": "ok", "qrscan": "ok"}
SERVICES = ("enrol", "contribution", "record_query", "voucher_help", "chronic_disease")


def kiosk_tokens(n: int) -> dict[str, str]:
    """token → kiosk id for n simulated kiosks."""
    return {f"fleet-token-{i:05d}": f"FLEET-{i:05d}" for i in range(n)}


@dataclass
class LoadReport:
    heartbeats: list[float] = field(default_factory=list)  # seconds
    submissions: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)
    items_sent: int = 0
    items_accepted: int = 0
    elapsed_s: float = 0.0
    late: int = 0  # requests that could not even be started on time (generator saturated)

    def error(self, kind: str) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + 1

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())


def pct_ms(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, int(round(q * (len(ordered) - 1)))))] * 1000


def _item(kiosk: str, n: int) -> dict:
    return {"id": str(uuid.uuid4()), "service": random.choice(SERVICES), "kind": "submission",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "payload": {"service": "enrol", "applicant": {"name": "张三", "id_number": "11010519491231002X", "source": "idcard"},
                        "answers": {"phone": "13912345678", "n": n}}}


def schedule(kiosks: list[tuple[str, str]], seconds: float, rate: float, seed: int) -> list[tuple[float, str, int]]:
    """(time, kind, kiosk index) sorted: each kiosk's heartbeats every 30 s from a random offset,
    and Poisson batch arrivals carrying `rate` items/s on average (batches of 1–3, mean 2)."""
    rng = random.Random(seed)
    events = []
    for k in range(len(kiosks)):
        t = rng.uniform(0, HEARTBEAT_S)
        while t < seconds:
            events.append((t, "heartbeat", k))
            t += HEARTBEAT_S
    t = 0.0
    while rate > 0:
        t += rng.expovariate(rate / 2.0)
        if t >= seconds:
            break
        events.append((t, "batch", rng.randrange(len(kiosks))))
    events.sort()
    return events


class _Conn:
    """One kept-alive HTTP/1.1 connection spoken by hand: a load generator must cost far less per
    request than the server it measures (an HTTP client library costs about as much as the hub)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(self, path: str, token: str, body: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = (f"POST {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\nAuthorization: Bearer {token}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
        self.writer.write(head + body)
        assert self.reader is not None
        status_line = await self.reader.readline()
        if not status_line:
            raise ConnectionError("closed")
        status = int(status_line.split()[1])
        length, close = 0, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, data

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def _run(url: str, tokens: dict[str, str], seconds: float, rate: float, seed: int, max_requests: int,
               connections: int, timeout_s: float) -> LoadReport:
    from urllib.parse import urlsplit

    kiosks = list(tokens.items())
    events = schedule(kiosks, seconds, rate, seed)[:max_requests]
    report = LoadReport()
    rng = random.Random(seed + 1)
    parts = urlsplit(url)
    queue: asyncio.Queue = asyncio.Queue()
    start = time.perf_counter()

    async def worker() -> None:
        conn = _Conn(parts.hostname or "127.0.0.1", parts.port or 80)
        while True:
            job = await queue.get()
            if job is None:
                conn.close()
                return
            at, kind, k = job
            token, kiosk = kiosks[k]
            items: list[dict] = []
            if kind == "heartbeat":
                path, body = "/v1/heartbeat", {"version": "bench", "backlog": rng.randrange(3),
                                               "oldest_pending_age_s": 0.0, "devices": DEVICES}
            else:
                items = [_item(kiosk, i) for i in range(rng.randint(1, 3))]
                report.items_sent += len(items)
                path, body = "/v1/submissions", {"items": items}
            try:
                status, data = await asyncio.wait_for(conn.request(path, token, json.dumps(body).encode()), timeout_s)
            except TimeoutError:
                conn.close()
                report.error("timeout")
                continue
            except (OSError, ConnectionError, ValueError, IndexError, asyncio.IncompleteReadError) as exc:
                conn.close()
                report.error(type(exc).__name__)
                continue
            took = time.perf_counter() - start - at  # from the scheduled time: queueing in the generator counts
            if status != 200:
                report.error(f"http_{status}")
                continue
            if items:
                accepted = sum(x["result"] == "accepted" for x in json.loads(data)["results"])
                report.items_accepted += accepted
                if accepted != len(items):
                    report.error("refused_items")
            (report.heartbeats if kind == "heartbeat" else report.submissions).append(took)

    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    for at, kind, k in events:
        delay = at - (time.perf_counter() - start)
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.5:
            report.late += 1
        queue.put_nowait((at, kind, k))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    report.elapsed_s = time.perf_counter() - start
    return report


def run_load(url: str, tokens: dict[str, str], seconds: float, rate: float, seed: int = 18, max_requests: int = 200_000,
             connections: int = 100, timeout_s: float = 10.0) -> LoadReport:
    """Bounded: at most `max_requests` requests, sent over `seconds` (plus the last replies)."""
    return asyncio.run(_run(url, tokens, seconds, rate, seed, max_requests, connections, timeout_s))


def idle_latency(url: str, tokens: dict[str, str], rounds: int = 50) -> tuple[float, float]:
    """(heartbeat p50, batch p50) in seconds, one request at a time on a kept-alive connection."""
    token, kiosk = next(iter(tokens.items()))
    beats, batches = [], []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as client:
        for n in range(rounds):
            started = time.perf_counter()
            client.post("/v1/heartbeat", json={"version": "bench", "backlog": 0, "devices": DEVICES}).raise_for_status()
            beats.append(time.perf_counter() - started)
            started = time.perf_counter()
            client.post("/v1/submissions", json={"items": [_item(kiosk, n), _item(kiosk, n)]}).raise_for_status()
            batches.append(time.perf_counter() - started)
    return statistics.median(beats), statistics.median(batches)


# -- the hub under test ----------------------------------------------------------------------------
def start_hub(db_url: str, workers: int, tmp: Path, tokens: dict[str, str]) -> tuple[subprocess.Popen, str]:
    tokens_file = tmp / "tokens"
    tokens_file.write_text("".join(f"{k} {t}\n" for t, k in tokens.items()))
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "hub", "serve", "--db", db_url, "--port", "0",
                             "--workers", str(workers), "--tokens", str(tokens_file), "--key-file", str(tmp / "hub.key")],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    line = proc.stdout.readline() if proc.stdout else ""
    if not line:
        proc.kill()
        raise RuntimeError("the hub did not start")
    url = json.loads(line)["listening"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:  # every worker up (the socket accepts from the first one)
        try:
            if httpx.get(url + "/v1/health", timeout=5).status_code in (200, 503):
                break
        except httpx.HTTPError:
            time.sleep(0.1)
    time.sleep(1.0 if workers > 1 else 0)  # let the other workers finish importing
    return proc, url


def stop_hub(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()


def seed_facts(db_url: str, key_file: Path, n: int) -> float:
    """n application/rating/ticket facts over a year for 50 kiosks at 10 points, in bulk (the
    submissions themselves are not needed for the figures: they read only the facts). Seconds taken."""
    from kiosk.hub.pool import open_store

    store = open_store(db_url, key_file)
    started = time.perf_counter()
    rng = random.Random(5)
    rows = []
    base = time.mktime((2025, 1, 1, 0, 0, 0, 0, 0, 0))
    for i in range(n):
        at = base + rng.random() * 365 * 86400
        day = time.strftime("%Y-%m-%d", time.gmtime(at + 8 * 3600))
        kind = rng.random()
        if kind < 0.7:
            row = ("application", rng.choice(SERVICES), None, None, None, None, None)
        elif kind < 0.8:
            row = ("rating", rng.choice(SERVICES), rng.randint(1, 5), None, None, None, None)
        else:
            row = ("ticket", rng.choice(SERVICES), None, rng.choice("ABD"), "ticket_finished", rng.uniform(0, 1500),
                   rng.uniform(30, 900))
        category, service, score, band, event, wait, handling = row
        rows.append((f"SEED-{i % 50:02d}", f"seed-{i}", category, service, day, at, "kiosk", score, band, event, None,
                     wait, handling))
    columns = "kiosk_id, id, category, service, day, at, source, score, band, event, outcome, waiting_s, handling_s"
    sql = store.sql(f"INSERT INTO submission_facts ({columns}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")
    for start in range(0, n, 50_000):
        with store.transaction() as cur:
            if store.kind == "postgresql":  # COPY: one statement (and one rollup trigger run) per chunk
                with cur.copy(f"COPY submission_facts ({columns}) FROM STDIN") as copy:
                    for row in rows[start:start + 50_000]:
                        copy.write_row(row)
            else:
                cur.executemany(sql, rows[start:start + 50_000])
    with store.transaction() as cur:
        for k in range(50):
            cur.execute(store.sql("INSERT INTO kiosk_stations (kiosk_id, station) VALUES (?, ?) ON CONFLICT (kiosk_id) DO NOTHING"),
                        (f"SEED-{k:02d}", f"point-{k % 10}"))
        if store.kind == "postgresql":
            cur.execute("ANALYZE submission_facts")
    store.close()
    return time.perf_counter() - started


def figures_time(url: str, db_url: str, tmp: Path) -> dict[str, float]:
    """ms for the figures page's queries (JSON and the page) over the seeded facts, median of 3."""
    from kiosk.hall.auth import hash_password
    from kiosk.hub.console.store import ConsoleStore
    from kiosk.hub.pool import open_store

    store = open_store(db_url, tmp / "hub.key")
    ConsoleStore(store).put_staff("bench", "bureau", None, hash_password("bench-password-1"))
    store.close()
    out = {}
    with httpx.Client(base_url=url, timeout=120) as client:
        client.post("/console/login", json={"user": "bench", "password": "bench-password-1"}).raise_for_status()
        for label, path, params in (
                ("figures month (JSON)", "/api/figures", {"from": "2025-06-01", "to": "2025-06-30"}),
                ("figures year (JSON)", "/api/figures", {"from": "2025-01-01", "to": "2025-12-31"}),
                ("series year by month", "/api/figures/series", {"from": "2025-01-01", "to": "2025-12-31", "by": "month"}),
                ("figures page, month by day", "/console/figures", {"from": "2025-06-01", "to": "2025-06-30"}),
                ("figures page, one point, year by week", "/console/figures",
                 {"from": "2025-01-01", "to": "2025-12-31", "station": "point-3", "by": "week"})):
            times = []
            for _ in range(3):
                started = time.perf_counter()
                client.get(path, params=params).raise_for_status()
                times.append((time.perf_counter() - started) * 1000)
            out[label] = statistics.median(times)
    return out


def main() -> int:
    from figures import emit

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kiosks", type=int, default=2000)
    parser.add_argument("--rate", type=float, default=200.0, help="submissions per second (items)")
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the load (each kiosk heartbeats once per 30 s)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--facts", type=int, default=1_000_000, help="stored items for the figures timing (0: skip)")
    parser.add_argument("--no-pg", action="store_true", help="SQLite hub (one worker) even when PostgreSQL is available")
    args = parser.parse_args()
    if args.kiosks < 1 or args.kiosks > 20_000 or args.seconds <= 0 or args.seconds > 600 or args.rate < 0 or args.rate > 5000:
        print("bench_fleet: --kiosks 1..20000, --seconds 0..600, --rate 0..5000", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-fleet-"))
    db_url, workers, engine = str(tmp / "hub.sqlite3"), 1, "SQLite"
    if not args.no_pg:
        from hub_fixtures import temporary_postgres

        pg = temporary_postgres()
        if pg.url:
            db_url, workers, engine = pg.fresh_database(), args.workers, "PostgreSQL"
        else:
            print(f"PostgreSQL not available ({pg.skip_reason}): SQLite, one worker", flush=True)
    tokens = kiosk_tokens(args.kiosks)
    proc, url = start_hub(db_url, workers, tmp, tokens)
    label = f"{engine}, {workers} worker{'s' if workers > 1 else ''}"
    try:
        idle_beat, idle_batch = idle_latency(url, tokens)
        print(f"idle: heartbeat {idle_beat * 1000:.1f} ms, batch {idle_batch * 1000:.1f} ms ({label})", flush=True)
        report = run_load(url, tokens, args.seconds, args.rate)
        offered = report.items_sent / args.seconds
        all_latencies = report.heartbeats + report.submissions
        print(f"load: {args.kiosks} kiosks, {len(report.heartbeats)} heartbeats, {len(report.submissions)} batches "
              f"({report.items_accepted}/{report.items_sent} items accepted) in {report.elapsed_s:.1f} s; "
              f"errors {report.errors or 0}; late starts {report.late}", flush=True)
        for name, samples in (("heartbeat", report.heartbeats), ("batch", report.submissions)):
            print(f"  {name}: p50 {pct_ms(samples, 0.5):.1f} ms, p99 {pct_ms(samples, 0.99):.1f} ms, n={len(samples)}")
        p99 = pct_ms(all_latencies, 0.99)
        emit(f"fleet load p99 ({args.kiosks} kiosks /30 s + {args.rate:g} items/s, {label})", p99, "ms",
             "< 200 ms, 0 errors", p99 < 200 and report.error_count == 0, pct_ms(all_latencies, 0.5),
             "p50 of the same run")
        emit(f"fleet load p50 ({label})", pct_ms(all_latencies, 0.5), "ms", "", None,
             (idle_beat + idle_batch) / 2 * 1000, "idle hub, one request at a time")
        emit(f"fleet load errors ({label})", report.error_count, "", "0", report.error_count == 0)
        stored = report.items_accepted / report.elapsed_s
        emit(f"fleet items stored /s ({label})", stored, "/s", "≥ 0.95× offered, all stored",
             stored >= 0.95 * offered and report.items_accepted == report.items_sent, offered, "items offered /s")
        if args.facts:
            seconds = seed_facts(db_url, tmp / "hub.key", args.facts)
            print(f"seeded {args.facts:,} facts in {seconds:.1f} s", flush=True)
            for name, ms in figures_time(url, db_url, tmp).items():
                print(f"  {name}: {ms:.0f} ms")
                emit(f"{name} over {args.facts:,} items ({engine})", ms, "ms", "< 2000 ms", ms < 2000)
    finally:
        stop_hub(proc)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
