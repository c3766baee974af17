"""`kiosk ticket` and `kiosk queue` as a user's script runs them (subprocess, JSON on stdout)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.printer.simulator import parse_escpos, split_tickets

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def env(tmp_path):
    forms = tmp_path / "forms"
    forms.mkdir()
    (forms / "benefit.toml").write_text('code = "BX02"\nband = "B"\n[title]\nzh_CN = "门诊慢特病待遇报销"\n',
                                        encoding="utf-8")
    (forms / "broken.toml").write_text("code = [", encoding="utf-8")
    config = (ROOT / "config.toml").read_text(encoding="utf-8")
    config = config.replace('forms_dir = "forms"', f'forms_dir = "{forms.as_posix()}"')
    (tmp_path / "config.toml").write_text(config, encoding="utf-8")
    return {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}, tmp_path / "config.toml"


def kiosk(env, *args):
    environ, config = env
    return subprocess.run([sys.executable, "-m", "kiosk", *args, "--config", str(config)], cwd=ROOT, env=environ,
                          capture_output=True, text=True, timeout=60)


def test_ticket_out_writes_exact_escpos_and_queue_call_announces(env, tmp_path):
    out = tmp_path / "ticket.bin"
    done = kiosk(env, "ticket", "--service", "BX02", "--priority", "--out", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["number"] == "B001" and result["service"] == "BX02" and result["priority"] is True
    assert result["printed"] is True and result["people_ahead"] == 0 and result["estimated_wait_min"] == 0
    (ticket,) = split_tickets(parse_escpos(out.read_bytes()))
    assert "门诊慢特病待遇报销" in ticket.lines and "B001" in ticket.lines and ticket.cut
    assert ticket.qr_payloads == [result["ticket_id"]]

    second = json.loads(kiosk(env, "ticket", "--service", "ANY9", "--out", str(out)).stdout)
    assert second["number"] == "D001" and second["service_name"] == "ANY9"  # no form: any code, band D

    called = kiosk(env, "queue", "call", "--counter", "2")
    assert called.returncode == 0, called.stderr
    payload = json.loads(called.stdout)
    assert payload["ticket"]["number"] == "B001" and payload["announcement"] == "请 B001 号到 2 号窗口办理"
    assert json.loads(kiosk(env, "queue", "done", "--counter", "2").stdout)["ticket"]["state"] == "done"
    assert json.loads(kiosk(env, "queue", "call", "--counter", "2", "--service", "BX02").stdout)["ticket"] is None


def test_ticket_on_simulated_printer_and_failed_print_exit_code(env, tmp_path):
    done = kiosk(env, "ticket", "--service", "BX02")  # config printer url is sim://
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["print"]["status_after"] == {"online": True, "paper": "ok"}

    failed = kiosk(env, "ticket", "--service", "BX02", "--printer", str(tmp_path / "no-such-tty"))
    assert failed.returncode == 1
    result = json.loads(failed.stdout)
    assert result["number"] == "B002" and result["printed"] is False and result["print_state"] == "failed"
    assert "B002" in failed.stderr


def test_unknown_band_is_a_clear_error(env):
    done = kiosk(env, "ticket", "--service", "X", "--band", "Q")
    assert done.returncode == 2 and "unknown queue band" in done.stderr
