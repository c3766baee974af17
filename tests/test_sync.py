"""Sync: the ack rule (only a 2xx naming the id), quarantine, hostile replies, backoff, worker."""
from __future__ import annotations

import json
import random
import threading
import time

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from waiting import wait_until

from hub_fixtures import KIOSK, TOKEN, TOKENS, cipher, hub, store  # noqa: F401
from kiosk.hub.server import start_hub_in_thread
from kiosk.services.sync import HubClient, HubError, HubNotFound, Syncer, SyncStatus, SyncWorker


def fill(store, n, service="enrol"):
    return [store.enqueue(store.new_submission_id(), service, KIOSK, {"n": i, "name": "王伟"}).id for i in range(n)]


def mock_client(handler):
    return HubClient("http://hub.test", TOKEN, 2, transport=httpx.MockTransport(handler))


def test_drain_acks_everything_and_a_resend_after_a_crash_is_a_duplicate(store, hub):
    ids = fill(store, 120)
    client = HubClient(hub.url, TOKEN, 5)
    syncer = Syncer(store, client, batch_size=50)
    report = syncer.drain()
    assert (report.sent, report.acked, report.error) == (120, 120, None)
    assert store.status().acked == 120 and hub.store.stats()["total"] == 120
    # a crash after the hub committed but before we marked acked: rows come back as pending
    more = fill(store, 5)
    batch = store.next_batch(10)
    client.post_batch([e.to_wire() for e in batch])
    store.release_sending()
    report = syncer.drain()
    assert (report.acked, report.duplicates) == (5, 5)
    assert set(hub.store.ids()) == set(ids + more)


def test_rejected_item_is_quarantined_with_the_hubs_reason_and_can_be_retried(store, hub):
    (sid,) = fill(store, 1)
    client = HubClient(hub.url, TOKEN, 5)
    tampered = store.get(sid).to_wire() | {"payload": {"different": True}}
    client.post_batch([tampered])  # someone else got this id to the hub first, with other content
    report = Syncer(store, client).sync_once()
    assert report.quarantined == 1
    (entry,) = store.list("quarantined")
    assert entry.reason == "conflict"
    assert store.retry_quarantined([sid]) == 1 and store.status().pending == 1


def test_one_invalid_item_does_not_block_its_batch(store, hub):
    good = fill(store, 3)
    bad = store.enqueue(store.new_submission_id(), "Not A Code!", KIOSK, {}).id  # the hub refuses this service code
    good += fill(store, 2)
    report = Syncer(store, HubClient(hub.url, TOKEN, 5), batch_size=10).drain()
    assert report.acked == 5 and report.quarantined == 1
    assert store.get(bad).state == "quarantined" and "422" in store.get(bad).reason
    assert all(store.get(i).state == "acked" for i in good)


HOSTILE_REPLIES = [
    httpx.Response(500, json={"results": "whatever"}),
    httpx.Response(503, text="down"),
    httpx.Response(200, text="<html>captive portal</html>"),
    httpx.Response(200, json=[]),
    httpx.Response(200, json={"results": None}),
    httpx.Response(200, json={"results": [{"id": 1, "result": "accepted"}]}),
    httpx.Response(200, json={"results": [{"id": "someone-else", "result": "accepted"}]}),
    httpx.Response(200, json={"results": [{"result": "accepted"}]}),
    httpx.Response(401, json={"error": "unauthorized"}),
    httpx.Response(302, headers={"Location": "http://elsewhere"}),
    httpx.Response(200, content=b"\xff" * 100, headers={"Content-Type": "application/json"}),
]


@pytest.mark.parametrize("reply", HOSTILE_REPLIES, ids=range(len(HOSTILE_REPLIES)))
def test_hostile_replies_leave_rows_pending(store, reply):
    fill(store, 3)
    report = Syncer(store, mock_client(lambda request: reply)).sync_once()
    assert report.error and report.acked == 0
    s = store.status()
    assert (s.pending, s.sending, s.acked, s.quarantined) == (3, 0, 0, 0)


