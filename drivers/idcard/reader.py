"""`IdCardReader`: the SAM ID card reader over any pyserial URL, and its polling loop.

One thread owns a reader: the app's device thread calls `run(stop, on_event)`, which opens the
port, polls for cards and reconnects after an unplug, and reports everything as the event
dataclasses below. Other threads reach the device only through `submit(fn)`, which runs `fn` on
the owning thread between polls (e.g. `reader.submit(reader.self_test).result()` for diag).

Events, in the order a resident causes them: `ReaderConnected` (port open and the SAM answers),
`CardPlaced` (find succeeded), then `CardRead` or `CardReadFailed` (retried on the next polls, up
to `max_read_attempts` per placement), and `CardRemoved` when find fails again. A card is read
once per placement: find must fail before the same or another card is read. SAM readers stop
finding a card as soon as it has been read, so `CardRemoved` usually follows `CardRead` within
one poll even while the card still lies there — the app should key "card gone" UI on a new
`CardPlaced`/`CardRead`, not wipe a session on `CardRemoved`. `ReaderDisconnected` (open failed
— reported once, not per retry — or the port vanished, or 3 polls got no reply) resets the card
state; its `cause` says which (`unavailable`, `unplugged`, `silent`, `slow`, `error`), so a
caller can tell "unplugged" from "answers too slowly". Reconnects back off exponentially up to
`backoff_cap_s`.

A reply that misses `reply_timeout_s` is still waited for during a grace period as long again:
if it arrives then, the reader is slow (`SlowReply`), not silent. A read whose text is not a
valid person (`drivers.idcard.text.card_problem`) is a `CardReadFailed(InvalidCardData)`, never
a `CardRead`.

The serial trace (DEBUG, logger `drivers.idcard.reader`) shows command codes, SW3 and lengths
only — never frame data, which holds names and ID numbers.
"""
from __future__ import annotations

import concurrent.futures
import enum
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

import serial

try:
    import termios

    # pyserial lets termios.error (not an OSError) escape from tcflush on a vanished tty.
    _TERMIOS_ERRORS: tuple[type[BaseException], ...] = (termios.error,)
except ImportError:  # Windows
    _TERMIOS_ERRORS = ()

from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch
from drivers.idcard import protocol as p
from drivers.idcard.protocol import IdCardProtocolError, Reply
from drivers.idcard.text import IdCardText, card_problem, parse_text

log = logging.getLogger("drivers.idcard.reader")



class PortUnavailable(IdCardProtocolError):
    """The port could not be opened, or the device on it does not answer."""

    code = "IDCARD_PORT"
    message_zh = "身份证读卡器未连接，请联系工作人员"
    message_en = "The ID card reader is not connected; call staff"

    def __init__(self, detail: str = "", cause: str = "unavailable") -> None:
        super().__init__(detail)
        self.cause = cause


@runtime_checkable
class PhotoDecoder(Protocol):
    """Optional plugin around a vendor WLT library: WLT bytes → PNG bytes, or None."""

    def decode(self, wlt: bytes) -> bytes | None: ...


@dataclass(frozen=True, repr=False)
class IdCardRead:
    text: IdCardText
    photo_wlt: bytes = field(default=b"", repr=False)
    photo_png: bytes | None = field(default=None, repr=False)  # None: show the placeholder
    reply_received_at: float = 0.0  # time.monotonic() when the last reply byte arrived
    parsed_at: float = 0.0  # time.monotonic() when `text` was parsed

    def __repr__(self) -> str:
        return f"IdCardRead({self.text!r}, photo={len(self.photo_wlt)} bytes, png={self.photo_png is not None})"


# --- events (emitted from the thread running `run`) -------------------------------------------


@dataclass(frozen=True)
class ReaderConnected:
    port: str


@dataclass(frozen=True)
class ReaderDisconnected:
    port: str
    reason: str
    cause: str = "error"  # unavailable | unplugged | silent | slow | error


@dataclass(frozen=True)
class CardPlaced:
    pass


@dataclass(frozen=True)
class CardRead:
    read: IdCardRead
    reply_received_at: float  # time.monotonic() of the last reply byte


@dataclass(frozen=True)
class CardRemoved:
    pass


@dataclass(frozen=True)
class CardReadFailed:
    error: IdCardProtocolError


ReaderEvent = ReaderConnected | ReaderDisconnected | CardPlaced | CardRead | CardRemoved | CardReadFailed


class _Card(enum.Enum):
    ABSENT = "absent"
    PRESENT = "present"  # found, not yet read (or reads failed)
    READ = "read"  # read; waits for the card to leave the field


class _DeviceSilent(Exception):
    def __init__(self, slow: bool = False) -> None:
        super().__init__("answered too slowly" if slow else "no reply")
        self.slow = slow


