"""The hub: idempotent intake on SQLite and PostgreSQL, tokens, hostile input, demo resolvers."""
from __future__ import annotations

import json
import socket
import uuid

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub_fixtures import KIOSK, OTHER_KIOSK, OTHER_TOKEN, TOKEN, TOKENS, hub, pg_url  # noqa: F401
from kiosk.hub.server import read_tokens_file, start_hub_in_thread
from kiosk.hub.store import HubItem, open_hub_store

AUTH = {"Authorization": f"Bearer {TOKEN}"}
NAME, ID_NUMBER = "张三", "360426199101010071"


def item(**over):
    base = {"id": str(uuid.uuid4()), "service": "enrol", "kind": "submission", "created_at": "2026-01-02T03:04:05.000Z",
            "payload": {"applicant": {"name": NAME, "id_number": ID_NUMBER}}}
    return {**base, **over}


def post(h, body, headers=AUTH, **kw):
    return httpx.post(h.url + "/v1/submissions", json=body, headers=headers, **kw)


@pytest.fixture
def key_file(tmp_path):
    return tmp_path / "hub-keys" / "hub.key"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def hub_store_url(request, tmp_path):
    if request.param == "sqlite":
        return str(tmp_path / "hub.sqlite3")
    return request.getfixturevalue("pg_url")


def test_store_accepts_once_answers_duplicates_and_keeps_the_original(hub_store_url, key_file):
    store = open_hub_store(hub_store_url, key_file)
    try:
        a = HubItem(str(uuid.uuid4()), KIOSK, "enrol", "submission", "2026-01-01T00:00:00Z", {"n": 1, "名": NAME})
        b = HubItem(str(uuid.uuid4()), KIOSK, "transfer", "rating", "2026-01-01T00:00:00Z", {"stars": 5})
        assert [o.result for o in store.insert_batch([a, b])] == ["accepted", "accepted"]
        assert [o.result for o in store.insert_batch([a])] == ["duplicate"]
        changed = HubItem(a.id, KIOSK, "enrol", "submission", "2026-01-01T00:00:00Z", {"n": 2})
        assert store.insert_batch([changed])[0].to_json() == {"id": a.id, "result": "rejected", "reason": "conflict"}
        # ids are scoped per kiosk: the same UUID from another kiosk is its own record
        same_id = HubItem(a.id, OTHER_KIOSK, "enrol", "submission", "2026-01-01T00:00:00Z", {"n": 3})
        assert store.insert_batch([same_id])[0].result == "accepted"
        assert store.payload(a.id, KIOSK) == {"n": 1, "名": NAME} and store.payload(a.id, OTHER_KIOSK) == {"n": 3}
        assert store.stats(KIOSK) == {"total": 2, "kiosks": {KIOSK: {"total": 2, "by_service": {"enrol": 1, "transfer": 1}}}}
        assert store.stats()["total"] == 3
        assert store.get(a.id, KIOSK)["kiosk_id"] == KIOSK and store.get("nope") is None
        assert store.get(b.id, OTHER_KIOSK) is None
        store.add_token("KIOSK-DB", "db-token")
        from kiosk.hub.store import token_hash
        assert store.kiosk_for_token_hash(token_hash("db-token")) == "KIOSK-DB"
        assert store.ping()
    finally:
        store.close()


