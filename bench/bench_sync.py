"""Sync throughput and kept-alive latency, each beside its baseline in the same run (issue 20).

  .venv/bin/python bench/bench_sync.py [--n 4000] [--sweep 50,100,200,500] [--no-pg]

* sync → hub (SQLite, PostgreSQL): submissions/s acknowledged by a loopback hub (Syncer.drain
  with the default batch and byte bound), beside the hub store's own `insert_batch` rate on the
  same payloads and batch size — the part of sync no network or kiosk change can beat. The hub
  runs in its own process, as `kiosk hub serve` does (a hub thread inside the kiosk's process
  would share one GIL with it, a coupling no deployment has). Median of --repeat runs.
* batch sweep: the same on SQLite for several batch sizes (how DEFAULT_BATCH_SIZE was chosen).
* kept-alive vs fresh: a request on a kept-alive connection beside the same request on a new
  connection each time (kiosk → hub, kiosk → hall, browser → hall). Nagle meeting delayed ACKs
  made the kept-alive one ~40 ms (see kiosk/hub/server.py `_bind`).
"""
from __future__ import annotations

import argparse
import multiprocessing
import statistics
import sys
import tempfile
import time
import uuid
from contextlib import contextmanager
from pathlib import Path
from collections.abc import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))

import httpx  # noqa: E402

from figures import emit  # noqa: E402
from kiosk.hub.server import ready_to_serve, start_hub_in_thread  # noqa: E402
from kiosk.hub.store import HubItem, open_hub_store  # noqa: E402
from kiosk.services.crypto import FieldCipher  # noqa: E402
from kiosk.services.outbox import OutboxStore  # noqa: E402
from kiosk.services.sync import DEFAULT_BATCH_BYTES, DEFAULT_BATCH_SIZE, HubClient, Syncer  # noqa: E402

PAYLOAD = {"service": "enrol", "form_version": 1,
           "applicant": {"name": "张三", "id_number": "11010519491231002X", "source": "idcard", "birth_date": "1949-12-31"},
           "answers": {"phone": "13912345678", "scheme": "resident", "consent": True}}
TOKEN, KIOSK = "bench-token", "KIOSK-BENCH"


def store_rate(tmp: Path, db_url: str, n: int, batch: int) -> float:
    """The hub store alone: `insert_batch` of the same payloads in batches of the same size."""
    store = open_hub_store(db_url, tmp / "hub-keys" / "hub.key")
    items = [HubItem(str(uuid.uuid4()), KIOSK, "enrol", "submission", "2026-01-05T09:00:00Z", PAYLOAD) for _ in range(n)]
    start = time.perf_counter()
    for i in range(0, n, batch):
        store.insert_batch(items[i:i + batch])
    rate = n / (time.perf_counter() - start)
    store.close()
    return rate


def _serve_hub(db_url: str, key_file: str, conn) -> None:  # noqa: ANN001 (a Pipe end)
    """The hub process: serve until told to stop (made ready as `kiosk hub serve` makes it)."""
    with start_hub_in_thread(db_url, {TOKEN: KIOSK}, key_file=key_file, platform=None) as hub:
        ready_to_serve(hub.app)
        conn.send(hub.url)
        conn.recv()


@contextmanager
def hub_process(db_url: str, key_file: Path) -> Iterator[str]:
    """A loopback hub in its own (spawned) process; yields its URL."""
    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    proc = ctx.Process(target=_serve_hub, args=(db_url, str(key_file), child), name="bench-hub", daemon=True)
    proc.start()
    try:
        deadline = time.monotonic() + 60
        while not parent.poll(0.1):
            if not proc.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the hub process did not start (exit code {proc.exitcode})")
        yield parent.recv()
    finally:
        try:
            parent.send("stop")
        except OSError:
            pass
        proc.join(15)
        if proc.is_alive():
            proc.kill()
            proc.join()


def sync_rate(tmp: Path, db_url: str, n: int, batch: int) -> float:
    path = tmp / f"outbox-{uuid.uuid4().hex[:8]}.sqlite3"
    store = OutboxStore(path, FieldCipher.load_or_create(tmp / "keys" / "outbox.key"))
    for _ in range(n):
        store.enqueue(store.new_submission_id(), "enrol", KIOSK, PAYLOAD)
    with hub_process(db_url, tmp / "hub-keys" / "hub.key") as url:
        client = HubClient(url, TOKEN, 30)
        start = time.perf_counter()
        report = Syncer(store, client, batch, DEFAULT_BATCH_BYTES).drain()
        elapsed = time.perf_counter() - start
        client.close()
    assert report.acked == n and report.error is None, report
    store.close()
    return n / elapsed


