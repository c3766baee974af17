"""`kiosk read-id` as a user runs it: a subprocess against the simulator on a real pty."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.idcard.simulator import Faults, IdCardSimulator, load_profile

PROJECT = Path(__file__).resolve().parent.parent
CARDS = PROJECT / "assets" / "cards" / "idcard"
KEYS = ["name", "sex", "nation", "birth_date", "address", "id_number", "issuer", "valid_from", "valid_until", "card_type"]


def kiosk(tmp_path: Path, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([sys.executable, "-m", "kiosk", "read-id", *args], cwd=PROJECT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def sim():
    simulator = IdCardSimulator(load_profile(CARDS / "resident.json"), Faults())
    yield simulator
    simulator.stop()


def test_json_is_masked_by_default(sim, tmp_path):
    result = kiosk(tmp_path, "--port", sim.start_pty(), "--json")
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    assert list(card) == KEYS
    assert card["id_number"] == "110105********0019"
    assert card["name"] == "张*" and "建国路" not in card["address"] and card["address"].startswith("北京市朝阳区")
    assert (card["birth_date"], card["valid_until"], card["card_type"], card["nation"]) == ("1950-03-07", "长期", "resident", "汉")
    assert "110105195003070019" not in result.stdout + result.stderr


def test_unmasked_json(sim, tmp_path):
    card = json.loads(kiosk(tmp_path, "--port", sim.start_pty(), "--json", "--unmasked").stdout)
    assert (card["id_number"], card["name"]) == ("110105195003070019", "张三")


def test_human_summary_is_masked(sim, tmp_path):
    result = kiosk(tmp_path, "--port", sim.start_tcp())
    assert result.returncode == 0, result.stderr
    assert "居民身份证" in result.stdout and "110105********0019" in result.stdout and "张三" not in result.stdout


def test_foreign_card_json(tmp_path):
    with IdCardSimulator(load_profile(CARDS / "foreign.json")) as sim:
        card = json.loads(kiosk(tmp_path, "--port", sim.start_pty(), "--json").stdout)
    assert card["card_type"] == "foreign" and card["valid_until"] == "2029-01-15"


def test_default_port_sim_uses_the_configured_profile(tmp_path):
    result = kiosk(tmp_path, "--json")  # config.toml: port = "sim://"
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id_number"] == "110105********0019"


def test_bad_port_exits_1_with_a_message(tmp_path):
    result = kiosk(tmp_path, "--port", str(tmp_path / "ttyNOPE"), "--json", "--timeout", "5")
    assert result.returncode == 1
    assert result.stdout == ""
    assert "kiosk read-id: cannot use the ID card reader" in result.stderr and "Traceback" not in result.stderr


def test_no_card_times_out_with_exit_1(sim, tmp_path):
    sim.remove()
    result = kiosk(tmp_path, "--port", sim.start_pty(), "--json", "--timeout", "1")
    assert result.returncode == 1
    assert "no ID card read within 1 s" in result.stderr and "Traceback" not in result.stderr


def test_silent_device_exits_1(sim, tmp_path):
    sim.faults.silent = True
    result = kiosk(tmp_path, "--port", sim.start_pty(), "--timeout", "5")
    assert result.returncode == 1 and "no reply" in result.stderr and "Traceback" not in result.stderr