def test_acks_only_the_ids_the_reply_names(store):
    ids = fill(store, 4)

    def handler(request):
        items = json.loads(request.content)["items"]
        return httpx.Response(200, json={"results": [{"id": items[0]["id"], "result": "accepted"},
                                                     {"id": items[1]["id"], "result": "maybe"}]})
    report = Syncer(store, mock_client(handler)).sync_once()
    assert report.acked == 1 and report.error
    assert store.get(ids[0]).state == "acked"
    assert [store.get(i).state for i in ids[1:]] == ["pending"] * 3


def test_transport_errors_leave_rows_pending(store):
    fill(store, 2)

    def boom(request):
        raise httpx.ConnectError("connection refused")
    report = Syncer(store, mock_client(boom)).sync_once()
    assert "ConnectError" in report.error and store.status().pending == 2


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(status=st.sampled_from([200, 201, 204, 400, 404, 409, 422, 500, 502]),
       body=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=10),
                         lambda c: st.lists(c, max_size=3) | st.dictionaries(st.sampled_from(["results", "id", "result", "reason", "x"]), c, max_size=3),
                         max_leaves=12))
def test_random_replies_never_crash_or_ack_wrongly(store, status, body):
    store.release_sending()
    store.retry_quarantined()
    if store.status().pending == 0:
        fill(store, 2)
    report = Syncer(store, mock_client(lambda request: httpx.Response(status, json=body))).sync_once()
    assert report.acked == 0  # a random reply never names our fresh uuids
    assert store.status().acked == 0 and store.status().sending == 0


def test_client_round_trips_against_the_hub(hub):
    client = HubClient(hub.url, TOKEN, 5)
    assert client.health()["status"] == "ok"
    assert client.resolve_voucher("YBPZ-DEMO-11010519491231002X")["id_number"] == "11010519491231002X"
    with pytest.raises(HubNotFound):
        client.resolve_voucher("nobody")
    from kiosk.hub import demo

    resident = "360426199101010071"
    with pytest.raises(HubError, match="evidence_required"):  # a typed-in number alone is refused
        client.person_record(resident)
    evidence = {"sscard_number": demo.card_register(resident)["sscard_number"]}
    assert client.person_record(resident, evidence)["region"] == "江西省"
    with pytest.raises(HubNotFound):
        client.get_submission("9b2e0f7e-2c1a-4f6a-8a39-000000000000")


def test_backoff_is_full_jitter_capped():
    worker = SyncWorker(Syncer(None, None), base_s=1.0, cap_s=60.0, rng=random.Random(7), idle_s=30)
    assert worker.next_delay() == 30
    for failures, bound in ((1, 2), (3, 8), (5, 32), (10, 60), (100, 60)):
        worker.failures = failures
        delays = [worker.next_delay() for _ in range(300)]
        assert 0 <= min(delays) and max(delays) <= bound
        assert max(delays) > bound * 0.8 and min(delays) < bound * 0.2  # spread over the whole range


def test_worker_goes_offline_then_syncs_at_once_when_woken(store, tmp_path):
    statuses: list[SyncStatus] = []
    seen = threading.Event()
    hub = start_hub_in_thread(str(tmp_path / "h.sqlite3"), TOKENS)
    url = hub.url
    hub.stop()  # the network is down
    fill(store, 3)
    worker = SyncWorker(Syncer(store, HubClient(url, TOKEN, 1)), base_s=30, cap_s=30,
                        on_status=lambda s: (statuses.append(s), seen.set()), rng=random.Random(1), heartbeat_s=0.2)
    worker.rng = random.Random(1)
    worker.start()
    try:
        assert seen.wait(5)
        assert statuses[-1].online is False and statuses[-1].pending == 3 and statuses[-1].last_error
        assert statuses[-1].oldest_pending_age_s >= 0
        port = int(url.rsplit(":", 1)[1])
        hub = start_hub_in_thread(str(tmp_path / "h.sqlite3"), TOKENS, port=port)  # network back
        worker.wake()
        wait_until(lambda: statuses and statuses[-1].online and statuses[-1].pending == 0, 5, what="online, all sent")
        assert statuses[-1].online is True and statuses[-1].pending == 0 and statuses[-1].last_sync_at
        assert hub.store.stats()["total"] == 3
        n = len(statuses)
        wait_until(lambda: len(statuses) > n, 5, what="a heartbeat while idle")  # heartbeat keeps coming
    finally:
        worker.stop()
        hub.stop()
    assert not worker.is_alive()


