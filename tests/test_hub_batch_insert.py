"""The hub store's batch insert (issue 20): PostgreSQL stores a batch in one set-based statement,
SQLite row by row; both must answer every item exactly alike — accepted once, a replay with the
same content a duplicate, other content rejected with the original kept, a repeated id within a
batch answered against its first copy — and write one figures row per stored item."""
from __future__ import annotations

import threading
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_fixtures import KIOSK, OTHER_KIOSK, pg_url  # noqa: F401  (fixture)
from kiosk.hub.store import HubItem, open_hub_store


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub_store(request, tmp_path):
    url = str(tmp_path / "hub.sqlite3") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = open_hub_store(url, tmp_path / "hub-keys" / "hub.key")
    yield store
    store.close()


def submission(sid: str, payload: dict, kiosk: str = KIOSK) -> HubItem:
    return HubItem(sid, kiosk, "enrol", "submission", "2026-01-02T03:04:05Z", payload)


def facts_count(store, sid: str) -> int:
    with store.transaction() as cur:
        cur.execute(store.sql("SELECT COUNT(*) FROM submission_facts WHERE id = ?"), (sid,))
        return cur.fetchone()[0]


def results(outcomes) -> list[tuple[str, str | None]]:
    return [(o.result, o.reason) for o in outcomes]


def test_repeats_within_and_across_batches_are_answered_against_what_is_stored(hub_store):
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    original, other = {"applicant": {"name": "张三", "id_number": "11010519491231002X"}}, {"n": 2}
    batch = [submission(a, original), submission(a, original), submission(a, other), submission(b, other),
             submission(a, original, OTHER_KIOSK)]
    assert results(hub_store.insert_batch(batch)) == [
        ("accepted", None), ("duplicate", None), ("rejected", "conflict"), ("accepted", None), ("accepted", None)]
    # the stored row decides, whatever the order in a later batch
    assert results(hub_store.insert_batch([submission(a, other), submission(a, original), submission(b, other)])) == [
        ("rejected", "conflict"), ("duplicate", None), ("duplicate", None)]
    assert hub_store.payload(a, KIOSK) == original and hub_store.payload(b, KIOSK) == other
    assert hub_store.stats()["total"] == 3
    assert facts_count(hub_store, a) == 2 and facts_count(hub_store, b) == 1  # one per stored row (two kiosks)
    assert hub_store.insert_batch([]) == []


def test_the_same_object_twice_is_one_row_and_one_duplicate(hub_store):
    item = submission(str(uuid.uuid4()), {"n": 1})
    assert results(hub_store.insert_batch([item, item])) == [("accepted", None), ("duplicate", None)]
    assert hub_store.ids().count(item.id) == 1


def test_ticket_facts_keep_their_numbers(hub_store):
    ticket = HubItem(str(uuid.uuid4()), KIOSK, "hall_ticket", "event", "2026-01-02T03:04:05Z",
                     {"event": "ticket_finished", "service": "enrol", "band": "A", "outcome": "done",
                      "waiting_s": 61.5, "handling_s": 120, "submission_id": str(uuid.uuid4())})
    rating = HubItem(str(uuid.uuid4()), KIOSK, "enrol", "rating", "2026-01-02T03:04:05Z", {"score": 4})
    assert results(hub_store.insert_batch([ticket, rating])) == [("accepted", None)] * 2
    with hub_store.transaction() as cur:
        cur.execute(hub_store.sql("SELECT id, category, service, band, outcome, waiting_s, handling_s, score "
                                  "FROM submission_facts ORDER BY category"))
        rows = cur.fetchall()
    assert [tuple(r) for r in rows] == [(rating.id, "rating", "enrol", None, None, None, None, 4),
                                        (ticket.id, "ticket", "enrol", "A", "done", 61.5, 120.0, None)]


@pytest.mark.postgres
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1), st.integers(0, 1)),
                                 max_size=8), min_size=1, max_size=3))
def test_postgresql_answers_exactly_as_sqlite_row_by_row(tmp_path, pg_url, batches):
    """Random batches over a few ids, two kiosks and two contents: the set-based statement and the
    row-by-row loop give the same answers and keep the same payloads."""
    stores = [open_hub_store(str(tmp_path / "hub.sqlite3"), tmp_path / "k1" / "hub.key"),
              open_hub_store(pg_url, tmp_path / "k2" / "hub.key")]
    run = uuid.uuid4().hex[:8]  # both databases outlive one example: fresh ids each time
    try:
        ids = [f"{run}-{n}" for n in range(4)]
        for batch in batches:
            items = [submission(ids[i], {"content": c}, (KIOSK, OTHER_KIOSK)[k]) for i, k, c in batch]
            sqlite_answer, pg_answer = (results(s.insert_batch(items)) for s in stores)
            assert pg_answer == sqlite_answer
        for sid in ids:
            for kiosk in (KIOSK, OTHER_KIOSK):
                assert stores[1].payload(sid, kiosk) == stores[0].payload(sid, kiosk)
    finally:
        for s in stores:
            s.close()


@pytest.mark.postgres
def test_a_row_another_hub_commits_meanwhile_is_a_duplicate_not_lost(pg_url, tmp_path):
    """Two hub processes on one database: the batch waits on the other's uncommitted row, which its
    snapshot does not show; the answer still comes from the row stored in the end."""
    import psycopg

    key_file = tmp_path / "hub-keys" / "hub.key"
    store, other = open_hub_store(pg_url, key_file), open_hub_store(pg_url, key_file)
    try:
        item = submission(str(uuid.uuid4()), {"n": 1})
        with other.transaction() as cur:  # the other hub's batch, left open
            other._insert_new(cur, [item], [other._row(item, 0.0)])
            answer: list = []
            worker = threading.Thread(target=lambda: answer.extend(store.insert_batch([item])))
            worker.start()
            with psycopg.connect(pg_url, autocommit=True) as watch:  # until our statement waits on that row
                for _ in range(2000):
                    waiting = watch.execute("SELECT COUNT(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                                            "AND datname = current_database()").fetchone()[0]
                    if waiting or not worker.is_alive():
                        break
                    threading.Event().wait(0.005)
                assert waiting, "the batch did not wait on the other hub's row"
        worker.join(30)
        assert results(answer) == [("duplicate", None)]
        assert store.ids().count(item.id) == 1 and facts_count(store, item.id) == 1
    finally:
        store.close()
        other.close()
