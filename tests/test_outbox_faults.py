"""Faults that used to hide or strand submissions (issue 13): a lock, a full disk, a missing or
replaced key, a TEXT payload, a malformed database. Each test sets the fault up for real (a
second connection holding the lock, a size-limited tmpfs data dir, raw SQL) and checks that
nothing stored disappears from view and every refusal is one clear message."""
from __future__ import annotations

import errno
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hub_fixtures import KIOSK, TOKEN, cipher, hub, store  # noqa: F401  (fixtures)
from kiosk.config import load_config
from kiosk.services.crypto import FieldCipher
from kiosk.services.outbox import OutboxKeyError, OutboxStore, OutboxUnavailable
from kiosk.services.submissions import open_outbox, submit
from kiosk.services.sync import HubClient, Syncer

PROJECT = Path(__file__).resolve().parent.parent
PAYLOAD = {"applicant": {"name": "欧阳娜娜", "id_number": "11010519491231002X"}, "answers": {"phone": "13912345678"}}
CLI_SUBMIT = ("submit", "--service", "record_query", "--data", json.dumps({"id_number": "11010519491231002X", "purpose": "query"}))


def fill(s: OutboxStore, n: int, kiosk: str = KIOSK, pad: int = 0) -> list[str]:
    return [s.enqueue(s.new_submission_id(), "enrol", kiosk, {"n": i, "pad": "x" * pad}).id for i in range(n)]


def set_aside_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("outbox.sqlite3.corrupt-*"))


def run_kiosk(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kiosk", "--config", str(PROJECT / "config.toml"), *args],
                          capture_output=True, text=True, timeout=120, cwd=PROJECT, env={**os.environ, **env})


def assert_one_clear_line(proc: subprocess.CompletedProcess, code: int, *needles: str) -> None:
    assert proc.returncode == code, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


# -- a lock held by another connection is reported and retried, never "recovered" -------------
def hold_lock(db: Path) -> sqlite3.Connection:
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("PRAGMA locking_mode=EXCLUSIVE")
    other.execute("BEGIN EXCLUSIVE")  # with exclusive locking mode even WAL readers are shut out
    return other


def test_a_lock_at_open_is_reported_and_the_database_left_alone(tmp_path: Path, cipher):
    db = tmp_path / "outbox.sqlite3"
    with OutboxStore(db, cipher) as s:
        ids = fill(s, 5)
    other = hold_lock(db)
    try:
        with pytest.raises(OutboxUnavailable) as exc:
            OutboxStore(db, cipher, busy_timeout_s=0.2)
        assert exc.value.code == "OUTBOX_BUSY" and "locked" in exc.value.message_en
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert set_aside_files(tmp_path) == []  # the old bug: renamed to *.corrupt-… and replaced by an empty one
    with OutboxStore(db, cipher) as s:  # retried once the lock is gone: every row is still there
        assert s.status().pending == 5 and {e.id for e in s.list()} == set(ids)
        assert s.recoveries() == []


def test_a_lock_during_enqueue_and_claim_is_a_clear_error_then_works(tmp_path: Path, cipher):
    db = tmp_path / "outbox.sqlite3"
    s = OutboxStore(db, cipher, busy_timeout_s=0.2)
    fill(s, 2)
    other = sqlite3.connect(db, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another process is writing
    try:
        with pytest.raises(OutboxUnavailable) as exc:
            s.enqueue(s.new_submission_id(), "enrol", KIOSK, PAYLOAD)
        assert exc.value.code == "OUTBOX_BUSY"
        with pytest.raises(OutboxUnavailable):
            s.claim_batch(10)
    finally:
        other.execute("ROLLBACK")
        other.close()
    fill(s, 1)
    assert s.status().pending == 3 and len(s.claim_batch(10).entries) == 3
    s.close()


# -- a full disk: a size-limited data dir (tmpfs) --------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 8 MiB filesystem; always unmounted, even when the test fails."""
    if os.geteuid() != 0:
        pytest.skip("mounting a size-limited tmpfs needs root")
    mnt = tmp_path / "small"
    mnt.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m,mode=0700", "tmpfs", str(mnt)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount tmpfs: {made.stderr.strip()}")
    try:
        yield mnt
    finally:
        if subprocess.run(["umount", str(mnt)], capture_output=True).returncode != 0:
            subprocess.run(["umount", "-l", str(mnt)], check=True)


def fill_disk(directory: Path) -> Path:
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for chunk in (1 << 20, 1 << 16, 1 << 12, 1 << 9):
            while True:
                try:
                    os.write(fd, bytes(chunk))
                except OSError as exc:
                    assert exc.errno == errno.ENOSPC
                    break
    finally:
        os.close(fd)
    return filler


