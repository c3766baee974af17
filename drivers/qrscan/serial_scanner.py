"""USB-serial QR scanner: each scan arrives as the code followed by CR and/or LF.

`SerialQrScanner.run()` is the body of the scanner's device thread: it (re)opens the port,
splits lines, and hands events to `on_event`. Lines that are too long or not printable text are
rejected with `GarbageRejected` (a scanner at the wrong baud rate produces exactly that).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass

import serial

from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch
from drivers.qrscan.errors import ScannerPortUnavailable

log = logging.getLogger("drivers.qrscan")

MAX_CODE_LEN = 512  # 医保电子凭证 codes are well under 100 characters


@dataclass(frozen=True)
class VoucherScanned:
    code: str


@dataclass(frozen=True)
class ScannerConnected:
    port: str


@dataclass(frozen=True)
class ScannerDisconnected:
    port: str
    reason: str = ""


@dataclass(frozen=True)
class GarbageRejected:
    reason: str  # "too_long" | "binary"
    length: int  # never the bytes themselves: they may be part of a personal code


def classify_line(line: bytes) -> VoucherScanned | GarbageRejected | None:
    """One line without its terminator → event; blank lines are ignored (CR LF pairs)."""
    line = line.strip(b" \t")
    if not line:
        return None
    if len(line) > MAX_CODE_LEN:
        return GarbageRejected("too_long", len(line))
    if not all(0x21 <= b < 0x7F for b in line):
        return GarbageRejected("binary", len(line))
    return VoucherScanned(line.decode("ascii"))


class LineSplitter:
    """Bytes in, complete lines out; an unterminated line past the limit is dropped as garbage."""

    def __init__(self, limit: int = MAX_CODE_LEN) -> None:
        self.limit = limit
        self.buffer = bytearray()
        self.overflow = 0

    def feed(self, chunk: bytes) -> list[VoucherScanned | GarbageRejected]:
        events: list[VoucherScanned | GarbageRejected] = []
        for byte in chunk:
            if byte in (0x0D, 0x0A):
                if self.overflow:
                    events.append(GarbageRejected("too_long", self.overflow))
                    self.overflow = 0
                else:
                    event = classify_line(bytes(self.buffer))
                    if event is not None:
                        events.append(event)
                self.buffer.clear()
                continue
            if self.overflow:
                self.overflow += 1
            elif len(self.buffer) >= self.limit:
                self.overflow = len(self.buffer) + 1
                self.buffer.clear()
            else:
                self.buffer.append(byte)
        return events


class SerialQrScanner:
    """A QR scanner on a serial port or pyserial URL (`/dev/ttyACM0`, `socket://…`, a pty path)."""

    def __init__(self, port_url: str, baud: int = 9600, reopen_s: float = 1.0, read_timeout_s: float = 0.2) -> None:
        self.port_url = port_url
        self.baud = baud
        self.reopen_s = reopen_s
        self.read_timeout_s = read_timeout_s

    def run(self, stop: threading.Event, on_event: Callable[[object], None]) -> None:
        connected = False
        while not stop.is_set():
            try:
                port = serial.serial_for_url(self.port_url, baudrate=self.baud, timeout=self.read_timeout_s)
            except (serial.SerialException, OSError, ValueError) as exc:
                if connected:
                    on_event(ScannerDisconnected(self.port_url, str(exc)))
                    connected = False
                stop.wait(self.reopen_s)
                continue
            connected = True
            on_event(ScannerConnected(self.port_url))
            splitter = LineSplitter()
            try:
                while not stop.is_set():
                    chunk = port.read(port.in_waiting or 1)
                    for event in splitter.feed(chunk):
                        if isinstance(event, GarbageRejected):
                            log.warning("QR scanner sent garbage (%s, %d bytes)", event.reason, event.length)
                        on_event(event)
            except (serial.SerialException, OSError) as exc:
                on_event(ScannerDisconnected(self.port_url, str(exc)))
                connected = False
                stop.wait(self.reopen_s)
            finally:
                try:
                    port.close()
                except Exception:  # noqa: BLE001 — a port that vanished may fail to close
                    pass
        if connected:
            on_event(ScannerDisconnected(self.port_url, "stopped"))


def self_test(port_url: str, baud: int = 9600) -> list[CheckResult]:
    """The scanner's port opens (a scanner says nothing until something is scanned). Never raises."""
    with Stopwatch() as sw:
        try:
            serial.serial_for_url(port_url, baudrate=baud, timeout=0.05).close()
            error: ScannerPortUnavailable | None = None
        except (serial.SerialException, OSError, ValueError) as exc:
            error = ScannerPortUnavailable(f"cannot open {port_url}: {exc}")
    if error is not None:
        return [CheckResult("qrscan.port", CheckStatus.MISSING, error.detail, "无法打开扫码器端口", sw.ms, {"port": port_url},
                            code=error.code)]
    return [CheckResult("qrscan.port", CheckStatus.OK, f"{port_url} open", "扫码器端口已打开", sw.ms, {"port": port_url})]
