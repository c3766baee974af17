"""`TicketPrinter`: one class above a narrow `_raw(bytes)` seam per back-end.

The URL picks the back-end:
  serial:/dev/ttyUSB0, a bare device path, or any pyserial URL (socket://host:9100 = raw TCP)
  file:/path          appends the bytes (a spool file, or for tests)
  usb:VID:PID         python-escpos `Usb` (needs pyusb; without it the back-end is disabled
                      with a clear message, the package still imports)
Not thread-safe by design: one device, one thread (the device worker). A lock still guards
the port so a stray second caller cannot interleave two tickets.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import serial

from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch
from drivers.errors import DriverError, error_codes
from drivers.printer.status import QUERY_PAPER, QUERY_PRINTER, PrinterStatus, parse_status
from drivers.printer.ticket import TicketContent, encode_ticket

log = logging.getLogger(__name__)


class PrinterError(DriverError):
    """Base of the ticket printer's errors (the `DriverError` shape): stable code, zh/en text
    that tells the resident what to do next, `detail` for the technician."""

    code = "PRINTER_ERROR"
    message_zh = "打印机出错。您的号码仍然有效，请记住屏幕上的号码，或请工作人员处理。"
    message_en = "Printer error. Your number is still valid; please note it on screen or ask staff."


class PrinterPaperOut(PrinterError):
    code = "PRINTER_PAPER_OUT"
    message_zh = "打印机缺纸，暂时无法打印小票。请记住屏幕上的号码，或请工作人员换纸后重打。"
    message_en = "The printer is out of paper. Please note the number on screen, or ask staff to reload paper and reprint."


class PrinterPaperOutDuring(PrinterError):
    code = "PRINTER_PAPER_OUT_DURING"
    message_zh = "打印过程中缺纸，小票可能不完整。您的号码仍然有效，请记住屏幕上的号码，换纸后可重打。"
    message_en = ("The printer ran out of paper while printing. Your number is still valid; note it on screen and "
                  "reprint after reloading paper.")


class PrinterOffline(PrinterError):
    code = "PRINTER_OFFLINE"
    message_zh = "打印机未就绪（可能纸仓盖未关好）。您的号码仍然有效，请记住屏幕上的号码。"
    message_en = "The printer is offline (cover open?). Your number is still valid; please note it on screen."


class PrinterUnreachable(PrinterError):
    code = "PRINTER_IO"
    message_zh = "无法连接打印机。您的号码仍然有效，请记住屏幕上的号码，或请工作人员处理。"
    message_en = "Cannot reach the printer. Your number is still valid; please note it on screen or ask staff."


class PrinterUsbUnavailable(PrinterError):
    code = "PRINTER_USB_UNAVAILABLE"
    message_zh = "USB 打印机支持未安装（缺少 pyusb），请联系技术人员。"
    message_en = "USB printing is disabled: the pyusb package is not installed."


class PrinterUrlInvalid(PrinterError):
    code = "PRINTER_URL"
    message_zh = "打印机地址配置错误，请联系技术人员。"
    message_en = "The printer address in the configuration is not valid."


# Conditions the self-test reports that are not (yet) a failed print.
class PrinterPaperLow(PrinterError):
    code = "PRINTER_PAPER_LOW"
    message_zh = "打印纸即将用完"
    message_en = "The paper roll is nearly used up"


class PrinterSilent(PrinterError):
    code = "PRINTER_SILENT"
    message_zh = "打印机不回应状态查询（纸量未知）"
    message_en = "The printer does not answer status queries (paper state unknown)"


PRINTER_ERRORS: dict[str, type[DriverError]] = error_codes(PrinterError)  # code → class
# Stable codes → (zh, en), for callers that report a code without raising.
MESSAGES: dict[str, tuple[str, str]] = {code: (cls.message_zh, cls.message_en) for code, cls in PRINTER_ERRORS.items()}


def printer_error(code: str, detail: str = "") -> DriverError:
    """The error for a stable code (e.g. from a `PrintOutcome`)."""
    return PRINTER_ERRORS[code](detail)


@dataclass(frozen=True)
class PrintOutcome:
    ok: bool
    status_before: PrinterStatus
    status_after: PrinterStatus
    error_code: str = ""
    message_zh: str = ""
    message_en: str = ""
    detail: str = ""  # for the technician (port, OS error); never shown to a resident

    @property
    def confirmed(self) -> bool:
        """The printer answered after printing (a silent printer's ok is best effort)."""
        return self.status_after.answered

    def to_json(self) -> dict:
        return {
            "ok": self.ok, "confirmed": self.confirmed, "error_code": self.error_code,
            "message_zh": self.message_zh, "message_en": self.message_en,
            "status_before": self.status_before.to_json(), "status_after": self.status_after.to_json(),
        }


# -- back-ends: each implements _raw(bytes), _query(bytes) -> int|None, close() ---------------
class _SerialBackend:
    answers_status = True

    def __init__(self, url: str, baud: int, timeout_s: float) -> None:
        self.url, self.baud, self.timeout_s = url, baud, timeout_s
        self._port: serial.SerialBase | None = None

    def _open(self) -> serial.SerialBase:
        if self._port is None:
            try:
                self._port = serial.serial_for_url(self.url, baudrate=self.baud, timeout=self.timeout_s, write_timeout=5)
            except (serial.SerialException, OSError, ValueError) as exc:
                raise PrinterUnreachable(f"{self.url}: {exc}") from exc
        return self._port

    def _raw(self, data: bytes) -> None:
        port = self._open()
        try:
            port.write(data)
            port.flush()
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise PrinterUnreachable(str(exc)) from exc

    def _query(self, command: bytes) -> int | None:
        port = self._open()
        try:
            port.reset_input_buffer()
            port.write(command)
            port.flush()
            reply = port.read(1)
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise PrinterUnreachable(str(exc)) from exc
        return reply[0] if reply else None

    def close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            except (serial.SerialException, OSError):
                pass
            self._port = None


class _FileBackend:
    answers_status = False

    def __init__(self, path: str) -> None:
        self.path = path

    def _raw(self, data: bytes) -> None:
        try:
            with open(self.path, "ab") as f:
                f.write(data)
        except OSError as exc:
            raise PrinterUnreachable(f"{self.path}: {exc}") from exc

    def _query(self, command: bytes) -> int | None:
        return None

    def close(self) -> None:
        pass


class _UsbBackend:
    answers_status = True

    def __init__(self, vendor: int, product: int, profile: str, timeout_s: float) -> None:
        self.vendor, self.product, self.profile, self.timeout_s = vendor, product, profile, timeout_s
        self._device = None

    def _open(self):
        if self._device is None:
            try:
                import usb.core  # noqa: F401  (pyusb: optional)
                from escpos.printer import Usb
            except ImportError as exc:
                raise PrinterUsbUnavailable(str(exc)) from exc
            try:
                self._device = Usb(self.vendor, self.product, timeout=int(self.timeout_s * 1000), profile=self.profile)
                self._device.open()
            except Exception as exc:  # python-escpos raises its own types and usb.core errors
                self._device = None
                raise PrinterUnreachable(f"usb {self.vendor:04x}:{self.product:04x}: {exc}") from exc
        return self._device

    def _raw(self, data: bytes) -> None:
        device = self._open()
        try:
            device._raw(data)
        except Exception as exc:
            self.close()
            raise PrinterUnreachable(str(exc)) from exc

    def _query(self, command: bytes) -> int | None:
        device = self._open()
        try:
            device._raw(command)
            reply = device._read()
        except Exception:  # most USB printers have no usable IN endpoint: silent, not broken
            return None
        return reply[0] if reply else None

    def close(self) -> None:
        if self._device is not None:
            try:
                self._device.close()
            except Exception:
                pass
            self._device = None


def _backend_for(url: str, baud: int, profile: str, timeout_s: float):
    if url.startswith("file:"):
        return _FileBackend(url[len("file:"):].removeprefix("//"))
    if url.startswith("usb:"):
        try:
            vid, pid = (int(part, 16) for part in url[len("usb:"):].split(":"))
        except ValueError:
            raise PrinterUrlInvalid(f"expected usb:VID:PID in hex, got {url!r}") from None
        return _UsbBackend(vid, pid, profile, timeout_s)
    if url.startswith("serial:"):
        url = url[len("serial:"):].removeprefix("//")
    if url.startswith("sim://"):
        raise PrinterUrlInvalid("sim:// must be resolved with start_simulated_printer() first")
    return _SerialBackend(url, baud, timeout_s)


class TicketPrinter:
    def __init__(self, url: str, baud: int = 9600, profile: str = "TM-T88V", width_chars: int = 32,
                 status_timeout_s: float = 0.5) -> None:
        self.url, self.baud, self.profile = url, baud, profile
        self.width_chars, self.status_timeout_s = width_chars, status_timeout_s
        self._lock = threading.Lock()
        self._backend = None
        self._backend_error: PrinterError | None = None
        try:
            self._backend = _backend_for(url, baud, profile, status_timeout_s)
        except PrinterError as exc:
            self._backend_error = exc  # reported by status/print/self_test, never at construction

    def _require_backend(self):
        if self._backend is None:
            raise self._backend_error or PrinterUrlInvalid(self.url)
        return self._backend

    def _raw(self, data: bytes) -> None:
        self._require_backend()._raw(data)

    def status(self) -> PrinterStatus:
        """Best effort: unknown (never ok) when the printer does not answer or cannot be reached."""
        with self._lock:
            try:
                return self._status_locked()
            except PrinterError:
                return PrinterStatus.unknown()

    def _status_locked(self) -> PrinterStatus:
        backend = self._require_backend()
        if not backend.answers_status:
            return PrinterStatus.unknown()
        online = backend._query(QUERY_PRINTER)
        if online is None:  # silent printer: do not wait a second time
            return PrinterStatus.unknown()
        return parse_status(online, backend._query(QUERY_PAPER))

    def print_ticket(self, content: TicketContent) -> PrintOutcome:
        data = encode_ticket(content, self.width_chars)  # before any I/O: bad content is a bug
        with self._lock:
            before = after = PrinterStatus.unknown()
            try:
                before = self._status_locked()
                if before.online is False:
                    return self._failed(PrinterOffline, before, before)
                if before.paper == "out":
                    return self._failed(PrinterPaperOut, before, before)
                self._raw(data)
                after = self._status_locked()
            except PrinterError as exc:
                log.warning("printer %s: %s", self.url, exc)
                return PrintOutcome(False, before, after, exc.code, exc.message_zh, exc.message_en, exc.detail)
            if after.paper == "out":
                return self._failed(PrinterPaperOutDuring, before, after)
            if after.online is False:
                return self._failed(PrinterOffline, before, after)
            return PrintOutcome(True, before, after)

    @staticmethod
    def _failed(error: type[PrinterError], before: PrinterStatus, after: PrinterStatus) -> PrintOutcome:
        return PrintOutcome(False, before, after, error.code, error.message_zh, error.message_en)

    def self_test(self) -> list[CheckResult]:
        results: list[CheckResult] = []
        with Stopwatch() as sw, self._lock:
            try:
                backend = self._require_backend()
                if isinstance(backend, (_SerialBackend, _UsbBackend)):
                    backend._open()
                error = None
            except PrinterError as exc:
                error = exc
        if error is not None:
            missing = error.code == "PRINTER_USB_UNAVAILABLE"
            results.append(CheckResult("printer.connection", CheckStatus.MISSING if missing else CheckStatus.ERROR,
                                       error.technical, error.message_zh, sw.ms, {"url": self.url}, code=error.code))
            return results
        results.append(CheckResult("printer.connection", CheckStatus.OK, f"opened {self.url}", f"已连接 {self.url}",
                                   sw.ms, {"url": self.url}))
        with Stopwatch() as sw:
            status = self.status()
        data = status.to_json()
        if self._backend is not None and not self._backend.answers_status:
            results.append(CheckResult("printer.status", CheckStatus.OK, "file back-end: no status to read",
                                       "文件输出：无状态可读", sw.ms, data))
        elif not status.answered:
            results.append(CheckResult("printer.status", CheckStatus.DEGRADED,
                                       "printer does not answer status queries (paper state unknown)",
                                       "打印机不回应状态查询（纸量未知）", sw.ms, data, code=PrinterSilent.code))
        elif status.online is False:
            results.append(CheckResult("printer.status", CheckStatus.ERROR, "printer offline (cover open?)",
                                       "打印机离线（纸仓盖未关？）", sw.ms, data, code=PrinterOffline.code))
        elif status.paper == "out":
            results.append(CheckResult("printer.status", CheckStatus.ERROR, "paper out", "缺纸", sw.ms, data,
                                       code=PrinterPaperOut.code))
        elif status.paper == "near_end":
            results.append(CheckResult("printer.status", CheckStatus.DEGRADED, "paper near end", "纸将用尽", sw.ms, data,
                                       code=PrinterPaperLow.code))
        else:
            results.append(CheckResult("printer.status", CheckStatus.OK, "online, paper ok", "在线，纸量正常", sw.ms, data))
        return results

    def close(self) -> None:
        with self._lock:
            if self._backend is not None:
                self._backend.close()

    def __enter__(self) -> TicketPrinter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


__all__ = [
    "MESSAGES", "PRINTER_ERRORS", "PrintOutcome", "PrinterError", "PrinterOffline", "PrinterPaperLow", "PrinterPaperOut",
    "PrinterPaperOutDuring", "PrinterSilent", "PrinterStatus", "PrinterUnreachable", "PrinterUrlInvalid",
    "PrinterUsbUnavailable", "TicketPrinter", "printer_error",
]
