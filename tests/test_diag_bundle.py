"""The support bundle masks personal data only: timestamps, simulator names, service codes and
submission ids stay readable (a bundle a technician cannot read is no help). And `--bundle`
into a folder that does not exist is refused, creating nothing."""
from __future__ import annotations

import datetime as dt
import os
import subprocess
import zipfile
from pathlib import Path

from kiosk.config import load_config
from kiosk.services import diagnostics as d
from kiosk.services.crypto import FieldCipher
from kiosk.services.outbox import OutboxStore

ROOT = Path(__file__).resolve().parent.parent
SID, RATED = "5d61ff4f-81b8-4555-bf3d-0e3fa9a200f6", "0b7e1c2a-4f3e-4b8a-9c1d-2e3f4a5b6c7d"
NAME, ID_NUMBER, PHONE = "欧阳娜娜", "11010519491231002X", "13912345678"


def test_bundle_keeps_technical_text_readable_and_masks_the_person(tmp_path: Path) -> None:
    config = load_config(ROOT / "config.toml", environ={"KIOSK_DATA_DIR": str(tmp_path / "data")})
    today = dt.date.today().isoformat()
    store = OutboxStore(config.data_dir / "outbox.sqlite3", FieldCipher.load_or_create(config.outbox_key_path))
    store.enqueue(SID, "newborn", config.kiosk.id, {
        "service": "newborn", "form_version": 1,
        "applicant": {"name": NAME, "id_number": ID_NUMBER, "source": "idcard", "birth_date": "1949-12-31"},
        "answers": {"baby_name": "欧阳小明", "baby_birth_date": today, "phone": PHONE, "insurance_type": "resident",
                    "amount": "128.50"}})
    store.enqueue(RATED, "newborn", config.kiosk.id, {"service": "newborn", "reference": SID, "score": 5, "reason": ""},
                  kind="rating")
    store.close()
    logs = config.data_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "kiosk.log").write_text(
        f"{today} 10:00:00,001 INFO MainThread kiosk.devices: simulated ID card reader on /tmp/idcard-sim-x/ttyIDCARD "
        f"(assets/cards/idcard/resident.json), sscard standard.json\n"
        f"{today} 10:00:01,002 INFO sync-worker kiosk.services.sync: sent {SID} (newborn) and rating {RATED} of {SID}\n"
        f"{today}T10:00:02 WARNING leaked {NAME} {ID_NUMBER} born 1949-12-31 phone {PHONE} baby 欧阳小明\n"
        f"{today} 10:00:03,004 INFO camera 1280x836 frame; amount 128.50\n", encoding="utf-8")
    path = d.write_bundle(config, tmp_path / "bundle.zip", d.run_checks(config, only=["app", "config", "outbox"]))
    with zipfile.ZipFile(path) as zf:
        log = zf.read("logs/kiosk.log").decode("utf-8")
        outbox = zf.read("outbox.json").decode("utf-8")
        checks = zf.read("checks.json").decode("utf-8")
    for personal in (NAME, ID_NUMBER, PHONE, "1949-12-31", "欧阳小明"):
        assert personal not in log, personal
    for readable in (f"{today} 10:00:00,001", f"{today}T10:00:02", "ttyIDCARD", "idcard-sim", "resident.json",
                     "standard.json", "sscard", "(newborn)", SID, RATED, "1280x836", "kiosk.services.sync"):
        assert readable in log, readable
    assert SID in outbox and RATED in outbox and '"service": "newborn"' in outbox and today in outbox
    assert "resident.json" in checks and "idcard" in checks and "config.forms" in checks


def test_bundle_into_a_missing_folder_is_refused_before_any_check(tmp_path: Path) -> None:
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")}
    target = tmp_path / "no" / "such" / "bundle.zip"
    done = subprocess.run([str(ROOT / ".venv/bin/kiosk"), "diag", "--bundle", str(target)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 2 and done.stderr.strip().count("\n") == 0 and "does not exist" in done.stderr
    assert not done.stdout  # no table: refused before anything ran
    assert not (tmp_path / "no").exists()