def test_full_disk_refuses_new_submissions_but_sync_drains_and_it_recovers(small_disk: Path, hub):
    data = small_disk / "data"
    s = OutboxStore(data / "outbox.sqlite3", FieldCipher.load_or_create(data / "keys" / "outbox.key"))
    assert s.reserve_path.stat().st_size >= s.reserve_bytes
    ids = fill(s, 30, pad=300)
    filler = fill_disk(small_disk)
    with pytest.raises(OutboxUnavailable) as exc:  # SQLite's own SQLITE_FULL, as a clear message
        s.enqueue(s.new_submission_id(), "enrol", KIOSK, PAYLOAD)
    assert exc.value.code == "OUTBOX_FULL" and "full" in exc.value.message_en and str(data) in exc.value.message_en
    assert s.status().pending == 30 and set_aside_files(data) == []
    # sync must still record sending/acked: the store releases its reserve for that
    report = Syncer(s, HubClient(hub.url, TOKEN, 5), batch_size=50).drain()
    assert (report.acked, report.error) == (30, None)
    assert s.reserve_releases >= 1, "the state updates never hit SQLITE_FULL: the test did not fill the disk"
    assert s.status().acked == 30 and set(hub.store.ids()) == set(ids)
    with pytest.raises(OutboxUnavailable):  # the reserve cannot come back yet: still no new promises
        s.enqueue(s.new_submission_id(), "enrol", KIOSK, PAYLOAD)
    assert s.self_test().status.value != "ok"
    filler.unlink()  # space returns
    s.enqueue(s.new_submission_id(), "enrol", KIOSK, PAYLOAD)
    assert s.reserve_path.stat().st_size >= s.reserve_bytes
    s.close()


def test_full_disk_cli_submit_is_one_line_and_sync_once_drains(small_disk: Path, tmp_path: Path):
    from kiosk.hub.server import start_hub_in_thread

    data = small_disk / "data"
    env = {"KIOSK_DATA_DIR": str(data)}
    kiosk_id = load_config(PROJECT / "config.toml", environ=env).kiosk.id
    hub_handle = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {TOKEN: kiosk_id})
    try:
        env |= {"KIOSK_HUB_URL": hub_handle.url, "KIOSK_HUB_TOKEN": TOKEN}
        config = load_config(PROJECT / "config.toml", environ=env)
        ids = [submit(config, "enrol", {"n": i, "pad": "y" * 300}).id for i in range(20)]
        fill_disk(small_disk)
        proc = run_kiosk(*CLI_SUBMIT, env=env)
        assert_one_clear_line(proc, 1, "full")
        proc = run_kiosk("sync", "--once", env=env)
        assert proc.returncode == 0, proc.stderr
        assert "Traceback" not in proc.stderr
        out = json.loads(proc.stdout)
        assert out["acked"] == 20 and out["status"]["pending"] == 0
        assert set(hub_handle.store.ids()) == set(ids)
    finally:
        hub_handle.stop()


# -- the key: created only for an empty outbox ------------------------------------------------
@pytest.fixture
def config(tmp_path: Path):
    return load_config(PROJECT / "config.toml", environ={"KIOSK_DATA_DIR": str(tmp_path / "data")})


def test_a_removed_key_is_not_regenerated_and_nothing_is_sent_or_quarantined(config, tmp_path: Path):
    from kiosk.services.diagnostics import check_outbox

    ids = [submit(config, "enrol", PAYLOAD).id for _ in range(3)]
    backup = config.outbox_key_path.read_bytes()
    config.outbox_key_path.unlink()
    with open_outbox(config) as s:
        assert not config.outbox_key_path.exists(), "a new key was made for an outbox full of rows"
        assert s.key_error is not None and s.status().pending == 3  # still visible
        with pytest.raises(OutboxKeyError) as exc:
            s.enqueue(s.new_submission_id(), "enrol", KIOSK, PAYLOAD)
        message = exc.value.message_en
        assert "missing" in message and str(config.outbox_key_path) in message and "backup" in message
        assert "备份" in exc.value.message_zh
        with pytest.raises(OutboxKeyError):
            s.claim_batch(10)
        assert s.status().quarantined == 0
    (result,) = check_outbox(config)
    assert result.status.value == "error" and "backup" in result.detail
    proc = run_kiosk(*CLI_SUBMIT, env={"KIOSK_DATA_DIR": str(config.data_dir)})
    assert_one_clear_line(proc, 1, "missing", str(config.outbox_key_path))
    proc = run_kiosk("sync", "--once", env={"KIOSK_DATA_DIR": str(config.data_dir)})
    assert_one_clear_line(proc, 1, "missing")
    # restored from the installation backup: everything reads again, nothing was lost
    config.outbox_key_path.write_bytes(backup)
    config.outbox_key_path.chmod(0o600)
    with open_outbox(config) as s:
        assert s.key_error is None
        assert [e.id for e in s.claim_batch(10).entries] == ids


