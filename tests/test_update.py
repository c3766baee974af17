"""`kiosk update WHEEL`: v1 installed by scripts/install.sh into a temporary prefix, pending
submissions, an update to v2 (a wheel built from this checkout, with an additive outbox
migration), a manual rollback, a v3 whose units never settle (rolled back by itself), a release
failing its self-check (refused, `current` untouched), a non-additive migration (refused unless
--one-way, then no rollback), software too old for the data (refused) — and every pending row
intact after each step, synced to a hub at the end.

systemctl is a fake on PATH: it logs its calls, "starts" a unit by opening its outbox with the
release `current` points at (as the app does at start, migrating it), and reports a unit
crash-looping (activating / auto-restart, NRestarts growing) while `current` is a release named
in its state folder.
No network: the wheel is built once with pip (local build backend), the releases reuse this
checkout's .venv (`--venv-from`). The hub binds 127.0.0.1.
"""
from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import httpx
import pytest

from kiosk.commands.update_release import Layout, UpdateError, prune, read_wheel, stored_schemas, switch
from kiosk.commands.update_units import UnitState, wait_healthy
from kiosk.hub.server import start_hub_in_thread
from kiosk.services.crypto import FieldCipher
from kiosk.services.outbox import SCHEMA_VERSION, OutboxError, OutboxStore

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)
VERSION = re.search(r'^version = "(.+)"', (ROOT / "pyproject.toml").read_text(), re.M).group(1)
ENROL = {"name": "张三", "id_number": "11010519491231002X", "insurance_type": "resident", "phone": "13812345678"}
TOKEN = "update-test-token-51c2"

pytestmark = pytest.mark.timeout(600)

FAKE_SYSTEMCTL = r"""#!/bin/bash
# A stand-in for systemctl: logs calls; a unit crash-loops while `current` is a release named in fail-*.
# Every start is a new InvocationID, as systemd's.
echo "$*" >> "$FAKE_STATE/calls"
invocation=$(cat "$FAKE_STATE/invocation" 2>/dev/null || echo 0)
case "$1" in
  restart)  # the service starts far enough to open its data (the app migrates its outbox at start)
    echo $((invocation + 1)) > "$FAKE_STATE/invocation"
    KIOSK_DATA_DIR="$FAKE_DATA" "$FAKE_OPT/current/venv/bin/kiosk" --config "$FAKE_CONFIG" outbox status >/dev/null 2>&1 ;;
  show)
    current="$(readlink "$FAKE_OPT/current")"
    if [ -e "$FAKE_STATE/fail-$current" ]; then
      n=$(( $(cat "$FAKE_STATE/restarts" 2>/dev/null || echo 0) + 1 )); echo "$n" > "$FAKE_STATE/restarts"
      echo $((invocation + 1)) > "$FAKE_STATE/invocation"
      printf 'ActiveState=activating\nSubState=auto-restart\nNRestarts=%s\nInvocationID=%s\n' "$n" "$invocation"
    else
      printf 'ActiveState=active\nSubState=running\nNRestarts=0\nInvocationID=%s\n' "$invocation"
    fi ;;
  *) exit 1 ;;
esac
"""

# v2's outbox: an additive migration (a new nullable column); software of schema 3 still reads it.
ADDITIVE = ('MIN_READER: dict[int, int] = {1: 1, 2: 1, 3: 3}', 'MIN_READER: dict[int, int] = {1: 1, 2: 1, 3: 3, 4: 3}')
# a migration that declares older software unable to read the result
BREAKING = ('MIN_READER: dict[int, int] = {1: 1, 2: 1, 3: 3}', 'MIN_READER: dict[int, int] = {1: 1, 2: 1, 3: 3, 4: 4}')