def test_worker_releases_rows_left_sending_by_a_crash(store, hub):
    fill(store, 4)
    store.next_batch(4)  # the previous process died mid-send
    done = threading.Event()
    worker = SyncWorker(Syncer(store, HubClient(hub.url, TOKEN, 5)),
                        on_status=lambda s: done.set() if s.pending == 0 else None, heartbeat_s=0.1)
    worker.start()
    try:
        assert done.wait(5)
    finally:
        worker.stop()
    assert store.status().acked == 4


def test_self_tests_for_diag(store, hub):
    from drivers.diagnostics import CheckStatus

    assert HubClient(hub.url, TOKEN, 5).self_test().status is CheckStatus.OK
    assert HubClient("http://127.0.0.1:9", TOKEN, 1).self_test().status is CheckStatus.ERROR
    ids = fill(store, 2)
    assert store.self_test().status is CheckStatus.OK and store.self_test().data["pending"] == 2
    store.next_batch(1)
    store.quarantine(ids[0], "conflict")
    check = store.self_test()
    assert check.status is CheckStatus.DEGRADED and "quarantined" in check.detail
    assert "王伟" not in json.dumps(check.to_json(), ensure_ascii=False)


# -- identity errors pause the whole sync; only per-item verdicts quarantine (issue 13) --------
@pytest.mark.parametrize("status", [401, 403])
def test_auth_failure_pauses_sync_and_leaves_items_pending(store, status):
    from kiosk.services.diagnostics import check_outbox

    ids = fill(store, 5)
    calls = []

    def refuse(request):
        calls.append(request)
        return httpx.Response(status, json={"error": "unauthorized" if status == 401 else "forbidden"})

    report = Syncer(store, mock_client(refuse), batch_size=2).drain()
    assert report.config_error and report.error and f"HTTP {status}" in report.config_error
    assert len(calls) == 1  # paused at the first refusal, not hammered batch after batch
    assert store.status().pending == 5 and store.status().quarantined == 0
    assert "token" in store.sync_paused() or "enrolled" in store.sync_paused()
    (check,) = check_outbox(None, store)  # diag (another process) sees the pause and says what to fix
    assert check.status.value == "error" and "hub.token" in check.detail
    ok = Syncer(store, mock_client(lambda r: httpx.Response(
        200, json={"results": [{"id": i["id"], "result": "accepted"} for i in json.loads(r.content)["items"]]})), batch_size=10)
    assert ok.drain().acked == 5 and store.sync_paused() is None
    assert {e.id for e in store.list("acked")} == set(ids)


def test_kiosk_mismatch_pauses_sync_instead_of_quarantining_everything(store, hub):
    from hub_fixtures import OTHER_TOKEN

    ids = fill(store, 4)  # written as KIOSK, sent with another kiosk's token
    report = Syncer(store, HubClient(hub.url, OTHER_TOKEN, 5), batch_size=10).drain()
    assert report.config_error and "kiosk_mismatch" in report.config_error and "kiosk.id" in report.config_error
    assert report.quarantined == 0 and store.status().quarantined == 0
    assert store.status().pending == 4 and hub.store.stats()["total"] == 0
    report = Syncer(store, HubClient(hub.url, TOKEN, 5), batch_size=10).drain()  # configuration fixed
    assert report.acked == 4 and store.sync_paused() is None
    assert set(hub.store.ids()) == set(ids)


def test_worker_reports_a_config_error_and_waits_the_cap(store, hub):
    fill(store, 2)
    statuses: list[SyncStatus] = []
    seen = threading.Event()
    worker = SyncWorker(Syncer(store, HubClient(hub.url, "not-a-token", 5)), base_s=0.01, cap_s=60,
                        on_status=lambda s: (statuses.append(s), seen.set()), heartbeat_s=0.1)
    worker.start()
    try:
        assert seen.wait(5)
        status = statuses[-1]
        assert status.config_error and "HTTP 401" in status.config_error and status.pending == 2
        assert worker.next_delay() == 60  # paused, not a tight retry loop
    finally:
        worker.stop()
    assert store.status().quarantined == 0
