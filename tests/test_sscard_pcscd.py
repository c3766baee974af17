"""The whole stack for real: emulator → vpcd → pcscd → pyscard → read_sscard / monitor / CLI."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from drivers.diagnostics import CheckStatus
from drivers.sscard.emulator import CardFaults, CardProfile
from drivers.sscard.errors import CardMute, CardRemovedError, FileNotFound
from drivers.sscard.reader import (
    CardInserted, CardRead, CardReadFailed, CardRemoved, PcscUnavailable, ReaderAttached, SsCardMonitor,
    read_reader, self_test,
)
from pcscd_fixture import pcscd, vpcd_card, wait_card  # noqa: F401

pytestmark = pytest.mark.pcscd
ROOT = Path(__file__).resolve().parent.parent
CARDS = ROOT / "assets/cards/sscard"


@pytest.mark.parametrize("profile", ["standard.json", "expired.json", "record_style.json", "gbk_ext.json"])
def test_each_profile_reads_through_pcscd(pcscd, vpcd_card, profile):
    vpcd_card(CARDS / profile)
    assert read_reader(pcscd.reader, timeout_s=10) == CardProfile.load(CARDS / profile).data


@pytest.mark.parametrize("faults", [CardFaults(use_61xx=True), CardFaults(use_6cxx=True)], ids=["61xx", "6Cxx"])
def test_protocol_quirks_read_through_pcscd(pcscd, vpcd_card, faults):
    vpcd_card(CARDS / "gbk_ext.json", faults)
    assert read_reader(pcscd.reader, timeout_s=10).name == "阿卜杜热合曼·买买提艾力·阿不都克热木"


def test_wrong_status_word_through_pcscd(pcscd, vpcd_card):
    vpcd_card(CARDS / "standard.json", CardFaults(wrong_sw={"EF06": 0x6A82}))
    with pytest.raises(FileNotFound):
        read_reader(pcscd.reader, timeout_s=10)


def test_card_pulled_mid_read_through_pcscd(pcscd, vpcd_card):
    vpcd_card(CARDS / "standard.json", CardFaults(pulled_mid_read=6))
    with pytest.raises(CardRemovedError):
        read_reader(pcscd.reader, timeout_s=10)


def test_mute_card_times_out_with_card_mute(pcscd, vpcd_card):
    vpcd_card(CARDS / "standard.json", CardFaults(mute=True))
    started = time.monotonic()
    with pytest.raises(CardMute):
        read_reader(pcscd.reader, timeout_s=1.5)
    assert time.monotonic() - started < 5


def test_self_test_reports_service_reader_and_atr(pcscd, vpcd_card):
    vpcd_card(CARDS / "standard.json")
    results = {r.name: r for r in self_test("Virtual PCD 00 00")}
    assert results["sscard.pcsc"].status is CheckStatus.OK
    assert results["sscard.reader"].detail == pcscd.reader
    assert results["sscard.card"].data["atr"] == "3B6C0000806411650190730000008107"
    assert self_test("no such reader")[-1].status is CheckStatus.MISSING


class Recorder:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.events.append(event)
            self.cond.notify_all()

    def wait_for(self, kind, count=1, timeout=15):
        with self.cond:
            ok = self.cond.wait_for(lambda: sum(isinstance(e, kind) for e in self.events) >= count, timeout)
        assert ok, f"no {kind.__name__} in {self.events}"
        return [e for e in self.events if isinstance(e, kind)][count - 1]


@pytest.fixture
def monitor(pcscd):
    stop = threading.Event()
    recorder = Recorder()
    thread = threading.Thread(target=SsCardMonitor("Virtual PCD 00 00", poll_s=0.2, read_timeout_s=3).run,
                              args=(stop, recorder), daemon=True)
    thread.start()
    yield recorder
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_monitor_reports_insert_read_remove_then_a_pulled_card(pcscd, vpcd_card, monitor):
    assert monitor.wait_for(ReaderAttached).name == pcscd.reader
    card = vpcd_card(CARDS / "standard.json")
    assert monitor.wait_for(CardInserted).atr_hex.startswith("3B6C")
    assert monitor.wait_for(CardRead).data.id_number == "110105195306150024"
    card.stop()
    monitor.wait_for(CardRemoved)
    vpcd_card(CARDS / "standard.json", CardFaults(pulled_mid_read=4), wait=False)
    failed = monitor.wait_for(CardReadFailed)
    assert isinstance(failed.error, CardRemovedError)
    monitor.wait_for(CardRemoved, count=2)


def test_monitor_reports_a_mute_card_and_keeps_running(pcscd, vpcd_card, monitor):
    monitor.wait_for(ReaderAttached)
    card = vpcd_card(CARDS / "standard.json", CardFaults(mute=True))
    assert isinstance(monitor.wait_for(CardReadFailed).error, CardMute)
    card.stop()
    monitor.wait_for(CardRemoved)
    vpcd_card(CARDS / "expired.json")
    assert monitor.wait_for(CardRead).data.is_expired(__import__("datetime").date.today())


MONITOR_SCRIPT = """
import threading, sys
from drivers.sscard.reader import SsCardMonitor
stop = threading.Event()
def on_event(event):
    print(type(event).__name__, getattr(event, "reason", ""), flush=True)
    stop.set()