def side_by_side(tmp: Path, label: str, fresh_db, n: int, batch: int, floor: float, repeat: int) -> None:
    """Store and sync alternately, `repeat` rounds; the table gets the round whose ratio is the
    median. Each round's pair ran back to back, so a load spike (PostgreSQL's own checkpoints, the
    shared machine) falls on both of its numbers; the median sync rate over the median store rate
    would pair numbers from different rounds."""
    rounds = []
    for _ in range(repeat):
        store = store_rate(tmp, fresh_db(), n, batch)
        sync = sync_rate(tmp, fresh_db(), n, batch)
        rounds.append((sync / store, sync, store))
        print(f"  {label}: sync {sync:,.0f} /s, store {store:,.0f} /s ({sync / store:.2f}×)", flush=True)
    _, rate, baseline = sorted(rounds)[len(rounds) // 2]
    emit(f"sync → {label} hub (batch {batch})", rate, "/s", f"≥ 0.5× store and ≥ {floor:,.0f} /s",
         rate >= 0.5 * baseline and rate >= floor, baseline,
         f"hub store insert_batch, same round; the median of {repeat} rounds by ratio")


def latency_ms(url: str, path: str, rounds: int, headers: dict[str, str] | None = None) -> tuple[float, float]:
    """(kept-alive median, fresh-connection median) for GET `path`, interleaved so load hits both alike."""
    kept, fresh = [], []
    with httpx.Client(base_url=url, headers=headers) as client:
        client.get(path)
        for _ in range(rounds):
            start = time.perf_counter()
            client.get(path)
            kept.append((time.perf_counter() - start) * 1000)
            with httpx.Client(base_url=url, headers=headers) as one:
                start = time.perf_counter()
                one.get(path)
                fresh.append((time.perf_counter() - start) * 1000)
    return statistics.median(kept), statistics.median(fresh)


def emit_latency(label: str, kept: float, fresh: float) -> None:
    emit(f"kept-alive request, {label}", kept, "ms", "≤ 2× fresh", kept <= 2 * fresh, fresh, "fresh connection")


def bench_latency(tmp: Path, rounds: int) -> None:
    with start_hub_in_thread(str(tmp / "lat-hub.sqlite3"), {TOKEN: KIOSK}) as hub:
        kept, fresh = latency_ms(hub.url, "/v1/submissions/00000000-0000-0000-0000-000000000000", rounds,
                                 {"Authorization": f"Bearer {TOKEN}"})
        emit_latency("kiosk → hub", kept, fresh)
    try:
        from kiosk.config import load_config
        from kiosk.hall.server import open_hall, start_hall_in_thread

        config = load_config(environ={"KIOSK_DATA_DIR": str(tmp / "hall-data")})
        parts = open_hall(tmp / "hall.sqlite3", config, sync=False, housekeeping=False)
        hall = start_hall_in_thread(parts, {TOKEN: KIOSK})
    except Exception as exc:  # the hall is optional here; say why it was skipped
        print(f"  hall latency skipped: {type(exc).__name__}: {exc}")
        return
    try:
        kept, fresh = latency_ms(hall.url, "/api/health", rounds, {"Authorization": f"Bearer {TOKEN}"})
        emit_latency("kiosk → hall", kept, fresh)
        kept, fresh = latency_ms(hall.url, "/api/lobby", rounds)
        emit_latency("browser → hall", kept, fresh)
    finally:
        hall.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=4000, help="submissions per side-by-side measurement")
    parser.add_argument("--sweep", default="50,100,200,500", help="batch sizes to compare on SQLite ('' to skip)")
    parser.add_argument("--rounds", type=int, default=40, help="requests per latency measurement")
    parser.add_argument("--repeat", type=int, default=5, help="side-by-side rounds per hub (the median round is reported)")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-sync-") as d:
        tmp = Path(d)

        def sqlite_db() -> str:
            return str(tmp / f"hub-{uuid.uuid4().hex[:8]}.sqlite3")

        bench_latency(tmp, args.rounds)
        if args.sweep:
            print("batch sweep (SQLite hub, loopback): batch → sync /s, store /s, ratio")
            for batch in (int(b) for b in args.sweep.split(",")):
                n = max(batch * 5, args.n // 2)
                s, r = store_rate(tmp, sqlite_db(), n, batch), sync_rate(tmp, sqlite_db(), n, batch)
                print(f"  {batch:5d} → {r:7.0f} /s   {s:7.0f} /s   {r / s:5.0%}", flush=True)
        side_by_side(tmp, "SQLite", sqlite_db, args.n, DEFAULT_BATCH_SIZE, 5000, args.repeat)
        if args.no_pg:
            print("  PostgreSQL skipped (--no-pg)")
            return 0
        from hub_fixtures import temporary_postgres

        pg = temporary_postgres()
        if not pg.url:
            print(f"  PostgreSQL skipped: {pg.skip_reason}")
            return 0
        try:
            side_by_side(tmp, "PostgreSQL", pg.fresh_database, args.n, DEFAULT_BATCH_SIZE, 3000, args.repeat)
        finally:
            pg.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
