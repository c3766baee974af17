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
    (forms / "benefit.toml").write_text('code = "bx02"\nband = "B"\n[title]\nzh_CN = "门诊慢特病待遇报销"\n'
                                        '[guide]\nwho = "参保人"\nmaterials = ["身份证"]\ndays = 20\nresult = "窗口"\n',
                                        encoding="utf-8")  # every service has its 办事指南 (issue 19)
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
    done = kiosk(env, "ticket", "--service", "bx02", "--priority", "--out", str(out))
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["number"] == "B001" and result["service"] == "bx02" and result["priority"] is True
    assert result["printed"] is True and result["people_ahead"] == 0 and result["estimated_wait_min"] == 0
    (ticket,) = split_tickets(parse_escpos(out.read_bytes()))
    assert "门诊慢特病待遇报销" in ticket.lines and "B001" in ticket.lines and ticket.cut
    assert ticket.qr_payloads == [result["ticket_id"]]

    second = json.loads(kiosk(env, "ticket", "--service", "bx02", "--band", "D", "--out", str(out)).stdout)
    assert second["number"] == "D001" and second["service_name"] == "门诊慢特病待遇报销"  # --band overrides the form's

    called = kiosk(env, "queue", "call", "--counter", "2")
    assert called.returncode == 0, called.stderr
    payload = json.loads(called.stdout)
    assert payload["ticket"]["number"] == "B001" and payload["announcement"] == "请 B001 号到 2 号窗口办理"
    assert json.loads(kiosk(env, "queue", "done", "--counter", "2").stdout)["ticket"]["state"] == "done"
    assert json.loads(kiosk(env, "queue", "call", "--counter", "2", "--service", "bx02").stdout)["ticket"]["number"] == "D001"
    assert json.loads(kiosk(env, "queue", "call", "--counter", "2", "--service", "bx02").stdout)["ticket"] is None


def test_ticket_on_simulated_printer_and_failed_print_exit_code(env, tmp_path):
    done = kiosk(env, "ticket", "--service", "bx02")  # config printer url is sim://
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["print"]["status_after"] == {"online": True, "paper": "ok"}

    failed = kiosk(env, "ticket", "--service", "bx02", "--printer", str(tmp_path / "no-such-tty"))
    assert failed.returncode == 1
    result = json.loads(failed.stdout)
    assert result["number"] == "B002" and result["printed"] is False and result["print_state"] == "failed"
    assert "B002" in failed.stderr


def test_unknown_band_is_a_clear_error(env):
    done = kiosk(env, "ticket", "--service", "bx02", "--band", "Q")
    assert done.returncode == 2 and "unknown queue band" in done.stderr


def test_ticket_refuses_a_code_that_is_not_a_service(env, tmp_path):
    for code in ("ANY9", "broken", "BX02"):  # no form; a form that does not load; wrong case
        done = kiosk(env, "ticket", "--service", code, "--out", str(tmp_path / "t.bin"))
        assert done.returncode == 2 and "is not a service" in done.stderr and "bx02" in done.stderr, done.stderr
        assert done.stderr.count("\n") == 1 and not done.stdout
    assert not (tmp_path / "t.bin").exists()
    assert kiosk(env, "queue", "call", "--counter", "1").stdout.count('"ticket": null') == 1  # nothing was issued


def test_unusable_out_or_preview_issues_no_number(env, tmp_path):
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    for extra in (["--out", str(tmp_path / "missing" / "t.bin")], ["--out", str(tmp_path)],
                  ["--out", str(a_file / "t.bin")],
                  ["--out", str(tmp_path / "t.bin"), "--preview", str(tmp_path / "missing" / "p.png")]):
        done = kiosk(env, "ticket", "--service", "bx02", *extra)
        assert done.returncode == 2 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
        assert "--out" in done.stderr or "--preview" in done.stderr
    assert not (tmp_path / "t.bin").exists() and not (tmp_path / "missing").exists()
    first = json.loads(kiosk(env, "ticket", "--service", "bx02", "--out", str(tmp_path / "t.bin")).stdout)
    assert first["number"] == "B001"  # the refused attempts consumed no number


@pytest.mark.parametrize("counter", ["99999999999999999999", "0", "-3", "x"])
def test_queue_counter_out_of_range_is_a_usage_error(env, counter):
    done = kiosk(env, "queue", "call", "--counter", counter)
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--counter" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
