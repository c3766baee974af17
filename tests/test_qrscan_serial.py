"""SerialQrScanner against the pty simulator: scans, garbage, unplug."""
from __future__ import annotations

import threading

import pytest
from waiting import Counter

from drivers.qrscan import (
    GarbageRejected, QrScannerSimulator, ScannerConnected, ScannerDisconnected, SerialQrScanner, VoucherScanned,
)
from drivers.qrscan.serial_scanner import LineSplitter


class Events:
    def __init__(self):
        self.items = []
        self.cond = threading.Condition()

    def __call__(self, event):
        with self.cond:
            self.items.append(event)
            self.cond.notify_all()

    def wait(self, kind, count=1, timeout=5):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.of(kind)) >= count, timeout), self.items
        return self.of(kind)

    def of(self, kind):
        return [e for e in self.items if isinstance(e, kind)]


@pytest.fixture
def scanner():
    sim = QrScannerSimulator()
    path = sim.start_pty()
    events, stop = Events(), threading.Event()
    thread = threading.Thread(target=SerialQrScanner(path, 9600, reopen_s=0.1).run, args=(stop, events), daemon=True)
    thread.start()
    events.wait(ScannerConnected)
    yield sim, events
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()
    sim.stop()


def test_scanned_codes_arrive_one_event_each(scanner):
    sim, events = scanner
    sim.scan("EC1A2B3C4D5E6F70819203")
    sim.write(b"SECOND-CODE-0001\n")
    scans = events.wait(VoucherScanned, 2)
    assert [s.code for s in scans] == ["EC1A2B3C4D5E6F70819203", "SECOND-CODE-0001"]


def test_binary_and_over_long_lines_are_rejected_and_scanning_continues(scanner):
    sim, events = scanner
    sim.write(b"\x00\xff\x13garbage\r\n")
    sim.write(b"A" * 2000 + b"\r\n")
    sim.scan("GOOD-CODE-123")
    assert [s.code for s in events.wait(VoucherScanned)] == ["GOOD-CODE-123"]
    assert [g.reason for g in events.of(GarbageRejected)] == ["binary", "too_long"]


def test_unplugged_scanner_is_reported(scanner):
    sim, events = scanner
    sim.unplug()
    events.wait(ScannerDisconnected)


def test_line_splitter_handles_split_chunks_and_crlf():
    splitter = LineSplitter()
    assert splitter.feed(b"ABCD") == []
    assert splitter.feed(b"EFGH\r") == [VoucherScanned("ABCDEFGH")]
    assert splitter.feed(b"\n") == []


def test_missing_port_never_connects(monkeypatch):
    from drivers.qrscan import serial_scanner

    opens = Counter(serial_scanner.serial.serial_for_url)
    monkeypatch.setattr(serial_scanner.serial, "serial_for_url", opens)
    events, stop = Events(), threading.Event()
    thread = threading.Thread(target=SerialQrScanner("/dev/nonexistent-qr", reopen_s=0.05).run, args=(stop, events))
    thread.start()
    opens.wait(4)  # it keeps trying to open the port, quietly
    stop.set()
    thread.join(timeout=5)
    assert events.items == []
