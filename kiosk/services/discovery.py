"""What hardware is plugged in: serial ports, PC/SC readers, cameras, printers, and a probe that
asks a serial port whether a resident-ID (SAM) reader answers on it.

Used by `kiosk diag --bundle` (device list) and by the diagnostics when the configured ID reader
port opens but nothing answers ("wrong port?"). Never raises for a missing library or device:
each lister returns what it can see and says why it saw nothing.
"""
from __future__ import annotations

import glob
import os
import time
from dataclasses import asdict, dataclass, field

from drivers.idcard import protocol as p


@dataclass(frozen=True)
class SerialPortInfo:
    device: str
    description: str = ""
    hwid: str = ""
    vid: int | None = None
    pid: int | None = None
    manufacturer: str = ""

    def to_json(self) -> dict:
        return asdict(self)


def list_serial_ports() -> list[SerialPortInfo]:
    try:
        from serial.tools import list_ports
    except ImportError:
        return []
    ports = []
    for info in sorted(list_ports.comports(), key=lambda i: i.device):
        ports.append(SerialPortInfo(info.device, info.description or "", info.hwid or "", info.vid, info.pid,
                                    info.manufacturer or ""))
    return ports


@dataclass(frozen=True)
class PcscListing:
    readers: list[str] = field(default_factory=list)
    error: str = ""  # why no list: pyscard missing, pcscd not running

    def to_json(self) -> dict:
        return {"readers": list(self.readers), **({"error": self.error} if self.error else {})}


def list_pcsc_readers() -> PcscListing:
    from drivers.sscard.errors import SsCardError
    from drivers.sscard.reader import establish_context, list_readers, release_context

    context = None
    try:
        context = establish_context()
        return PcscListing(list_readers(context))
    except SsCardError as exc:
        return PcscListing([], exc.detail or exc.code)
    finally:
        release_context(context)


def list_cameras() -> list[str]:
    return sorted(glob.glob("/dev/video*"))


def list_printers() -> list[str]:
    """Device files a receipt printer shows up as (USB printer class, parallel); serial printers
    are among the serial ports."""
    return sorted(set(glob.glob("/dev/usb/lp*") + glob.glob("/dev/lp[0-9]*")))


# -- SAM probe -------------------------------------------------------------------------------

@dataclass(frozen=True)
class ProbeResult:
    port: str
    answered: bool  # an ID-card (SAM) reader answered the SAM status request
    outcome: str  # "reader" | "silent" | "not_sam" | "cannot_open"
    sw3: int | None = None
    detail: str = ""
    detail_zh: str = ""
    elapsed_ms: float = 0.0

    def to_json(self) -> dict:
        return {"port": self.port, "answered": self.answered, "outcome": self.outcome,
                "sw3": None if self.sw3 is None else f"{self.sw3:02X}", "detail": self.detail,
                "detail_zh": self.detail_zh, "elapsed_ms": round(self.elapsed_ms, 1)}


def probe_sam(port_url: str, timeout: float = 1.0, baud: int = 115200) -> ProbeResult:
    """Send SAM status (`11 FF`) and wait up to `timeout` s for a well-formed reply frame.

    A reply frame with any SW3 means a SAM reader is there (90 = ready; others are reported).
    Bytes that never form a frame mean some other device (`not_sam`); nothing at all = `silent`.
    """
    import serial

    start = time.perf_counter()

    def done(answered: bool, outcome: str, detail: str, detail_zh: str, sw3: int | None = None) -> ProbeResult:
        return ProbeResult(port_url, answered, outcome, sw3, detail, detail_zh, (time.perf_counter() - start) * 1000)

    try:
        port = serial.serial_for_url(port_url, baudrate=baud, timeout=0.05, write_timeout=1.0)
    except (serial.SerialException, OSError, ValueError) as exc:
        return done(False, "cannot_open", f"cannot open {port_url}: {exc}", f"无法打开端口 {port_url}")
    decoder = p.FrameDecoder()
    received = 0
    try:
        try:
            port.reset_input_buffer()
            port.write(p.build_request(*p.SAM_STATUS))
        except (serial.SerialException, OSError) as exc:
            return done(False, "cannot_open", f"cannot write to {port_url}: {exc}", f"无法向端口 {port_url} 写入")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = port.read(256)
            except (serial.SerialException, OSError) as exc:
                return done(False, "cannot_open", f"{port_url} failed while reading: {exc}", f"端口 {port_url} 读取失败")
            received += len(chunk)
            for item in decoder.feed(chunk):
                if isinstance(item, p.Reply):
                    if item.sw3 == p.SW3_OK:
                        return done(True, "reader", f"ID card reader answers on {port_url} (SAM ready)",
                                    f"{port_url} 上有身份证读卡器应答（安全模块正常）", item.sw3)
                    return done(True, "reader", f"ID card reader answers on {port_url}, SAM status {item.sw3:02X}",
                                f"{port_url} 上有身份证读卡器应答，安全模块状态 {item.sw3:02X}", item.sw3)
    finally:
        try:
            port.close()
        except (serial.SerialException, OSError):
            pass
    if received:
        return done(False, "not_sam", f"{port_url} answered {received} bytes that are not SAM frames (another device?)",
                    f"{port_url} 上的设备不是身份证读卡器")
    return done(False, "silent", f"nothing answered on {port_url} within {timeout:g} s",
                f"{port_url} 在 {timeout:g} 秒内无应答")


def find_id_readers(ports: list[str] | None = None, timeout: float = 0.5) -> list[ProbeResult]:
    """Probe each serial port (default: all that pyserial lists) and return those that answered."""
    candidates = ports if ports is not None else [info.device for info in list_serial_ports()]
    return [r for r in (probe_sam(port, timeout) for port in candidates) if r.answered]


def device_inventory() -> dict:
    """Everything plugged in, for the diagnostics bundle."""
    return {
        "serial_ports": [info.to_json() for info in list_serial_ports()],
        "pcsc": list_pcsc_readers().to_json(),
        "cameras": list_cameras(),
        "printers": list_printers(),
        "platform": os.uname().sysname if hasattr(os, "uname") else os.name,
    }