def test_http_round_trip_on_both_databases(hub_store_url, key_file):
    with start_hub_in_thread(hub_store_url, TOKENS, key_file=key_file) as h:
        items = [item() for _ in range(3)]
        r = post(h, {"items": items})
        assert r.status_code == 200
        assert [x["result"] for x in r.json()["results"]] == ["accepted"] * 3
        replay = post(h, {"items": items[:1] + [{**items[1], "payload": {"other": 1}}]})
        assert replay.json()["results"] == [{"id": items[0]["id"], "result": "duplicate"},
                                            {"id": items[1]["id"], "result": "rejected", "reason": "conflict"}]
        got = httpx.get(f"{h.url}/v1/submissions/{items[1]['id']}", headers=AUTH).json()
        assert got["kiosk_id"] == KIOSK and got["service"] == "enrol" and "payload" not in got
        assert h.store.payload(items[1]["id"]) == items[1]["payload"]  # the original is kept
        stats = httpx.get(h.url + "/v1/stats", headers=AUTH).json()
        assert stats == {"total": 3, "kiosks": {KIOSK: {"total": 3, "by_service": {"enrol": 3}}}}
        assert httpx.get(h.url + "/v1/health").json()["status"] == "ok"
        nul = item(payload={"name": "a\u0000b"})
        assert post(h, {"items": [nul]}).json()["results"] == [{"id": nul["id"], "result": "rejected", "reason": "nul_character"}]
        huge = item(payload={"big": 2 ** 80, "deep": [[[[{"k": "值"}]]]]})
        assert post(h, {"items": [huge]}).json()["results"][0]["result"] == "accepted"
        assert h.store.payload(huge["id"]) == huge["payload"]


def test_unknown_or_missing_token_is_401_and_stores_nothing(hub):
    body = {"items": [item()]}
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"}, {"Authorization": "Bearer"}):
        r = post(hub, body, headers=headers)
        assert r.status_code == 401 and r.json() == {"error": "unauthorized"}
    assert httpx.get(hub.url + "/v1/stats", headers={"Authorization": "Bearer nope"}).status_code == 401
    assert hub.store.stats()["total"] == 0


def test_tokens_from_the_database_work(hub):
    hub.store.add_token("KIOSK-DB", "db-token")
    r = post(hub, {"items": [item()]}, headers={"Authorization": "Bearer db-token"})
    assert r.json()["results"][0]["result"] == "accepted"
    assert hub.store.stats()["kiosks"].keys() == {"KIOSK-DB"}


def test_a_kiosk_cannot_write_or_read_as_another(hub):
    mine = item()
    post(hub, {"items": [mine]})
    r = post(hub, {"items": [item(kiosk_id=KIOSK)]}, headers={"Authorization": f"Bearer {OTHER_TOKEN}"})
    assert r.json()["results"][0] == {"id": r.json()["results"][0]["id"], "result": "rejected", "reason": "kiosk_mismatch"}
    assert httpx.get(f"{hub.url}/v1/submissions/{mine['id']}", headers={"Authorization": f"Bearer {OTHER_TOKEN}"}).status_code == 404
    assert hub.store.stats()["total"] == 1


@pytest.mark.parametrize("content, status", [
    (b"{not json", 400),
    (b"\xff\xfe\x00", 400),
    (b'{"items": [{"id": NaN}]}', 400),
    (b"[" * 100_000 + b"]" * 100_000, 400),
    (b'{"items": []}', 422),
    (b'{"items": "all of them"}', 422),
    (b"[]", 422),
    (b'{"items": [{"payload": {"x": 1e400}}]}', 400),
    (b'{"items": [{"id": 5, "service": "enrol", "created_at": "x", "payload": {}}]}', 422),
])
def test_malformed_bodies_are_refused_cleanly(hub, content, status):
    r = httpx.post(hub.url + "/v1/submissions", content=content, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == status
    assert "error" in r.json()
    assert hub.store.stats()["total"] == 0


@pytest.mark.parametrize("bad", [
    {"id": "ABC"}, {"id": str(uuid.uuid4()).upper()}, {"service": "Enrol; DROP TABLE"}, {"kind": "delete"},
    {"created_at": "yesterday"}, {"payload": ["not", "an", "object"]}, {"payload": "x"}, {"created_at": 5},
])
def test_wrong_types_are_422_without_echoing_input(hub, bad):
    secret_item = item(**bad)
    r = post(hub, {"items": [secret_item]})
    assert r.status_code == 422
    assert NAME not in r.text and ID_NUMBER not in r.text
    assert hub.store.stats()["total"] == 0


def test_oversize_bodies_are_413_with_and_without_content_length(tmp_path):
    with start_hub_in_thread(str(tmp_path / "h.sqlite3"), TOKENS, max_body_bytes=10_000) as h:
        big = {"items": [item(payload={"blob": "x" * 20_000})]}
        assert post(h, big).status_code == 413

        def chunks():
            yield b'{"items": [{"payload": "'
            for _ in range(50):
                yield b"y" * 1000
            yield b'"}]}'
        r = httpx.post(h.url + "/v1/submissions", content=chunks(), headers=AUTH)
        assert r.status_code == 413
        assert h.store.stats()["total"] == 0
        assert post(h, {"items": [item()]}).status_code == 200  # still serving


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20) | st.floats(allow_nan=False, allow_infinity=False),
                         lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
                         max_leaves=20))