SsCardMonitor(poll_s=0.1, backoff_max_s=0.2).run(stop, on_event)
"""


def test_monitor_without_pcscd_reports_unavailable():
    # pcsc-lite reads PCSCLITE_CSOCK_NAME once per process, hence a subprocess.
    done = subprocess.run([sys.executable, "-c", MONITOR_SCRIPT], capture_output=True, text=True, cwd=ROOT, timeout=30,
                          env={**os.environ, "PCSCLITE_CSOCK_NAME": "/nonexistent/pcscd.comm"})
    assert done.stdout.startswith("PcscUnavailable "), done.stdout + done.stderr
    assert len(done.stdout.split()) > 1  # a reason for the technician


@pytest.fixture(autouse=True)
def _own_data_dir(tmp_path, monkeypatch):
    """The CLI runs keep their data (logs, keys) in this test's folder, not a fixed /tmp path."""
    monkeypatch.setenv("KIOSK_DATA_DIR", str(tmp_path / "data"))


def _cli(*args, env=None, timeout=60):
    return subprocess.run([sys.executable, "-m", "kiosk", "read-sscard", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env={**os.environ, **(env or {})})


def test_cli_prints_masked_json_by_default_and_clear_with_unmasked(pcscd, vpcd_card):
    vpcd_card(CARDS / "standard.json")
    done = _cli("--reader", "Virtual PCD 00 00", "--json", "--timeout", "10")
    assert done.returncode == 0, done.stderr
    card = json.loads(done.stdout)
    assert card["id_number"] == "110105********0024" and card["name"] == "张**"
    assert card["birthplace"] == "110105" and card["expiry_date"] == "2033-**-**" and card["birth_date"] == "1953-**-**"
    clear = json.loads(_cli("--reader", "Virtual PCD 00 00", "--unmasked", "--timeout", "10").stdout)
    assert clear["id_number"] == "110105195306150024" and clear["name"] == "张秀英"
    assert list(clear) == list(card)


def test_cli_exits_1_on_timeout_and_no_reader(pcscd):
    wait_card(False, pcscd.reader)
    done = _cli("--reader", "Virtual PCD 00 00", "--timeout", "1")
    assert done.returncode == 1 and "Timed out" in done.stderr and not done.stdout
    done = _cli("--reader", "No Such Reader", "--timeout", "1")
    assert done.returncode == 1 and "reader" in done.stderr


def test_cli_exits_1_when_pcscd_is_down():
    done = _cli("--timeout", "1", env={"PCSCLITE_CSOCK_NAME": "/nonexistent/pcscd.comm"})
    assert done.returncode == 1 and "pcscd" in done.stderr