class IdCardReader:
    def __init__(
        self,
        port_url: str,
        baud: int = 115200,
        poll_interval_s: float = 0.3,
        photo_decoder: PhotoDecoder | None = None,
        *,
        reply_timeout_s: float = 1.0,
        late_grace_s: float | None = None,
        read_timeout_s: float = 3.0,
        silent_polls: int = 3,
        max_read_attempts: int = 3,
        backoff_initial_s: float = 0.25,
        backoff_cap_s: float = 5.0,
    ) -> None:
        self.port_url = port_url
        self.baud = baud
        self.poll_interval_s = poll_interval_s
        self.photo_decoder = photo_decoder
        self.reply_timeout_s = reply_timeout_s
        self.late_grace_s = reply_timeout_s if late_grace_s is None else late_grace_s
        self.read_timeout_s = read_timeout_s
        self.silent_polls = silent_polls
        self.max_read_attempts = max_read_attempts
        self.backoff_initial_s = backoff_initial_s
        self.backoff_cap_s = backoff_cap_s
        self.last_reply_at = 0.0
        self._serial: serial.SerialBase | None = None
        self._decoder = p.FrameDecoder()
        self._owner: int | None = None
        self._calls: queue.SimpleQueue[tuple[Callable[[], object], concurrent.futures.Future]] = queue.SimpleQueue()

    # --- port ---------------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._serial is not None

    def open(self) -> None:
        """Open the port; `PortUnavailable` if it cannot be opened."""
        if self._serial is not None:
            return
        try:
            self._serial = serial.serial_for_url(self.port_url, baudrate=self.baud, timeout=0.05, write_timeout=1.0)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise PortUnavailable(f"{self.port_url}: {exc}") from exc
        self._decoder.reset()
        log.debug("opened %s at %d baud", self.port_url, self.baud)

    def close(self) -> None:
        ser, self._serial = self._serial, None
        if ser is not None:
            try:
                ser.close()
            except (serial.SerialException, OSError, *_TERMIOS_ERRORS):
                pass
            log.debug("closed %s", self.port_url)

    def __enter__(self) -> IdCardReader:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- one exchange -------------------------------------------------------------------------

    def transact(self, cmd: int, para: int, data: bytes = b"", timeout_s: float | None = None) -> Reply:
        """Send one request and return the first complete reply (SW3 not checked).

        Raises `ReplyTimeout`, a `FrameError` when the reply arrives damaged, and
        `serial.SerialException`/`OSError` when the port goes away.
        """
        self._check_thread()
        ser = self._serial
        if ser is None:
            raise PortUnavailable(f"{self.port_url}: not open")
        timeout_s = self.reply_timeout_s if timeout_s is None else timeout_s
        frame = p.build_request(cmd, para, data)
        try:
            # A late answer to an earlier request must not be taken for this one's.
            ser.reset_input_buffer()
            self._decoder.reset()
            log.debug("tx cmd=%02X para=%02X len=%d", cmd, para, len(frame))
            ser.write(frame)
            return self._receive(ser, cmd, para, timeout_s)
        except _TERMIOS_ERRORS as exc:
            raise serial.SerialException(f"port failed: {exc}") from exc

    def _receive(self, ser: serial.SerialBase, cmd: int, para: int, timeout_s: float) -> Reply:
        deadline = time.monotonic() + timeout_s
        while True:
            if time.monotonic() >= deadline:
                log.debug("rx timeout cmd=%02X para=%02X after %.0f ms", cmd, para, timeout_s * 1000)
                if self._late_bytes(ser):
                    raise p.SlowReply(f"reply to {cmd:02X} {para:02X} came after more than {timeout_s:.1f} s")
                raise p.ReplyTimeout(f"no reply to {cmd:02X} {para:02X} within {timeout_s:.1f} s")
            chunk = ser.read(ser.in_waiting or 1)
            if not chunk:
                continue
            now = time.monotonic()
            for item in self._decoder.feed(chunk):
                if isinstance(item, p.FrameError):
                    log.debug("rx bad frame cmd=%02X para=%02X: %s", cmd, para, item.code)
                    raise item
                self.last_reply_at = now
                log.debug("rx cmd=%02X para=%02X sw3=%02X len=%d", cmd, para, item.sw3, len(item.data))
                return item

    def _late_bytes(self, ser: serial.SerialBase) -> bool:
        """After a timeout: does anything still arrive within the grace period? (Slow ≠ silent.)
        What arrives is dropped; the next request resets the input buffer anyway."""
        deadline = time.monotonic() + self.late_grace_s
        while time.monotonic() < deadline:
            if ser.read(ser.in_waiting or 1):
                log.debug("rx late bytes: the reader is slow")
                return True
        return False

    def command(self, cmd: int, para: int, ok: int | tuple[int, ...] = p.SW3_OK, timeout_s: float | None = None) -> Reply:
        """`transact` and raise the typed `StatusError` unless SW3 is one of `ok`."""
        return p.check_reply(self.transact(cmd, para, timeout_s=timeout_s), ok)

    # --- cards --------------------------------------------------------------------------------

    def read_card(self) -> IdCardRead:
        """find → select → read `30 01`. Raises `NoCard` when nothing is on the reader."""
        self.command(*p.FIND_CARD, ok=p.SW3_FOUND)
        self.command(*p.SELECT_CARD)
        return self._read_selected()

    def _read_selected(self) -> IdCardRead:
        reply = self.command(*p.READ_TEXT_PHOTO, timeout_s=self.read_timeout_s)
        received_at = self.last_reply_at
        data = p.parse_card_data(reply.data)
        text = parse_text(data.text)
        problem = card_problem(text)
        if problem is not None:
            raise p.InvalidCardData(problem)
        parsed_at = time.monotonic()
        return IdCardRead(text, data.photo, self._decode_photo(data.photo), received_at, parsed_at)

    def _decode_photo(self, wlt: bytes) -> bytes | None:
        if self.photo_decoder is None or not wlt:
            return None
        try:
            return self.photo_decoder.decode(wlt)
        except Exception as exc:  # a vendor plugin must not cost us the card text
            log.warning("photo decoder failed: %s", type(exc).__name__)
            return None

    # --- diagnostics --------------------------------------------------------------------------

    def self_test(self) -> list[CheckResult]:
        """Port opens, SAM status (`11 FF`), SAM ID (`12 FF`). Run it on the owning thread."""
        was_open = self.is_open
        port_error: PortUnavailable | None = None
        with Stopwatch() as sw:
            try:
                self.open()
            except PortUnavailable as exc:
                port_error = exc
        if port_error is not None:
            return [CheckResult("idcard.port", CheckStatus.MISSING, f"cannot open {port_error.detail}", "无法打开身份证读卡器端口", sw.ms,
                                code=port_error.code)]
        results = [CheckResult("idcard.port", CheckStatus.OK, f"{self.port_url} open", "端口已打开", sw.ms, {"port": self.port_url, "baud": self.baud})]
        try:
            results.append(self._check("idcard.sam_status", p.SAM_STATUS, "SAM ready", "安全模块正常"))
            if results[-1].status is CheckStatus.OK:
                results.append(self._check("idcard.sam_id", p.SAM_ID, "SAM ID read", "安全模块编号已读取", sam_id=True))
        finally:
            if not was_open:
                self.close()
        return results

    def _check(self, name: str, cmd: tuple[int, int], ok_en: str, ok_zh: str, sam_id: bool = False) -> CheckResult:
        with Stopwatch() as sw:
            try:
                reply = self.command(*cmd)
                error: IdCardProtocolError | None = None
            except IdCardProtocolError as exc:
                error = exc
            except (serial.SerialException, OSError) as exc:
                error = PortUnavailable(str(exc))
        if error is not None:
            return CheckResult(name, CheckStatus.ERROR, f"{error.code}: {error.detail}", error.message_zh, sw.ms, code=error.code)
        data = {"sam_id": p.format_sam_id(reply.data)} if sam_id else {}
        return CheckResult(name, CheckStatus.OK, ok_en, ok_zh, sw.ms, data)

    # --- the device thread --------------------------------------------------------------------

    def submit(self, fn: Callable[[], object]) -> concurrent.futures.Future:
        """Run `fn` on the thread running `run` (between polls); returns its Future."""
        future: concurrent.futures.Future = concurrent.futures.Future()
        self._calls.put((fn, future))
        return future

    @property
    def owned(self) -> bool:
        """True while a device thread runs `run`: the port is that thread's, reach it by `submit`."""
        return self._owner is not None

    def self_test_anywhere(self, timeout_s: float = 15.0) -> list[CheckResult]:
        """`self_test` from any thread: on the owning device thread while one runs `run`."""
        if self.owned and threading.get_ident() != self._owner:
            return self.submit(self.self_test).result(timeout=timeout_s)
        return self.self_test()

    def run(self, stop: threading.Event, on_event: Callable[[object], None]) -> None:
        """Poll until `stop` is set: connect, find/select/read cards, reconnect with backoff."""
        self._owner = threading.get_ident()
        emit = _safe_emitter(on_event)
        backoff = self.backoff_initial_s
        connected: bool | None = None  # None: not known yet, so the first failure is reported
        try:
            while not stop.is_set():
                try:
                    self._connect()
                except (p.IdCardProtocolError, serial.SerialException, OSError, *_TERMIOS_ERRORS) as exc:
                    self.close()
                    if connected is not False:
                        emit(ReaderDisconnected(self.port_url, _reason(exc), _cause(exc)))
                        connected = False
                    self._wait(stop, backoff)
                    backoff = min(backoff * 2, self.backoff_cap_s)
                    continue
                connected, backoff = True, self.backoff_initial_s
                emit(ReaderConnected(self.port_url))
                try:
                    self._poll(stop, emit)
                except Exception as exc:  # the device thread must outlive anything the port does
                    if isinstance(exc, _DeviceSilent):
                        reason = "the reader answered too slowly" if exc.slow else "no reply from the reader"
                    elif isinstance(exc, (serial.SerialException, OSError)):
                        reason = _reason(exc)
                    else:
                        log.exception("ID card reader: unexpected error; reconnecting")
                        reason = f"unexpected {type(exc).__name__}"
                    log.warning("ID card reader lost: %s", reason)
                    self.close()
                    emit(ReaderDisconnected(self.port_url, reason, _cause(exc)))
                    connected = False
                    self._wait(stop, backoff)
                    backoff = min(backoff * 2, self.backoff_cap_s)
        finally:
            self.close()
            self._run_calls()
            self._owner = None

    def _connect(self) -> None:
        self.open()
        try:
            self.transact(*p.SAM_STATUS)
        except p.SlowReply as exc:
            raise PortUnavailable(f"{self.port_url}: the reader answered too slowly", cause="slow") from exc
        except p.ReplyTimeout as exc:
            raise PortUnavailable(f"{self.port_url}: no reply from the reader", cause="silent") from exc
        except p.FrameError:
            pass  # it answered; a damaged frame is a line problem the poll loop rides out

    def _poll(self, stop: threading.Event, emit: Callable[[object], None]) -> None:
        card, attempts, silent, slow = _Card.ABSENT, 0, 0, False
        next_poll = 0.0
        while not stop.is_set():
            self._run_calls()
            wait = next_poll - time.monotonic()
            if wait > 0:
                stop.wait(min(wait, 0.05))
                continue
            next_poll = time.monotonic() + self.poll_interval_s
            try:
                sw3 = self.transact(*p.FIND_CARD).sw3
                silent, slow = 0, False
            except p.ReplyTimeout as exc:
                silent += 1
                slow = slow or isinstance(exc, p.SlowReply)
                if silent >= self.silent_polls:
                    raise _DeviceSilent(slow) from None
                continue
            except p.FrameError as exc:
                log.info("ID card reader: damaged frame on find (%s); resynchronised", exc.code)
                continue
            found = sw3 == p.SW3_FOUND
            if sw3 not in (p.SW3_FOUND, 0x80):
                log.info("ID card reader: find answered SW3=%02X", sw3)  # e.g. a SAM fault; self_test says more
            if not found:
                if card is not _Card.ABSENT:
                    card = _Card.ABSENT
                    emit(CardRemoved())
                continue
            if card is _Card.READ:
                continue  # the same card is still there: one read per placement
            if card is _Card.ABSENT:
                card, attempts = _Card.PRESENT, 0
                emit(CardPlaced())
            if attempts >= self.max_read_attempts:
                continue  # gave up on this placement; the resident must lift and replace it
            try:
                self.command(*p.SELECT_CARD)
                read = self._read_selected()
            except IdCardProtocolError as exc:
                attempts += 1
                log.info("ID card read failed: %s (attempt %d)", exc.code, attempts)
                emit(CardReadFailed(exc))
                continue
            card = _Card.READ
            emit(CardRead(read, read.reply_received_at))

    def _wait(self, stop: threading.Event, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not stop.is_set():
            self._run_calls()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            stop.wait(min(left, 0.05))

    def _run_calls(self) -> None:
        while True:
            try:
                fn, future = self._calls.get_nowait()
            except queue.Empty:
                return
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn())
            except BaseException as exc:  # handed to the caller through the Future
                future.set_exception(exc)

    def _check_thread(self) -> None:
        if self._owner is not None and threading.get_ident() != self._owner:
            raise RuntimeError("IdCardReader is owned by its device thread; use submit()")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, IdCardProtocolError):
        return exc.detail or exc.message_en
    return str(exc) or type(exc).__name__


def _cause(exc: BaseException) -> str:
    if isinstance(exc, _DeviceSilent):
        return "slow" if exc.slow else "silent"
    if isinstance(exc, PortUnavailable):
        return exc.cause
    if isinstance(exc, (serial.SerialException, OSError, *_TERMIOS_ERRORS)):
        return "unplugged"
    return "error"


def _safe_emitter(on_event: Callable[[object], None]) -> Callable[[object], None]:
    def emit(event: object) -> None:
        try:
            on_event(event)
        except Exception:
            log.exception("ID card event handler failed on %s", type(event).__name__)

    return emit