def test_random_json_never_gets_a_500(hub, body):
    r = httpx.post(hub.url + "/v1/submissions", json={"items": [body]} if isinstance(body, dict) else body, headers=AUTH)
    assert r.status_code in (200, 400, 422), r.text


def test_voucher_resolver_round_trip(hub):
    r = httpx.post(hub.url + "/v1/vouchers/resolve", json={"code": "YBPZ-DEMO-11010519491231002X"}, headers=AUTH)
    assert r.status_code == 200
    person = r.json()
    assert person["id_number"] == "11010519491231002X" and person["birth_date"] == "1949-12-31" and person["name"]
    assert person["sex"] == "女"
    for code in ("YBPZ-DEMO-110105194912310021", "hello", "YBPZ-DEMO-"):
        assert httpx.post(hub.url + "/v1/vouchers/resolve", json={"code": code}, headers=AUTH).status_code == 404
    assert httpx.post(hub.url + "/v1/vouchers/resolve", json={"code": 5}, headers=AUTH).status_code == 422
    assert httpx.post(hub.url + "/v1/vouchers/resolve", json={"code": "YBPZ-DEMO-11010519491231002X"}).status_code == 401


def test_person_record_is_deterministic(hub):
    from kiosk.hub import demo

    register = demo.card_register(ID_NUMBER)
    query = {"id_number": ID_NUMBER, "evidence": {k: register[k] for k in ("id_issuer", "id_valid_from", "id_valid_until")}}
    a = httpx.post(f"{hub.url}/v1/persons/record", json=query, headers=AUTH).json()
    b = httpx.post(f"{hub.url}/v1/persons/record", json=query, headers=AUTH).json()
    assert a == b
    assert a["insurance_type"] in ("城乡居民", "职工") and a["region"] == "江西省" and a["paid_until"].endswith("-12-31")
    assert isinstance(a["enrolled"], bool)
    assert httpx.post(f"{hub.url}/v1/persons/record", json={"id_number": "123"}, headers=AUTH).status_code == 422
    assert httpx.post(f"{hub.url}/v1/persons/record", json=["x"], headers=AUTH).status_code == 422


def test_hub_binds_loopback_only_by_default(hub):
    port = int(hub.url.rsplit(":", 1)[1])
    assert hub.url.startswith("http://127.0.0.1:")
    other = [a for a in {i[4][0] for i in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)} if not a.startswith("127.")]
    for addr in other:
        with pytest.raises(OSError):
            socket.create_connection((addr, port), timeout=1).close()


def test_tokens_file_format(tmp_path):
    path = tmp_path / "tokens"
    path.write_text("# kiosk tokens\nKIOSK-1 tok-a\n\nKIOSK-2   tok-b  # second\n", encoding="utf-8")
    assert read_tokens_file(path) == {"tok-a": "KIOSK-1", "tok-b": "KIOSK-2"}
    path.write_text("KIOSK-1\n")
    with pytest.raises(ValueError):
        read_tokens_file(path)
