"""The outbox's set-based updates keep one statement text whatever the number of rows (issue 20):
a text per list length filled the connection's statement cache with a new prepared statement at
every retry while the hub was away and the backlog grew, ~4 MiB of SQLite heap."""
from __future__ import annotations

import re

from hub_fixtures import cipher, store  # noqa: F401  (fixtures)

PAYLOAD = {"answers": {"phone": "13912345678"}}


def _shape(sql: str) -> str:
    """The statement with its bound values (expanded by SQLite in the trace) taken out."""
    sql = re.sub(r"'(?:[^']|'')*'", "?", sql)
    return re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", "?", sql)


def test_claims_and_releases_of_every_length_use_the_same_statements(store):  # noqa: F811 (fixture)
    ids = [store.new_submission_id() for _ in range(40)]
    for sid in ids:
        store.enqueue(sid, "enrol", "K1", PAYLOAD)
    seen: list[str] = []
    store._conn.set_trace_callback(seen.append)
    try:
        for n in range(1, 41):  # the backlog one longer at every retry, as with the hub away
            claim = store.claim_batch(n)
            assert len(claim.entries) == n
            assert store.release_sending([e.id for e in claim.entries], "hub away") == n
    finally:
        store._conn.set_trace_callback(None)
    updates = {_shape(sql) for sql in seen if sql.lstrip().upper().startswith("UPDATE")}
    assert len(updates) == 2, updates  # claim (→ sending) and release (→ pending), one text each


def test_more_ids_than_sqlite_has_parameters_in_one_update(store):  # noqa: F811 (fixture)
    ids = [store.new_submission_id() for _ in range(1200)]
    for sid in ids:
        store.enqueue(sid, "enrol", "K1", PAYLOAD)
    claim = store.claim_batch(1200)
    assert len(claim.entries) == 1200
    assert store.mark_acked(ids) == 1200
    assert store.status().acked == 1200
