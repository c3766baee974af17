"""Crash test: a kiosk process enqueues and syncs while being SIGKILLed at random moments and
restarted, talking to the hub through a proxy that drops replies after the hub committed,
answers 500, returns garbage or stalls. At the end every submission the process reported as
committed is on the hub exactly once, and nothing stored is on the hub twice or missing.

Run as a script (`python tests/test_crash.py DIR URL COUNT SEED`) it is the kiosk process.
"""
from __future__ import annotations

import os
import random
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

TOKEN, KIOSK = "crash-token", "KIOSK-CRASH"
UUID_LINE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def kiosk_process(data_dir: str, url: str, count: int, seed: int) -> int:
    import httpx

    from kiosk.services.crypto import FieldCipher
    from kiosk.services.outbox import OutboxStore
    from kiosk.services.sync import HubClient, Syncer, SyncWorker

    rng = random.Random(seed)
    store = OutboxStore(Path(data_dir) / "outbox.sqlite3", FieldCipher.load_or_create(Path(data_dir) / "keys" / "outbox.key"))
    if store.recovered_from:
        print(f"RECOVERED {store.recovered_from}", file=sys.stderr, flush=True)
        return 3
    # one request per connection, so the proxy draws a fault for every request
    transport = httpx.HTTPTransport(limits=httpx.Limits(max_keepalive_connections=0))
    client = HubClient(url, TOKEN, timeout_s=1.0, transport=transport)
    worker = SyncWorker(Syncer(store, client, batch_size=rng.choice([1, 7, 25, 50])), base_s=0.02, cap_s=0.3,
                        rng=rng, idle_s=0.1, heartbeat_s=1.0)
    worker.start()
    for i in range(count):
        sid = store.new_submission_id()
        store.enqueue(sid, rng.choice(["enrol", "transfer", "newborn"]), KIOSK,
                      {"n": i, "seed": seed, "applicant": {"name": "测试", "id_number": "11010519491231002X"}})
        print(sid, flush=True)  # only now may the screen say 提交成功
        if i % 10 == 0:
            worker.wake()
        time.sleep(rng.uniform(0, 0.004))  # the workload: a resident every few ms (not a wait)
    while True:  # keep syncing until killed, or until drained when told to finish
        s = store.status()
        if count == 0 and s.pending == 0 and s.sending == 0:
            worker.stop()
            print("DRAINED", flush=True)
            return 0
        worker.wake()
        time.sleep(0.05)  # the kiosk process's own sync loop (the test waits on its output)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    sys.exit(kiosk_process(sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])))


# -- the test ----------------------------------------------------------------------------------
import pytest  # noqa: E402

from hub_fixtures import FaultProxy  # noqa: E402

TARGET = 3000
CHAOS_S = 25.0
MIN_REPORTED = 1000


def _spawn(data_dir: Path, url: str, count: int, seed: int) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}
    return subprocess.Popen([sys.executable, __file__, str(data_dir), url, str(count), str(seed)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)


def _reported(stdout: str) -> list[str]:
    # a line is a report only if it was written whole (the id and its newline)
    return [line for line in stdout.split("\n")[:-1] if UUID_LINE.match(line)]


@pytest.mark.slow
def test_sigkill_and_network_faults_never_lose_or_duplicate(tmp_path):
    from kiosk.hub.server import start_hub_in_thread
    from kiosk.hub.store import SqliteHubStore

    class CountingStore(SqliteHubStore):
        outcomes: dict[str, int] = {}

        def insert_batch(self, items):
            results = super().insert_batch(items)
            for r in results:
                self.outcomes[r.result] = self.outcomes.get(r.result, 0) + 1
            return results

    hub_store = CountingStore(tmp_path / "hub.sqlite3")
    hub = start_hub_in_thread(hub_store, {TOKEN: KIOSK})
    proxy = FaultProxy(int(hub.url.rsplit(":", 1)[1]), stall_s=1.5, seed=42,
                       weights={"pass": 0.45, "drop": 0.2, "error500": 0.12, "fail500": 0.08, "garbage": 0.05, "stall": 0.1})
    data_dir = tmp_path / "kiosk"
    rng = random.Random(1234)
    reported: list[str] = []
    kills = 0
    try:
        # chaos for CHAOS_S, longer (bounded) on a loaded machine until enough submissions were made
        start = time.monotonic()
        run = 0
        while (time.monotonic() < start + CHAOS_S or len(reported) < MIN_REPORTED) and time.monotonic() < start + 4 * CHAOS_S:
            run += 1
            proc = _spawn(data_dir, proxy.url, max(0, TARGET - len(reported)), seed=run)
            time.sleep(rng.uniform(0.3, 1.6))  # the chaos: kill -9 at a random moment (not a wait)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                kills += 1
            out, err = proc.communicate(timeout=10)
            assert proc.returncode in (-signal.SIGKILL, 0), f"kiosk process failed on its own:\n{err[-2000:]}"
            assert "Traceback" not in err, err[-2000:]
            reported += _reported(out)

        # the network heals; a last, unkilled run drains the queue
        proxy.weights = {"pass": 1.0}
        proc = _spawn(data_dir, proxy.url, 0, seed=0)
        out, err = proc.communicate(timeout=40)
        assert proc.returncode == 0 and "DRAINED" in out, err[-2000:]

        from kiosk.services.crypto import FieldCipher
        from kiosk.services.outbox import OutboxStore
        local = OutboxStore(data_dir / "outbox.sqlite3", FieldCipher.load_or_create(data_dir / "keys" / "outbox.key"))
        assert local.recovered_from is None
        status = local.status()
        local_entries = local.list(limit=10 ** 6)
        local_ids = {e.id for e in local_entries}
        hub_ids = hub.store.ids()

        assert len(reported) == len(set(reported)) >= MIN_REPORTED, f"only {len(reported)} submissions in {kills} kills"
        assert kills >= 10
        assert (status.pending, status.sending, status.quarantined) == (0, 0, 0)
        assert set(reported) <= local_ids  # committed before it was reported: survives SIGKILL
        assert len(hub_ids) == len(set(hub_ids))  # exactly once
        assert set(hub_ids) == local_ids  # every stored submission arrived; nothing else did
        assert hub.store.stats()["total"] == len(local_ids)
        for e in rng.sample(local_entries, 50):  # and arrived intact
            assert hub.store.payload(e.id) == local.get(e.id).payload
        local.close()
        # the faults really happened: replies were lost after commit, so resends were answered "duplicate"
        assert proxy.counts["drop"] > 0 and proxy.counts["error500"] > 0 and proxy.counts["stall"] > 0
        assert CountingStore.outcomes.get("duplicate", 0) > 0
        assert CountingStore.outcomes.get("rejected", 0) == 0
        print(f"\ncrash test: {len(reported)} reported, {len(local_ids)} stored, {kills} SIGKILLs, "
              f"proxy faults {proxy.counts}, hub outcomes {CountingStore.outcomes}")
    finally:
        proxy.close()
        hub.stop()
