"""Sync batches are bounded by bytes as well as by count (issue 20): a batch of large payloads is
posted in several requests, each under the byte bound, and nothing is lost or sent twice."""
from __future__ import annotations

import json

import httpx

from hub_fixtures import KIOSK, TOKEN, TOKENS, cipher, hub, store  # noqa: F401
from kiosk.services.sync import HubClient, Syncer, request_body, split_by_bytes, wire_size


def fill(store, n, size):
    return [store.enqueue(store.new_submission_id(), "enrol", KIOSK, {"n": i, "note": "王" * size}).id for i in range(n)]


def counting_client(bodies: list[bytes], fail_on: int | None = None) -> HubClient:
    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content)
        if fail_on is not None and len(bodies) == fail_on:
            return httpx.Response(503, json={"error": "storage_unavailable"})
        items = json.loads(request.content)["items"]
        return httpx.Response(200, json={"results": [{"id": i["id"], "result": "accepted"} for i in items]})
    return HubClient("http://hub.test", TOKEN, 2, transport=httpx.MockTransport(handler))


def test_wire_size_is_an_upper_bound_of_the_utf8_body():
    item = {"id": "x", "payload": {"name": "张三", "note": "é" * 50}}
    assert wire_size(item) >= len(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())


def test_large_payloads_are_split_into_requests_under_the_byte_bound(store):
    ids = fill(store, 30, 1000)  # ~3 KB each on the wire (escaped), ~90 KB in all
    bodies: list[bytes] = []
    report = Syncer(store, counting_client(bodies), batch_size=30, max_batch_bytes=20_000).drain()
    assert (report.sent, report.acked, report.error) == (30, 30, None)
    assert len(bodies) > 3 and all(len(b) <= 20_000 for b in bodies)
    sent = [i["id"] for b in bodies for i in json.loads(b)["items"]]
    assert sorted(sent) == sorted(ids) and len(set(sent)) == 30  # each exactly once, in claim order
    assert store.status().acked == 30


def test_an_item_bigger_than_the_bound_goes_alone(store):
    fill(store, 1, 5000)
    fill(store, 2, 10)
    bodies: list[bytes] = []
    report = Syncer(store, counting_client(bodies), batch_size=10, max_batch_bytes=4_000).drain()
    assert report.acked == 3
    assert [len(json.loads(b)["items"]) for b in bodies] == [1, 2]


def test_a_failed_request_leaves_the_rest_of_the_claim_pending(store):
    fill(store, 12, 1000)
    bodies: list[bytes] = []
    report = Syncer(store, counting_client(bodies, fail_on=2), batch_size=12, max_batch_bytes=15_000).sync_once()
    first = len(json.loads(bodies[0])["items"])
    assert len(bodies) == 2  # stopped at the failure: no more requests to a hub in trouble
    assert report.acked == first and report.error
    status = store.status()
    assert (status.acked, status.pending, status.sending) == (first, 12 - first, 0)


def test_split_keeps_order_and_drops_nothing():
    class E:
        def __init__(self, n: int) -> None:
            self.n = n

        def wire_json(self) -> bytes:
            return json.dumps({"id": str(self.n), "payload": "x" * (self.n * 37 % 300)}).encode()

    entries = [E(n) for n in range(200)]
    chunks = split_by_bytes(entries, 2_000)
    assert [i.entry.n for c in chunks for i in c] == list(range(200))
    bodies = [request_body([i.wire for i in c]) for c in chunks]
    assert all(len(b) <= 2_000 for b in bodies)
    assert [json.loads(b)["items"] for b in bodies] == [[json.loads(i.wire) for i in c] for c in chunks]
    full = [request_body([i.wire for i in c] + [nxt[0].wire]) for c, nxt in zip(chunks, chunks[1:])]
    assert all(len(b) > 2_000 for b in full)  # each request is as full as the bound allows


def test_the_wire_item_is_exactly_to_wire(store):
    """The pre-encoded item the Syncer posts decodes to the same object `to_wire()` gives."""
    payload = {"name": "张三", "emoji": "🙂", "quote": 'a"b\\c', "n": 1.5, "nested": {"z": [1, None, True]}}
    store.enqueue(store.new_submission_id(), "enrol", KIOSK, payload)
    entry = store.claim_batch(1).entries[0]
    assert json.loads(entry.wire_json()) == entry.to_wire()
    assert json.loads(entry.wire_json())["payload"] == payload


def test_a_string_that_is_not_unicode_still_reaches_the_hub_for_its_verdict():
    """A lone surrogate cannot be UTF-8: the wire item escapes it, as any JSON client would."""
    from kiosk.services.outbox import OutboxEntry
    entry = OutboxEntry(1, "0b0b0b0b-0000-4000-8000-000000000000", "enrol", "submission", KIOSK, "sending",
                        1.7e9, 1.7e9, 1, payload={"name": "\ud800张"})
    assert json.loads(entry.wire_json()) == entry.to_wire()


def claims_seen(store) -> list[int]:
    """The rows each claim of `store` took (the first claim and every prepared one), in order."""
    seen: list[int] = []
    claim = store.ack_and_claim

    def counted(acked_ids, limit):
        result = claim(acked_ids, limit)
        seen.append(len(result.entries))
        return result
    store.ack_and_claim = counted
    return seen


def test_a_retry_while_the_hub_is_away_claims_one_batch_not_two(store):
    """Issue 20: the pipelined drain claimed (decrypted, encoded) the next batch while the first
    was posted; with the hub away that batch was unclaimed untried at every retry, and it grew
    with the backlog up to a second full batch of heap."""
    ids = fill(store, 25, 10)
    seen = claims_seen(store)

    def away(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")
    report = Syncer(store, HubClient("http://hub.test", TOKEN, 2, transport=httpx.MockTransport(away)), batch_size=10).drain()
    assert "ConnectError" in (report.error or "")
    assert seen == [10]
    assert [store.get(i).attempts for i in ids] == [1] * 10 + [0] * 15
    assert store.status().pending == 25


def test_once_the_hub_answers_the_next_batch_is_prepared_while_one_is_posted(store):
    fill(store, 25, 10)
    seen = claims_seen(store)
    bodies: list[bytes] = []
    report = Syncer(store, counting_client(bodies, fail_on=2), batch_size=10).drain()
    assert report.acked == 10 and report.error
    assert seen[:2] == [10, 10] and len(seen) == 3  # a third claimed beside the second's post, given back untried
    status = store.status()
    assert (status.acked, status.pending, status.sending) == (10, 15, 0)