def test_a_replaced_key_refuses_instead_of_quarantining_everything(config):
    ids = [submit(config, "enrol", PAYLOAD).id for _ in range(4)]
    backup = config.outbox_key_path.read_bytes()
    config.outbox_key_path.write_bytes(os.urandom(32))
    with open_outbox(config) as s:
        assert s.key_error is not None and "does not match" in s.key_error.message_en
        with pytest.raises(OutboxKeyError):
            s.claim_batch(10)  # the old bug: every row quarantined "does not decrypt with this key"
        with pytest.raises(OutboxKeyError):
            submit(config, "enrol", PAYLOAD, store=s)
        assert s.status().pending == 4 and s.status().quarantined == 0
        assert s.self_test().status.value == "error"
    config.outbox_key_path.write_bytes(backup)
    with open_outbox(config) as s:
        assert [e.id for e in s.claim_batch(10).entries] == ids


def test_a_replaced_key_is_detected_on_an_outbox_written_before_key_checks(config):
    submit(config, "enrol", PAYLOAD)
    with sqlite3.connect(config.data_dir / "outbox.sqlite3") as raw:
        raw.execute("DELETE FROM meta WHERE name='key_check'")  # as an older version left it
    config.outbox_key_path.write_bytes(os.urandom(32))
    with open_outbox(config) as s:
        assert s.key_error is not None


def test_an_empty_outbox_keeps_working_with_its_key_or_a_new_one(config):
    with open_outbox(config) as s:  # first start: key made, no rows
        assert config.outbox_key_path.exists() and s.key_error is None
    with open_outbox(config) as s:  # existing key, zero rows
        assert s.key_error is None
        sid = s.enqueue(s.new_submission_id(), "enrol", KIOSK, PAYLOAD).id
        s.claim_batch(10)
        s.mark_acked([sid])
        s.clock = lambda: time.time() + 100 * 86400
        assert s.purge_acked(30) == 1
    config.outbox_key_path.unlink()  # no rows left: a new key is fine and becomes the key
    with open_outbox(config) as s:
        assert s.key_error is None and config.outbox_key_path.exists()
        s.enqueue(s.new_submission_id(), "enrol", KIOSK, PAYLOAD)
    with open_outbox(config) as s:
        assert s.key_error is None and len(s.claim_batch(10).entries) == 1


def test_diag_does_not_create_a_key_and_passes_on_an_empty_outbox(config):
    from kiosk.services.diagnostics import check_outbox

    with open_outbox(config):
        pass
    config.outbox_key_path.unlink()
    (result,) = check_outbox(config)
    assert result.status.value == "ok" and not config.outbox_key_path.exists()


# -- one unreadable row is quarantined with its reason; the rest flows ------------------------
def insert_text_payload(db: Path, submission_id: str) -> None:
    with sqlite3.connect(db) as raw:
        cur = raw.execute("INSERT INTO submissions (id, kind, service, kiosk_id, created_at, payload) "
                          "VALUES (?, 'submission', 'enrol', ?, ?, CAST(x'ff00c3287b7d' AS TEXT))",
                          (submission_id, KIOSK, time.time()))
        raw.execute("INSERT INTO outbox (seq, state, updated_at) VALUES (?, 'pending', ?)", (cur.lastrowid, time.time()))


def test_a_text_payload_is_quarantined_locally_and_the_rest_is_sent(store, hub):
    good = fill(store, 2)
    bad = store.new_submission_id()
    insert_text_payload(store.db_path, bad)
    good += fill(store, 2)
    report = Syncer(store, HubClient(hub.url, TOKEN, 5), batch_size=2).drain()
    assert (report.acked, report.local_quarantined, report.quarantined, report.error) == (4, 1, 1, None)
    assert store.get(bad).state == "quarantined" and "stored as text" in store.get(bad).reason
    assert all(store.get(i).state == "acked" for i in good)
    assert sorted(hub.store.ids()) == sorted(good)


