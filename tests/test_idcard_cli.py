"""`kiosk read-id` as a user runs it: a subprocess against the simulator on a real pty."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from waiting import wait_until

from drivers.idcard import protocol as p
from drivers.idcard.simulator import Faults, IdCardSimulator, load_profile, profile_from_fields

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
    # The hidden eight digits are the birth date: masked output shows its year only.
    assert (card["birth_date"], card["valid_from"], card["valid_until"]) == ("1950-**-**", "2015-**-**", "长期")
    assert (card["card_type"], card["nation"]) == ("resident", "汉")
    assert "110105195003070019" not in result.stdout + result.stderr and "0307" not in result.stdout


def test_unmasked_json(sim, tmp_path):
    card = json.loads(kiosk(tmp_path, "--port", sim.start_pty(), "--json", "--unmasked").stdout)
    assert (card["id_number"], card["name"]) == ("110105195003070019", "张三")
    assert (card["birth_date"], card["valid_from"]) == ("1950-03-07", "2015-06-01")


def test_human_summary_is_masked(sim, tmp_path):
    result = kiosk(tmp_path, "--port", sim.start_tcp())
    assert result.returncode == 0, result.stderr
    assert "居民身份证" in result.stdout and "110105********0019" in result.stdout and "张三" not in result.stdout
    assert "出生 1950-**-**" in result.stdout and "03-07" not in result.stdout


def test_foreign_card_json(tmp_path):
    with IdCardSimulator(load_profile(CARDS / "foreign.json")) as sim:
        card = json.loads(kiosk(tmp_path, "--port", sim.start_pty(), "--json").stdout)
    assert card["card_type"] == "foreign" and card["valid_until"] == "2029-**-**"
    # The 2017 permit number holds the birth date as YYMMDD at 7..12: hidden, whatever the config.
    assert card["id_number"] == "USA110*******01" and card["birth_date"] == "1980-**-**"


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


GOOD = dict(name="张三", sex="男", nation="汉", birth_date="1950-03-07", address="北京市朝阳区建国路88号",
            id_number="110105195003070019", issuer="北京市公安局朝阳分局", valid_from="2015-06-01", valid_until="长期")


@pytest.mark.parametrize("card, problem", [
    (profile_from_fields(**{**GOOD, "id_number": "110105195003070018"}), "check character"),
    (profile_from_fields(**{**GOOD, "name": ""}), "no name"),
    (profile_from_fields(**{**GOOD, "id_number": "ABC"}), "not 18 characters"),
    (profile_from_fields("hk", "hk_mo_tw", **GOOD), "810000"),
    (profile_from_fields("odd", flag="Z", **GOOD), "unknown card type"),
    (profile_from_fields("foreign", "foreign", english_name="DOE, JANE", id_number="not-a-permit"), "permit"),
])
def test_card_data_that_is_not_a_valid_person_is_a_read_error(tmp_path, card, problem):
    with IdCardSimulator(card) as sim:
        result = kiosk(tmp_path, "--port", sim.start_pty(), "--json", "--timeout", "10")
    assert result.returncode == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kiosk read-id: The card data is not a valid ID card") and problem in lines[0]
    assert "110105" not in result.stderr and "张" not in result.stderr  # the message names the fault, not the data


def _cli_polling(sim: IdCardSimulator, *args: str, tmp_path: Path) -> subprocess.Popen:
    """Start read-id with no card on the reader; return once it is polling (find requests seen)."""
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")}
    proc = subprocess.Popen([sys.executable, "-m", "kiosk", "read-id", "--port", sim.start_pty(), *args], cwd=PROJECT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def polling() -> bool:
        assert proc.poll() is None, proc.communicate()
        return any(cmd == p.FIND_CARD[0] for _, cmd, _ in list(sim.device.requests))

    wait_until(polling, 20, what="read-id polling the reader")
    return proc


def test_reader_unplugged_while_waiting_says_disconnected(sim, tmp_path):
    sim.remove()
    proc = _cli_polling(sim, "--json", "--timeout", "20", tmp_path=tmp_path)
    started = time.monotonic()
    sim.unplug()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 1 and out == ""
    assert err.strip().startswith("kiosk read-id: ID card reader disconnected") and len(err.strip().splitlines()) == 1
    assert "no ID card read" not in err and time.monotonic() - started < 10  # not a wait for --timeout


@pytest.mark.parametrize("when", ["from the start", "mid-session"])
def test_slow_reader_says_it_answered_too_slowly(sim, tmp_path, when):
    sim.remove()
    if when == "from the start":
        sim.faults.slow_reply_s = 1.3  # after the 1 s reply timeout, within the 1 s grace period
        result = kiosk(tmp_path, "--port", sim.start_pty(), "--json", "--timeout", "20")
        out, err, code = result.stdout, result.stderr, result.returncode
    else:
        proc = _cli_polling(sim, "--json", "--timeout", "30", tmp_path=tmp_path)
        sim.faults.slow_reply_s = 1.3
        out, err = proc.communicate(timeout=40)
        code = proc.returncode
    assert code == 1 and out == ""
    assert err.strip().splitlines() == [err.strip()] and "kiosk read-id: ID card reader answered too slowly" in err
    assert "Traceback" not in err