def schema_4(min_reader_edit: tuple[str, str]) -> dict[str, object]:
    def edit(text: str) -> str:
        assert f"SCHEMA_VERSION = {SCHEMA_VERSION}\n" in text and min_reader_edit[0] in text
        text = text.replace(f"SCHEMA_VERSION = {SCHEMA_VERSION}\n", "SCHEMA_VERSION = 4\n").replace(*min_reader_edit)
        return text.replace("_MIGRATIONS: dict[int, str] = {\n",
                            '_MIGRATIONS: dict[int, str] = {\n    4: "ALTER TABLE outbox ADD COLUMN note TEXT",\n')
    return {"kiosk/services/outbox.py": edit}


# --- wheels -----------------------------------------------------------------------------------

_BUILT: list[Path] = []


def project_wheel() -> Path:
    """A wheel of this checkout, built once (pip, from a frozen copy: the tree is being edited)."""
    if not _BUILT:
        work = Path(tempfile.mkdtemp(prefix="update-wheel-"))
        source = work / "src"
        for name in ("kiosk", "drivers", "forms", "assets", "scripts"):
            shutil.copytree(ROOT / name, source / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in ("config.toml", "pyproject.toml", "README.md"):
            shutil.copy(ROOT / name, source / name)
        built = subprocess.run([str(VENV / "bin/pip"), "wheel", "--no-deps", "-q", "-w", str(work / "dist"), str(source)],
                               capture_output=True, text=True, timeout=300)
        if built.returncode != 0:
            pytest.skip(f"cannot build a wheel here: {built.stderr.strip()[-300:]}")
        (wheel,) = (work / "dist").glob("*.whl")
        _BUILT.extend([wheel, source])
    return _BUILT[0]


@pytest.fixture(scope="module", autouse=True)
def _remove_built():
    yield
    if _BUILT:
        shutil.rmtree(_BUILT[0].parent.parent, ignore_errors=True)
        _BUILT.clear()


def variant(wheel: Path, version: str, out_dir: Path, edits: dict[str, object] | None = None) -> Path:
    """The same wheel as another version, some files edited, RECORD written anew."""
    edits = dict(edits or {})
    edits["kiosk/__init__.py"] = lambda t: re.sub(r'__version__ = ".*"', f'__version__ = "{version}"', t)
    old_info = f"yibao_kiosk-{VERSION}.dist-info"
    new_info = f"yibao_kiosk-{version}.dist-info"
    out = out_dir / f"yibao_kiosk-{version}-py3-none-any.whl"
    records = []
    with zipfile.ZipFile(wheel) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for name in src.namelist():
            if name == f"{old_info}/RECORD":
                continue
            data = src.read(name)
            if name in edits:
                data = edits.pop(name)(data.decode()).encode()  # type: ignore[operator]
            if name == f"{old_info}/METADATA":
                data = re.sub(rb"(?m)^Version: .*$", f"Version: {version}".encode(), data)
            new_name = name.replace(old_info, new_info, 1)
            dst.writestr(new_name, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append((new_name, f"sha256={digest}", str(len(data))))
        for name, edit in edits.items():  # new files
            data = edit("").encode()  # type: ignore[operator]
            dst.writestr(name, data)
            records.append((name, "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode(), str(len(data))))
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([*records, (f"{new_info}/RECORD", "", "")])
        dst.writestr(f"{new_info}/RECORD", buf.getvalue())
    return out


# --- an installation in a temporary prefix ----------------------------------------------------

class Machine:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.prefix = root / "root"
        self.opt = self.prefix / "opt/yibao-kiosk"
        self.data = self.prefix / "var/lib/yibao-kiosk"
        self.state = root / "systemctl"
        self.wheels = root / "wheels"
        for d in (self.state, self.wheels, root / "bin"):
            d.mkdir(parents=True, exist_ok=True)
        fake = root / "bin/systemctl"
        fake.write_text(FAKE_SYSTEMCTL)
        fake.chmod(0o755)
        installed = self.install()
        assert installed.returncode == 0, installed.stderr
        self.env = {"PATH": f"{root / 'bin'}:/usr/local/bin:/usr/bin:/bin", "HOME": str(root), "LANG": "C.UTF-8",
                    "QT_QPA_PLATFORM": "offscreen", "FAKE_STATE": str(self.state), "FAKE_OPT": str(self.opt),
                    "FAKE_DATA": str(self.data), "FAKE_CONFIG": str(self.prefix / "etc/yibao-kiosk/config.toml")}

    def install(self) -> subprocess.CompletedProcess:
        """scripts/install.sh of this checkout (v1) into the prefix."""
        return subprocess.run(["bash", str(project_wheel().parent.parent / "src/scripts/install.sh"), "--prefix",
                               str(self.prefix), "--venv-from", str(VENV), "kiosk"], capture_output=True, text=True, timeout=300)

    def kiosk(self, *args: str, **env: str) -> subprocess.CompletedProcess:
        """The installed `kiosk` (/usr/local/bin/kiosk of the prefix: config and data dir set)."""
        return subprocess.run([str(self.prefix / "usr/local/bin/kiosk"), *args], env={**self.env, **env},
                              capture_output=True, text=True, timeout=300)

    def update(self, *args: str) -> subprocess.CompletedProcess:
        return self.kiosk("update", *args, "--prefix", str(self.prefix), "--venv-from", str(VENV),
                          "--settle", "0", "--health-timeout", "3")

    def current(self) -> str:
        return os.readlink(self.opt / "current")

    def calls(self) -> list[str]:
        path = self.state / "calls"
        return path.read_text().splitlines() if path.exists() else []

    def rows(self) -> list[dict]:
        """Every outbox row with its decrypted payload, as the running release reads them."""
        listed = self.kiosk("outbox", "list", "--reveal", "--limit", "1000")
        assert listed.returncode == 0, listed.stderr
        return sorted(({k: item[k] for k in ("id", "service", "state", "payload", "created_at")}
                       for item in json.loads(listed.stdout)["items"]), key=lambda r: r["id"])

    def schema(self) -> tuple[int, dict[str, str]]:
        with sqlite3.connect(self.data / "outbox.sqlite3") as raw:
            meta = dict(raw.execute("SELECT name, CAST(value AS TEXT) FROM meta WHERE name LIKE '%version'").fetchall())
            return raw.execute("PRAGMA user_version").fetchone()[0], meta


@pytest.fixture
def machine(tmp_path: Path) -> Machine:
    return Machine(tmp_path)


def submit(machine: Machine, n: int) -> list[str]:
    ids = []
    for i in range(n):
        done = machine.kiosk("submit", "--service", "enrol", "--data", json.dumps({**ENROL, "phone": f"1381234{i:04d}"}))
        assert done.returncode == 0, done.stderr
        ids.append(json.loads(done.stdout)["id"])
    return ids


def one_line(result: subprocess.CompletedProcess) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


# --- the journey ------------------------------------------------------------------------------

@pytest.mark.slow  # builds a wheel, installs into a prefix
def test_update_migrate_rollback_and_every_pending_row_survives(machine: Machine, tmp_path: Path):
    ids = submit(machine, 3)
    before = machine.rows()
    assert [r["state"] for r in before] == ["pending"] * 3
    v2 = variant(project_wheel(), "0.2.0", machine.wheels, schema_4(ADDITIVE))

    updated = machine.update(str(v2))
    assert updated.returncode == 0, updated.stderr
    assert machine.current() == "0.2.0" and os.readlink(machine.opt / "previous") == VERSION
    assert "## Deploying" in (machine.opt / "0.2.0/app/README.md").read_text()  # the units' Documentation=
    assert "restart --no-block yibao-kiosk.service" in machine.calls()
    assert "3 rows (3 pending) read by 0.2.0 after migrating a copy to schema 4" in updated.stdout
    # v2's live check ran its migration on the real outbox: additive, readable from schema 3 on
    assert machine.schema() == (4, {"schema_version": "4", "min_reader_version": "3"})
    assert machine.rows() == before

    # back to v1 by hand: v1 (schema 3) reads the schema-4 outbox because v2 declared it may
    back = machine.kiosk("update", "--rollback", "--prefix", str(machine.prefix), "--settle", "0", "--health-timeout", "3")
    assert back.returncode == 0, back.stderr
    assert machine.current() == VERSION and os.readlink(machine.opt / "previous") == "0.2.0"
    assert machine.rows() == before
    submit(machine, 1)  # v1 writes into the newer database too
    before = machine.rows()

    # v2 again (already built: reused), then v3 whose units never settle: rolled back by itself
    assert machine.update(str(v2)).returncode == 0
    v3 = variant(project_wheel(), "0.3.0", machine.wheels, schema_4(ADDITIVE))
    (machine.state / "fail-0.3.0").touch()
    restarts_before = machine.calls().count("restart --no-block yibao-kiosk.service")
    failed = machine.update(str(v3))
    assert failed.returncode == 1
    line = one_line(failed)
    assert "0.3.0 failed its health check" in line and "rolled back to 0.2.0" in line and "auto-restart" in line
    assert machine.current() == "0.2.0"
    assert machine.calls().count("restart --no-block yibao-kiosk.service") == restarts_before + 2  # v3, then v2 again
    assert (machine.opt / "0.3.0").is_dir()  # kept for a look; pruned by later updates
    assert machine.rows() == before

    # every pending submission still goes to the hub
    hub = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {TOKEN: "KIOSK-0001"})
    try:
        synced = machine.kiosk("sync", "--once", KIOSK_HUB_URL=hub.url, KIOSK_HUB_TOKEN=TOKEN)
        assert synced.returncode == 0, synced.stderr
        assert json.loads(synced.stdout)["status"]["pending"] == 0
        for sid in ids:
            stored = httpx.get(f"{hub.url}/v1/submissions/{sid}", headers={"Authorization": f"Bearer {TOKEN}"})
            assert stored.status_code == 200, stored.text
    finally:
        hub.stop()


@pytest.mark.slow  # builds a wheel, installs into a prefix
def test_a_release_failing_its_selfcheck_is_refused_and_current_stays(machine: Machine):
    submit(machine, 2)
    before = machine.rows()
    broken = variant(project_wheel(), "0.2.1", machine.wheels,
                     {"kiosk/app.py": lambda t: t + "\nraise RuntimeError('left a debug line in')\n"})
    result = machine.update(str(broken))
    assert result.returncode == 1
    line = one_line(result)
    assert "0.2.1 failed its self-check" in line and "kiosk.app does not import" in line and f"{VERSION} keeps running" in line
    assert machine.current() == VERSION and not (machine.opt / "previous").exists()
    assert not (machine.opt / "0.2.1").exists()  # never went live: removed
    assert machine.calls() == []  # nothing restarted
    assert machine.schema()[0] == SCHEMA_VERSION  # the real outbox was not migrated
    assert machine.rows() == before


@pytest.mark.slow  # builds a wheel, installs into a prefix
def test_data_past_an_old_release_refuse_the_update_the_rollback_and_the_downgrade(machine: Machine):
    submit(machine, 2)
    before = machine.rows()
    v4 = variant(project_wheel(), "0.4.0", machine.wheels, schema_4(BREAKING))

    refused = machine.update(str(v4))
    assert refused.returncode == 1
    assert f"after it, {VERSION} cannot read outbox.sqlite3 (outbox schema 4, readable from schema 4 on" in one_line(refused)
    assert machine.current() == VERSION and machine.schema()[0] == SCHEMA_VERSION

    (machine.state / "fail-0.4.0").touch()  # and then it does not even settle: no way back, it stays
    one_way = machine.update(str(v4), "--one-way")
    assert one_way.returncode == 1
    line = one_line(one_way)
    assert "0.4.0 failed its health check" in line and f"cannot roll back: {VERSION} cannot read outbox.sqlite3" in line
    assert "staying on 0.4.0" in line
    (machine.state / "fail-0.4.0").unlink()
    assert machine.current() == "0.4.0" and machine.schema() == (4, {"schema_version": "4", "min_reader_version": "4"})

    back = machine.kiosk("update", "--rollback", "--prefix", str(machine.prefix), "--settle", "0", "--health-timeout", "3")
    assert back.returncode == 1
    line = one_line(back)
    assert f"cannot roll back: {VERSION} cannot read outbox.sqlite3" in line and "staying on 0.4.0" in line
    assert machine.current() == "0.4.0"

    # v1's code as a new wheel: too old for these data, refused before anything is switched
    old = variant(project_wheel(), "0.1.9", machine.wheels)
    downgrade = machine.update(str(old))
    assert downgrade.returncode == 1
    assert "refused: 0.1.9 cannot read outbox.sqlite3 (outbox schema 4, readable from schema 4 on; 0.1.9 reads up to 3)" \
        in one_line(downgrade)
    assert machine.current() == "0.4.0" and not (machine.opt / "0.1.9").exists()
    # nor does install.sh from v1's checkout switch back to it
    reinstall = machine.install()
    assert reinstall.returncode == 1
    assert f"refused: {VERSION} cannot read outbox.sqlite3" in reinstall.stderr and "current stays 0.4.0" in reinstall.stderr
    assert machine.current() == "0.4.0"
    assert machine.rows() == before


@pytest.mark.slow  # builds a wheel, installs into a prefix
def test_bad_wheels_are_one_line_and_exit_2(machine: Machine, tmp_path: Path):
    good = project_wheel()
    tampered = tmp_path / "yibao_kiosk-9.9.9-py3-none-any.whl"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(tampered, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data + b"\n# changed\n" if name == "kiosk/app.py" else data)
    text = tmp_path / "notes.whl"
    text.write_text("not a zip")
    for path, expect in ((tampered, "kiosk/app.py does not match its RECORD"), (text, "not a zip file"),
                         (tmp_path / "missing.whl", "no such wheel file")):
        result = machine.update(str(path))
        assert result.returncode == 2 and expect in one_line(result), result.stderr
    assert machine.kiosk("update").returncode == 2  # neither WHEEL nor --rollback
    assert machine.current() == VERSION and machine.calls() == []


@pytest.mark.slow  # builds a wheel, installs into a prefix
def test_no_restart_switches_without_systemctl(machine: Machine):
    submit(machine, 1)
    v2 = variant(project_wheel(), "0.2.0", machine.wheels)
    result = machine.kiosk("update", str(v2), "--prefix", str(machine.prefix), "--venv-from", str(VENV), "--no-restart",
                           PATH="/usr/bin:/bin")  # the fake systemctl is not on it
    assert result.returncode == 0, result.stderr
    assert machine.current() == "0.2.0" and machine.calls() == []


# --- pieces -----------------------------------------------------------------------------------

@pytest.mark.slow  # builds a wheel, installs into a prefix
def test_built_wheel_carries_the_checkout_layout():
    wheel = read_wheel(project_wheel())
    assert wheel.version == VERSION and any(r.startswith("pyside6-essentials") for r in wheel.requires)
    names = zipfile.ZipFile(project_wheel()).namelist()
    for needed in ("kiosk/cli.py", "drivers/errors.py", "forms/enrol.toml", "assets/qml/touch_keyboard.qml"):
        assert needed in names


def test_outbox_opens_a_newer_schema_only_as_declared(tmp_path: Path):
    cipher = FieldCipher.load_or_create(tmp_path / "keys/outbox.key")
    db = tmp_path / "outbox.sqlite3"
    store = OutboxStore(db, cipher)
    sid = store.enqueue(store.new_submission_id(), "enrol", "K1", {"a": 1}).id
    store.close()

    def declare(version: int, min_reader: int | None) -> None:
        with sqlite3.connect(db) as raw:
            raw.execute(f"PRAGMA user_version={version}")
            raw.execute("DELETE FROM meta WHERE name IN ('schema_version', 'min_reader_version')")
            if min_reader is not None:
                raw.executemany("INSERT INTO meta VALUES (?, ?)", (("schema_version", str(version)), ("min_reader_version", str(min_reader))))

    declare(SCHEMA_VERSION + 1, SCHEMA_VERSION)  # a newer, additive schema
    with OutboxStore(db, cipher) as newer:
        assert newer.get(sid).state == "pending"
        newer.enqueue(newer.new_submission_id(), "enrol", "K1", {"a": 2})
    with sqlite3.connect(db) as raw:  # not migrated down, declaration kept
        assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION + 1
    declare(SCHEMA_VERSION + 1, SCHEMA_VERSION + 1)  # needs newer software
    with pytest.raises(OutboxError, match=f"needs software of schema {SCHEMA_VERSION + 1}"):
        OutboxStore(db, cipher)
    declare(SCHEMA_VERSION + 1, None)  # nobody declared anything: refused
    with pytest.raises(OutboxError):
        OutboxStore(db, cipher)
    with sqlite3.connect(db) as raw:  # a declaration by another schema does not count
        raw.execute(f"PRAGMA user_version={SCHEMA_VERSION + 2}")
        raw.executemany("INSERT INTO meta VALUES (?, ?)", (("schema_version", str(SCHEMA_VERSION + 1)), ("min_reader_version", "1")))
    with pytest.raises(OutboxError):
        OutboxStore(db, cipher)


def test_a_fresh_and_an_old_outbox_declare_their_readers(tmp_path: Path):
    cipher = FieldCipher.load_or_create(tmp_path / "keys/outbox.key")
    OutboxStore(tmp_path / "o.sqlite3", cipher).close()
    with sqlite3.connect(tmp_path / "o.sqlite3") as raw:
        meta = dict(raw.execute("SELECT name, CAST(value AS TEXT) FROM meta WHERE name LIKE '%version'").fetchall())
        assert meta == {"schema_version": str(SCHEMA_VERSION), "min_reader_version": "3"}
        raw.execute("DELETE FROM meta WHERE name LIKE '%version'")  # as software before the declaration left it
    OutboxStore(tmp_path / "o.sqlite3", cipher).close()
    with sqlite3.connect(tmp_path / "o.sqlite3") as raw:
        assert raw.execute("SELECT COUNT(*) FROM meta WHERE name LIKE '%version'").fetchone()[0] == 2


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to own files as another user")
def test_reading_the_data_as_root_leaves_the_services_files_to_the_service(tmp_path: Path):
    data = tmp_path / "data"
    data.mkdir()
    cipher = FieldCipher.load_or_create(data / "keys/outbox.key")
    OutboxStore(data / "outbox.sqlite3", cipher).close()  # stopped: no -wal/-shm left
    service = 65534  # nobody
    for path in data.rglob("*"):
        os.chown(path, service, service)
    (stored,) = stored_schemas(data)  # as root, the way kiosk update and install.sh read it
    assert stored.schema == SCHEMA_VERSION and stored.min_reader == 3
    for suffix in ("-wal", "-shm"):
        made = data / f"outbox.sqlite3{suffix}"
        assert not made.exists() or made.stat().st_uid == service, suffix


def test_selfcheck_copy_leaves_the_original_and_reads_every_pending_row(tmp_path: Path):
    from kiosk.commands.update_selfcheck import copy_check

    empty = tmp_path / "empty/outbox.sqlite3"
    OutboxStore(empty, None, key_path=tmp_path / "empty/keys/outbox.key", create_key=False).close()
    result, summary = copy_check(empty, tmp_path / "empty/keys/none.key")  # a machine that never submitted: no key
    assert result["status"] == "ok" and summary["rows"] == 0

    cipher = FieldCipher.load_or_create(tmp_path / "keys/outbox.key")
    db = tmp_path / "outbox.sqlite3"
    with OutboxStore(db, cipher) as store:
        ids = [store.enqueue(store.new_submission_id(), "enrol", "K1", {"n": i}).id for i in range(3)]
        store.claim_batch(1)  # one is being sent right now
    original = db.read_bytes()
    result, summary = copy_check(db, tmp_path / "keys/outbox.key")
    assert result["status"] == "ok", result
    assert summary["rows"] == 3 and summary["pending"] == 3 and summary["readable_pending"] == 3
    assert db.read_bytes() == original
    with OutboxStore(db, cipher) as store:
        assert sorted(e.id for e in store.list()) == sorted(ids)
    result, _ = copy_check(db, tmp_path / "keys/other.key")  # the wrong key file
    assert result["status"] == "error" and "key" in result["detail"]


def test_prune_keeps_current_previous_and_the_newest(tmp_path: Path):
    layout = Layout.under(tmp_path, tmp_path / "config.toml", tmp_path / "data")
    for i in range(6):
        (layout.opt / f"0.{i}.0").mkdir(parents=True)
        (layout.opt / f"0.{i}.0" / ".installed").write_text("x")
        os.utime(layout.opt / f"0.{i}.0" / ".installed", (1000 + i, 1000 + i))
    (layout.opt / "0.9.0").mkdir()  # unfinished build: not a release, left to the next build of it
    switch(layout, "current", "0.5.0")
    switch(layout, "previous", "0.1.0")
    removed = prune(layout, 2, lambda _: None)
    assert removed == ["0.0.0", "0.2.0"]
    assert sorted(p.name for p in layout.opt.iterdir()) == ["0.1.0", "0.3.0", "0.4.0", "0.5.0", "0.9.0", "current", "previous"]
    assert os.readlink(layout.opt / "current") == "0.5.0" and not (layout.opt / ".current.new").exists()


class FakeUnits:
    """The states in turn, the last one repeated; None in the list means "restarted once more"."""

    def __init__(self, states: list[UnitState | None]) -> None:
        self.states = states
        self.restarts = 0

    def restart(self, units: list[str]) -> None:
        pass

    def state(self, unit: str) -> UnitState:
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        if state is None:  # a watchdog kill every poll: active, but never for long
            self.restarts += 1
            return UnitState("active", "running", self.restarts)
        return state


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def test_the_process_from_before_the_restart_does_not_count():
    clock = FakeClock()
    old = UnitState("active", "running", 0, "inv-1")
    new = UnitState("active", "running", 0, "inv-2")
    units = FakeUnits([old, old, old, new])  # the restart job starts a little later
    health = wait_healthy(units, ["yibao-kiosk.service"], 60, 10, clock=clock, pause=clock.sleep, old={"yibao-kiosk.service": "inv-1"})
    assert health.ok and clock.t >= 3 + 10
    stuck = wait_healthy(FakeUnits([old]), ["yibao-kiosk.service"], 20, 10, clock=clock, pause=clock.sleep,
                         old={"yibao-kiosk.service": "inv-1"})
    assert not stuck.ok and "not restarted yet" in stuck.problem


@pytest.mark.parametrize("states, ok, problem", [
    ([UnitState("activating", "start", 0), UnitState("active", "running", 0)], True, ""),
    ([UnitState("active", "running", 0), None], False, "not healthy within 60 s"),  # killed by the watchdog again and again
    ([UnitState("active", "running", 0), UnitState("failed", "failed", 3)], False, "failed"),
    ([UnitState("activating", "auto-restart", 4)], False, "not healthy within 60 s"),
])
def test_units_must_settle_without_restarts(states, ok, problem):
    clock = FakeClock()
    health = wait_healthy(FakeUnits(states), ["yibao-kiosk.service"], timeout_s=60, settle_s=10, clock=clock, pause=clock.sleep)
    assert health.ok is ok and problem in health.problem


def test_update_error_is_user_facing():
    err = UpdateError("x", usage=True)
    assert err.exit_code == 2 and UpdateError("y").exit_code == 1
