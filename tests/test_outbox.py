"""Outbox: one durable transaction per submission, idempotent ids, encryption at rest,
corrupt-database recovery, retention purge, undo."""
from __future__ import annotations

import dataclasses
import json
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from hub_fixtures import cipher, store  # noqa: F401  (fixtures)
from kiosk.config import Config
from kiosk.services.crypto import DecryptError, FieldCipher, KeyFileError
from kiosk.services.outbox import (SCHEMA_VERSION, OutboxError, OutboxStore, SubmissionConflict, SubmissionNotFound,
                                   UndoRefused)
from kiosk.services.submissions import open_outbox, submit

NAME, ID_NUMBER = "欧阳娜娜", "11010519491231002X"
PAYLOAD = {"applicant": {"name": NAME, "id_number": ID_NUMBER}, "answers": {"phone": "13912345678"}}


class FakeClock:
    def __init__(self, t: float = 1_700_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def test_enqueue_is_committed_and_visible_to_another_connection(store):
    sid = store.new_submission_id()
    entry = store.enqueue(sid, "enrol", "K1", PAYLOAD)
    assert entry.state == "pending" and entry.payload == PAYLOAD
    # a separate connection (another process after a crash) sees both tables' rows
    with sqlite3.connect(store.db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM submissions WHERE id=?", (sid,)).fetchone()[0] == 1
        assert raw.execute("SELECT state FROM outbox").fetchall() == [("pending",)]
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_same_id_same_content_is_idempotent_and_different_content_is_refused(store):
    sid = store.new_submission_id()
    first = store.enqueue(sid, "enrol", "K1", PAYLOAD)
    again = store.enqueue(sid, "enrol", "K1", json.loads(json.dumps(PAYLOAD)))
    assert again.seq == first.seq
    with pytest.raises(SubmissionConflict) as exc:
        store.enqueue(sid, "enrol", "K1", {**PAYLOAD, "answers": {"phone": "13900000000"}})
    assert exc.value.code == "OUTBOX_CONFLICT"
    with pytest.raises(SubmissionConflict):
        store.enqueue(sid, "transfer", "K1", PAYLOAD)
    assert store.status().pending == 1
    assert store.get(sid).payload == PAYLOAD


def test_bad_arguments_write_nothing(store):
    with pytest.raises(ValueError):
        store.enqueue("not-a-uuid", "enrol", "K1", PAYLOAD)
    with pytest.raises(ValueError):
        store.enqueue(store.new_submission_id(), "enrol", "K1", PAYLOAD, kind="other")
    with pytest.raises(ValueError):
        store.enqueue(store.new_submission_id(), "enrol", "K1", {"x": float("nan")})
    assert store.status().pending == 0


def test_personal_data_is_not_in_the_database_files(store):
    for _ in range(20):
        store.enqueue(store.new_submission_id(), "enrol", "K1", PAYLOAD)
    store.next_batch(5)
    files = [p for p in store.db_path.parent.iterdir() if p.name.startswith("outbox.sqlite3")]
    assert any(p.name.endswith("-wal") for p in files)
    for path in files:
        raw = path.read_bytes()
        for secret in (NAME, ID_NUMBER, "13912345678"):
            assert secret.encode("utf-8") not in raw, f"{secret} in clear in {path.name}"
    assert stat.S_IMODE(store.db_path.stat().st_mode) == 0o600


def test_key_file_private_reused_and_never_silently_replaced(tmp_path: Path):
    key_path = tmp_path / "keys" / "outbox.key"
    c1 = FieldCipher.load_or_create(key_path)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(key_path.parent.stat().st_mode) == 0o700
    assert len(key_path.read_bytes()) == 32
    blob = c1.encrypt(PAYLOAD, "id-1")
    assert FieldCipher.load_or_create(key_path).decrypt(blob, "id-1") == PAYLOAD
    with pytest.raises(DecryptError):  # associated data binds a ciphertext to its row
        c1.decrypt(blob, "id-2")
    assert c1.encrypt(PAYLOAD, "id-1") != blob  # fresh nonce per record
    key_path.write_bytes(b"short")
    with pytest.raises(KeyFileError):
        FieldCipher.load_or_create(key_path)
    assert key_path.read_bytes() == b"short"


def test_key_creation_race_ends_with_one_key(tmp_path: Path):
    key_path = tmp_path / "k" / "outbox.key"
    ciphers: list[FieldCipher] = []
    threads = [threading.Thread(target=lambda: ciphers.append(FieldCipher.load_or_create(key_path))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    blob = ciphers[0].encrypt({"a": 1}, "x")
    assert all(c.decrypt(blob, "x") == {"a": 1} for c in ciphers)
    assert [p.name for p in key_path.parent.iterdir()] == ["outbox.key"]


def test_garbage_database_is_moved_aside_and_kiosk_keeps_working(tmp_path: Path, cipher, caplog):
    db = tmp_path / "outbox.sqlite3"
    db.write_bytes(b"this is not a database" * 500)
    s = OutboxStore(db, cipher)
    assert s.recovered_from is not None and s.recovered_from.name.startswith("outbox.sqlite3.corrupt-")
    assert s.recovered_from.read_bytes().startswith(b"this is not")
    assert "corrupt" in caplog.text
    s.enqueue(s.new_submission_id(), "enrol", "K1", PAYLOAD)
    assert s.status().pending == 1
    s.close()


def test_damaged_pages_are_detected_by_the_integrity_check(tmp_path: Path, cipher):
    db = tmp_path / "outbox.sqlite3"
    s = OutboxStore(db, cipher)
    for i in range(300):
        s.enqueue(s.new_submission_id(), "enrol", "K1", {"n": i, "pad": "x" * 200})
    s.close()
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    page = 4096
    for offset in range(2 * page, len(data) - page, page * 3):  # scribble over b-tree pages, keep the header
        data[offset:offset + 64] = os.urandom(64)
    db.write_bytes(bytes(data))
    s2 = OutboxStore(db, cipher)
    assert s2.recovered_from is not None
    # every row is either salvaged (still pending) or counted as lost: none silently vanishes
    (rec,) = s2.recoveries()
    assert rec.salvaged > 0 and rec.salvaged + rec.lost == 300
    assert s2.status().pending == rec.salvaged
    claim = s2.claim_batch(1000)  # a salvaged row whose bytes were scribbled on is quarantined, not sent
    assert len(claim.entries) + claim.local_quarantined == rec.salvaged
    assert all(e.payload["pad"] == "x" * 200 for e in claim.entries)
    s2.close()


def test_newer_schema_is_refused_not_clobbered(tmp_path: Path, cipher):
    db = tmp_path / "outbox.sqlite3"
    OutboxStore(db, cipher).close()
    with sqlite3.connect(db) as raw:
        raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(OutboxError):
        OutboxStore(db, cipher)


def test_order_is_the_local_sequence_not_the_clock(tmp_path: Path, cipher):
    clock = FakeClock()
    s = OutboxStore(tmp_path / "o.sqlite3", cipher, clock=clock)
    ids = []
    for i in range(5):
        clock.t -= 100  # the kiosk clock jumps backwards (NTP fix, dead RTC battery)
        ids.append(s.enqueue(s.new_submission_id(), "enrol", "K1", {"n": i}).id)
    assert [e.id for e in s.next_batch(3)] == ids[:3]
    assert [e.id for e in s.next_batch(10)] == ids[3:]
    assert s.next_batch(10) == []


def test_lifecycle_ack_quarantine_release_retry(store):
    ids = [store.enqueue(store.new_submission_id(), "enrol", "K1", {"n": i}).id for i in range(4)]
    batch = store.next_batch(10)
    assert {e.state for e in batch} == {"sending"} and all(e.payload for e in batch)
    assert store.mark_acked(ids[:2]) == 2
    assert store.quarantine(ids[2], "conflict")
    assert store.status().sending == 1
    assert store.release_sending() == 1  # after a crash
    s = store.status()
    assert (s.pending, s.sending, s.acked, s.quarantined) == (1, 0, 2, 1)
    q = store.list("quarantined")
    assert [e.reason for e in q] == ["conflict"] and q[0].payload is None
    assert store.retry_quarantined() == 1
    assert store.status().pending == 2
    assert store.mark_acked(ids[:2]) == 0  # acking twice changes nothing


def test_listing_reveals_payload_only_on_request(store):
    store.enqueue(store.new_submission_id(), "enrol", "K1", PAYLOAD)
    plain = json.dumps([e.to_json() for e in store.list()], ensure_ascii=False)
    assert NAME not in plain and ID_NUMBER not in plain
    revealed = json.dumps([e.to_json(reveal=True) for e in store.list(reveal=True)], ensure_ascii=False)
    assert NAME in revealed
    assert repr(store.list(reveal=True)[0]).count(NAME) == 0  # nor in a repr that ends up in a log


def test_status_reports_oldest_pending_age(tmp_path: Path, cipher):
    clock = FakeClock()
    s = OutboxStore(tmp_path / "o.sqlite3", cipher, clock=clock)
    assert s.status().oldest_pending_age_s is None
    first = s.enqueue(s.new_submission_id(), "enrol", "K1", {})
    clock.t += 90
    s.enqueue(s.new_submission_id(), "enrol", "K1", {})
    clock.t += 30
    assert s.status().oldest_pending_age_s == pytest.approx(120)
    s.next_batch(1)
    s.mark_acked([first.id])
    assert s.status().oldest_pending_age_s == pytest.approx(30)


def test_purge_removes_only_synced_rows_past_retention(tmp_path: Path, cipher):
    clock = FakeClock()
    s = OutboxStore(tmp_path / "o.sqlite3", cipher, clock=clock)
    old = s.enqueue(s.new_submission_id(), "enrol", "K1", PAYLOAD).id
    pending = s.enqueue(s.new_submission_id(), "enrol", "K1", PAYLOAD).id
    s.next_batch(1)
    s.mark_acked([old])
    clock.t += 29 * 86400
    assert s.purge_acked(30) == 0
    clock.t += 2 * 86400
    assert s.purge_acked(30) == 1
    assert s.get(old) is None and s.get(pending).state == "pending"
    with sqlite3.connect(s.db_path) as raw:
        assert raw.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 1


def test_undo_withdraws_pending_and_refuses_sent(tmp_path: Path, cipher):
    clock = FakeClock()
    s = OutboxStore(tmp_path / "o.sqlite3", cipher, clock=clock)
    a, b, c = (s.enqueue(s.new_submission_id(), "enrol", "K1", {"n": i}).id for i in range(3))
    assert s.undo(a).state == "withdrawn"
    assert s.undo(a).state == "withdrawn"  # a second tap is harmless
    batch = s.next_batch(10)
    assert [e.id for e in batch] == [b, c]  # a withdrawn submission is never sent
    with pytest.raises(UndoRefused) as exc:
        s.undo(b)
    assert exc.value.state == "sending" and "无法撤回" in exc.value.message_zh
    s.mark_acked([b])
    with pytest.raises(UndoRefused):
        s.undo(b)
    late = s.enqueue(s.new_submission_id(), "enrol", "K1", {}).id
    clock.t += 601
    with pytest.raises(UndoRefused):
        s.undo(late)
    with pytest.raises(SubmissionNotFound):
        s.undo(s.new_submission_id())
    assert s.status().withdrawn == 1


def test_threads_enqueueing_and_claiming_never_double_claim(store):
    claimed: list[str] = []
    done = threading.Event()

    def producer():
        for i in range(200):
            store.enqueue(store.new_submission_id(), "enrol", "K1", {"n": i})
        done.set()

    def consumer():
        while not done.is_set() or store.status().pending:
            claimed.extend(e.id for e in store.next_batch(7))

    threads = [threading.Thread(target=producer)] + [threading.Thread(target=consumer) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(claimed) == 200 == len(set(claimed))


def test_submit_uses_config_paths_and_kiosk_id(tmp_path: Path):
    config = dataclasses.replace(Config(), data_dir=tmp_path)
    sid = OutboxStore.new_submission_id()
    entry = submit(config, "enrol", PAYLOAD, submission_id=sid)
    assert entry.id == sid and entry.kiosk_id == config.kiosk.id
    assert submit(config, "enrol", PAYLOAD, submission_id=sid).seq == entry.seq
    assert (tmp_path / "outbox.sqlite3").exists() and config.outbox_key_path.exists()
    with open_outbox(config) as s:
        assert s.get(sid).payload == PAYLOAD


def test_cli_submit_outbox_status_list_undo(tmp_path: Path, monkeypatch, capsys):
    from kiosk.cli import main

    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path))
    answers = {"name": NAME, "id_number": ID_NUMBER, "insurance_type": "resident", "phone": "13912345678"}  # enrol's fields
    assert main(["submit", "--service", "enrol", "--data", json.dumps(answers)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["state"] == "pending"
    assert main(["outbox", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["pending"] == 1 and status["quarantined"] == 0 and status["oldest_pending_age_s"] >= 0
    assert main(["outbox", "list"]) == 0
    assert ID_NUMBER not in capsys.readouterr().out
    assert main(["outbox", "undo", out["id"]]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "withdrawn"
    assert main(["submit", "--service", "enrol", "--data", "[1,2]"]) == 2
    assert "JSON object" in capsys.readouterr().err
    assert main(["submit", "--service", "enrol", "--data", json.dumps({**answers, "phone": "13800000000"}), "--id", out["id"]]) == 1
    assert "different content" in capsys.readouterr().err
    assert main(["outbox", "purge"]) == 0
    assert json.loads(capsys.readouterr().out)["older_than_days"] == 30