def test_sync_once_reports_local_quarantines(config, tmp_path: Path):
    from kiosk.hub.server import start_hub_in_thread

    handle = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {TOKEN: config.kiosk.id})
    try:
        submit(config, "enrol", PAYLOAD)
        with open_outbox(config) as s:
            insert_text_payload(s.db_path, s.new_submission_id())
        env = {"KIOSK_DATA_DIR": str(config.data_dir), "KIOSK_HUB_URL": handle.url, "KIOSK_HUB_TOKEN": TOKEN}
        proc = run_kiosk("sync", "--once", env=env)
        assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
        out = json.loads(proc.stdout)
        assert (out["acked"], out["local_quarantined"], out["quarantined"]) == (1, 1, 1)
        assert out["status"]["quarantined"] == 1 and "quarantined" in proc.stderr
    finally:
        handle.stop()


# -- a malformed database: set aside, salvaged, visible until acknowledged --------------------
def test_a_set_aside_database_is_listed_by_status_and_diag_until_acknowledged(config, monkeypatch, capsys):
    from kiosk.cli import main
    from kiosk.services.diagnostics import check_outbox

    ids = [submit(config, "enrol", {"n": i, "pad": "z" * 400}).id for i in range(200)]
    db = config.data_dir / "outbox.sqlite3"
    with sqlite3.connect(db) as raw:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    data[5 * 4096:5 * 4096 + 64] = os.urandom(64)  # one damaged page; the others still read
    db.write_bytes(bytes(data))
    monkeypatch.setenv("KIOSK_DATA_DIR", str(config.data_dir))
    assert main(["outbox", "status"]) == 0
    captured = capsys.readouterr()
    status = json.loads(captured.out)
    assert status["recovered_from"] and Path(status["recovered_from"]).exists()
    assert status["rows_salvaged"] > 0 and status["rows_salvaged"] + status["rows_lost"] == 200
    assert status["pending"] == status["rows_salvaged"]
    assert "set aside" in captured.err and "acknowledge" in captured.err
    with sqlite3.connect(status["recovered_from"]) as raw:  # the set-aside file is kept as it was
        assert raw.execute("PRAGMA page_count").fetchone()[0] > 5
    (result,) = check_outbox(config)
    assert result.status.value == "degraded" and "acknowledge" in result.detail
    assert main(["outbox", "acknowledge"]) == 0
    assert json.loads(capsys.readouterr().out) == {"acknowledged": 1}
    (result,) = check_outbox(config)
    assert result.status.value == "ok"
    with open_outbox(config) as s:
        claimed = s.claim_batch(500)
        assert {e.id for e in claimed.entries} <= set(ids)
        assert len(claimed.entries) + claimed.local_quarantined == status["rows_salvaged"]


def test_garbage_instead_of_a_database_is_set_aside_and_said(config, monkeypatch, capsys):
    from kiosk.cli import main

    db = config.data_dir / "outbox.sqlite3"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"not a database at all" * 300)
    monkeypatch.setenv("KIOSK_DATA_DIR", str(config.data_dir))
    assert main(["outbox", "status"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["recovered_from"] and status["rows_salvaged"] == 0
    assert status["recoveries"][0]["salvage_error"]  # said, not silently zero


# -- the resident screen: nothing promised that was not stored ---------------------------------
def test_resident_is_sent_to_the_counter_when_the_kiosk_cannot_store(kiosk_shell, monkeypatch):
    from drivers.idcard.simulator import load_profile
    from kiosk.services.sync import SyncStatus
    from kiosk.ui.journey import Journey, click, wait_until

    shell, _hub = kiosk_shell()
    store = shell.runtime.outbox
    monkeypatch.setattr(store, "_ensure_reserve", lambda: False)  # the disk cannot hold the sync reserve
    j = Journey(shell.window, log=lambda _: None)
    shell.runtime.sims.idcard.insert(load_profile(PROJECT / "assets/cards/idcard/young_parent.json"))
    j.on_screen("identify")
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("home")
    j.choose_service("record_query")
    j.on_screen("form")
    j.fill_form({"purpose": "query"})
    click(j.find("review_submit"))
    j.on_screen("error")
    text = shell.window.error.message.text()
    assert "窗口" in text and "未保存" in text
    assert not shell.controller.done_view.saved and "提交成功" not in shell.window.done.result.text()
    assert store.status().pending == 0
    # a paused sync shows 配置错误 on the status strip
    shell.controller.on_device_event("sync", SyncStatus(True, 3, 10.0, "HTTP 401", None, 0, config_error="HTTP 401"))
    assert "配置错误" in shell.window.status.network.text()
    shell.controller.on_device_event("sync", SyncStatus(True, 0, None, None, time.time()))
    wait_until(lambda: "配置错误" not in shell.window.status.network.text(), 2, "the strip to recover")
