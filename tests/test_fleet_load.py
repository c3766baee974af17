"""Issue 18: a small, bounded version of bench/bench_fleet.py — simulated kiosks heartbeating
and sending small batches to a loopback hub for ~3 s: no error, every item stored exactly once,
every kiosk that was due a heartbeat is on the fleet page's table."""
from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))

from bench_fleet import HEARTBEAT_S, kiosk_tokens, run_load, schedule  # noqa: E402

from kiosk.hub.server import start_hub_in_thread  # noqa: E402


def test_a_small_fleet_load_is_stored_exactly_once_without_errors(tmp_path: Path) -> None:
    tokens = kiosk_tokens(300)
    seconds, rate = 3.0, 40.0
    with start_hub_in_thread(str(tmp_path / "hub.sqlite3"), tokens, platform=None) as hub:
        report = run_load(hub.url, tokens, seconds, rate, seed=3, max_requests=2000, connections=20, timeout_s=20)
        assert report.error_count == 0, report.errors
        assert report.items_sent > 0 and report.items_accepted == report.items_sent
        assert report.elapsed_s < seconds + 20  # bounded
        assert len(hub.store.ids()) == report.items_sent  # each item once
        due = {k for t, kind, k in schedule(list(tokens.items()), seconds, rate, 3) if kind == "heartbeat"}
        with hub.store.transaction() as cur:
            cur.execute("SELECT COUNT(*) FROM kiosk_heartbeats")
            assert cur.fetchone()[0] == len(due) == len(report.heartbeats)
    assert HEARTBEAT_S == 30.0
