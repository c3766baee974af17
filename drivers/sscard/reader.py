"""Reading a social-security card over PC/SC: `read_sscard()`, the device-thread `SsCardMonitor`,
and `self_test()`.

`read_sscard` only needs `transmit()`; everything pyscard-specific (contexts, readers, status
changes) lives in `SsCardMonitor` and the helpers below. pyscard is imported lazily so a
machine without it still imports this module and reports the feature as missing.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch
from drivers.sscard.apdu import (
    EF05,
    EF06,
    CardConnectionLike,
    exchange,
    read_record_by_number,
    read_record_by_tag,
    select_by_name,
    select_ef,
    transport_error,
)
from drivers.sscard.errors import (
    CardMute,
    CardRemovedError,
    NoCard,
    NoReader,
    PcscUnavailableError,
    PyscardMissing,
    RecordNotFound,
    SsCardError,
    WrongParameters,
)
from drivers.sscard.records import (
    EF05_TAGS,
    EF06_TAGS,
    FIXED_LENGTHS,
    NAME_MAX,
    OPTIONAL_TAGS,
    SsCardData,
    parse_records,
)

log = logging.getLogger("drivers.sscard")
MAX_RECORDS = 16


# ---- reading one card ------------------------------------------------------------------------

def _expected_le(tag: int) -> int:
    # The answer is tag + length + value. 4E has no fixed length: ask Le=00 and let 6Cxx fix it.
    if tag in FIXED_LENGTHS:
        return FIXED_LENGTHS[tag] + 2
    return NAME_MAX + 2 if tag == 0x09 else 0


def _read_by_tags(connection: CardConnectionLike, tags: tuple[int, ...]) -> list[list[int]]:
    responses = []
    for tag in tags:
        try:
            responses.append(exchange(connection, read_record_by_tag(tag, _expected_le(tag))))
        except RecordNotFound:
            if tag not in OPTIONAL_TAGS:
                raise
    return responses


def _read_by_numbers(connection: CardConnectionLike) -> list[list[int]]:
    responses = []
    for number in range(1, MAX_RECORDS + 1):
        try:
            responses.append(exchange(connection, read_record_by_number(number, 0)))
        except RecordNotFound:
            break
    return responses


def read_sscard(connection: CardConnectionLike) -> SsCardData:
    """Select the 社会保障 application, read EF05 and EF06, decode. Raises only `SsCardError`.

    Tries P1 = tag / P2 = 00 first; a card that rejects it (6A83, 6A86, 6B00) is read with
    P1 = record number / P2 = 04 instead.
    """
    try:
        exchange(connection, select_by_name())
        responses: list[list[int]] = []
        style = "tag"
        files: tuple[tuple[int, tuple[int, ...]], ...] = ((EF05, EF05_TAGS), (EF06, EF06_TAGS))
        for fid, tags in files:
            exchange(connection, select_ef(fid))
            if fid == EF05:
                try:
                    responses.append(exchange(connection, read_record_by_tag(tags[0], _expected_le(tags[0]))))
                    tags = tags[1:]
                except (RecordNotFound, WrongParameters):
                    style = "record"
                    log.debug("card rejects tag addressing; using record numbers (P2=04)")
            if style == "tag":
                responses.extend(_read_by_tags(connection, tags))
            else:
                responses.extend(_read_by_numbers(connection))
        return parse_records(responses)
    except SsCardError:
        raise
    except Exception as exc:  # noqa: BLE001 — a fake or odd connection must not leak other types
        raise transport_error(exc) from exc


# ---- events of the device thread -------------------------------------------------------------

@dataclass(frozen=True)
class PcscUnavailable:
    reason: str
    retry_in_s: float = 0.0


@dataclass(frozen=True)
class ReaderAttached:
    name: str


@dataclass(frozen=True)
class ReaderDetached:
    name: str


@dataclass(frozen=True)
class CardInserted:
    atr_hex: str


@dataclass(frozen=True)
class CardRead:
    data: SsCardData
    read_at: datetime = field(default_factory=datetime.now)


@dataclass(frozen=True)
class CardRemoved:
    """The card left the reader."""


@dataclass(frozen=True)
class CardReadFailed:
    error: SsCardError


SsCardEvent = PcscUnavailable | ReaderAttached | ReaderDetached | CardInserted | CardRead | CardRemoved | CardReadFailed


# ---- PC/SC plumbing (pyscard's low-level scard API) ------------------------------------------

class PcscCallError(Exception):
    """A failed SCard* call; `hresult` lets `transport_error` classify it."""

    def __init__(self, call: str, hresult: int) -> None:
        self.hresult = hresult & 0xFFFFFFFF
        super().__init__(f"{call}: {_error_text(hresult)} (0x{self.hresult:08X})")


def _scard() -> Any:
    try:
        from smartcard import scard  # lazy: a kiosk without pyscard still starts, feature disabled
    except ImportError as exc:
        raise PyscardMissing(f"pyscard not installed: {exc}") from None
    return scard


def _error_text(hresult: int) -> str:
    try:
        return str(_scard().SCardGetErrorMessage(hresult))
    except Exception:  # noqa: BLE001 — an error while describing an error: a generic text
        return "PC/SC error"


_SERVICE_DOWN = {0x8010001D, 0x8010001E, 0x80100003}  # no service, service stopped, invalid handle (context gone)


def _service_down(hresult: int) -> bool:
    return (hresult & 0xFFFFFFFF) in _SERVICE_DOWN


def establish_context() -> int:
    scard = _scard()
    hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        raise PcscUnavailableError(_error_text(hr))
    return context


def release_context(context: int | None) -> None:
    if context is not None:
        try:
            _scard().SCardReleaseContext(context)
        except Exception:  # noqa: BLE001 — the service may already be gone
            pass


def list_readers(context: int) -> list[str]:
    scard = _scard()
    hr, names = scard.SCardListReaders(context, [])
    if hr == scard.SCARD_E_NO_READERS_AVAILABLE:
        return []
    if hr != scard.SCARD_S_SUCCESS:
        raise PcscUnavailableError(_error_text(hr))
    return list(names)


def pick_reader(names: list[str], reader_filter: str = "") -> str | None:
    """First reader whose name contains the filter (case-insensitive); empty filter = first reader."""
    needle = reader_filter.casefold()
    return next((n for n in names if needle in n.casefold()), None)


class PcscConnection:
    """pyscard-`transmit()`-compatible connection on its own context (safe to block in a helper thread)."""

    def __init__(self, reader: str) -> None:
        scard = _scard()
        self._scard = scard
        self.context = establish_context()
        hr, self.card, self.protocol = scard.SCardConnect(
            self.context, reader, scard.SCARD_SHARE_SHARED, scard.SCARD_PROTOCOL_T0 | scard.SCARD_PROTOCOL_T1)
        if hr != scard.SCARD_S_SUCCESS:
            release_context(self.context)
            error = PcscCallError("SCardConnect", hr)
            if hr & 0xFFFFFFFF == 0x8010000C:  # SCARD_E_NO_SMARTCARD
                raise NoCard(str(error))
            raise transport_error(error)

    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]:
        hr, response = self._scard.SCardTransmit(self.card, self.protocol, list(apdu))
        if hr != self._scard.SCARD_S_SUCCESS:
            raise PcscCallError("SCardTransmit", hr)
        if len(response) < 2:
            raise CardRemovedError("short answer")
        return list(response[:-2]), response[-2], response[-1]

    def getATR(self) -> list[int]:  # noqa: N802 — pyscard's name
        hr, _reader, _state, _protocol, atr = self._scard.SCardStatus(self.card)
        return list(atr) if hr == self._scard.SCARD_S_SUCCESS else []

    def card_gone(self) -> bool:
        time.sleep(0.2)  # let the reader notice the removal
        hr, *_rest = self._scard.SCardStatus(self.card)
        return hr != self._scard.SCARD_S_SUCCESS

    def close(self) -> None:
        try:
            self._scard.SCardDisconnect(self.card, self._scard.SCARD_LEAVE_CARD)
        except Exception:  # noqa: BLE001 — the card may already be gone
            pass
        release_context(self.context)


def read_reader(reader: str, timeout_s: float = 10.0) -> SsCardData:
    """Connect to the card in `reader` and read it, giving up after `timeout_s` with `CardMute`.

    A mute card blocks SCardTransmit with no timeout of its own (vpcd, some cheap readers), so the
    exchange runs in a helper thread with its own PC/SC context; if it is stuck it stays a daemon
    thread until the card is pulled, and the caller carries on.
    """
    result: list[SsCardData | SsCardError] = []

    def work() -> None:
        try:
            connection = PcscConnection(reader)
        except SsCardError as exc:
            result.append(exc)
            return
        try:
            result.append(read_sscard(connection))
        except SsCardError as exc:
            # A card pulled mid-answer can surface as a garbled status word: say what happened.
            gone = not isinstance(exc, CardRemovedError) and connection.card_gone()
            result.append(CardRemovedError(f"after {exc.code}") if gone else exc)
        finally:
            connection.close()

    worker = threading.Thread(target=work, name="sscard-read", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if not result:
        raise CardMute(f"no answer within {timeout_s:g} s")
    if isinstance(result[0], SsCardError):
        raise result[0]
    return result[0]


# ---- the device thread ----------------------------------------------------------------------

class SsCardMonitor:
    """Watches one PC/SC reader and reads each inserted card; runs on the sscard device thread.

    Polls with SCardGetStatusChange (timeout `poll_s`) instead of pyscard's observer threads, so
    every PC/SC call but the guarded read happens on this one thread; `on_event` gets the events
    and, in the app, only emits a queued Qt signal.
    """

    def __init__(self, reader_filter: str = "", poll_s: float = 0.5, read_timeout_s: float = 10.0,
                 backoff_max_s: float = 30.0) -> None:
        self.reader_filter = reader_filter
        self.poll_s = poll_s
        self.read_timeout_s = read_timeout_s
        self.backoff_max_s = backoff_max_s

    def run(self, stop: threading.Event, on_event: Callable[[object], None]) -> None:
        context: int | None = None
        reader: str | None = None
        card_present = False
        last_state = 0
        backoff = min(1.0, self.backoff_max_s)
        try:
            while not stop.is_set():
                if context is None:
                    try:
                        context = establish_context()
                        list_readers(context)  # pcsc-lite may hand out a context before the daemon answers
                    except PcscUnavailableError as exc:
                        release_context(context)
                        context = None
                        on_event(PcscUnavailable(exc.detail or "pcscd not running", backoff))
                        stop.wait(backoff)
                        backoff = min(backoff * 2, self.backoff_max_s)
                        continue
                    backoff = min(1.0, self.backoff_max_s)
                try:
                    chosen = pick_reader(list_readers(context), self.reader_filter)
                except PcscUnavailableError as exc:
                    release_context(context)
                    context = None
                    if reader is not None:
                        if card_present:
                            on_event(CardRemoved())
                        on_event(ReaderDetached(reader))
                    reader, card_present = None, False
                    on_event(PcscUnavailable(exc.detail or "pcscd stopped", backoff))
                    continue
                if chosen != reader:
                    if reader is not None:
                        if card_present:
                            on_event(CardRemoved())
                        on_event(ReaderDetached(reader))
                    reader, card_present, last_state = chosen, False, 0
                    if reader is not None:
                        on_event(ReaderAttached(reader))
                if reader is None:
                    stop.wait(self.poll_s)
                    continue
                scard = _scard()
                hr, states = scard.SCardGetStatusChange(context, int(self.poll_s * 1000), [(reader, last_state)])
                if hr == scard.SCARD_E_TIMEOUT:
                    continue
                if hr != scard.SCARD_S_SUCCESS:
                    if _service_down(hr):  # pcscd went away: a fresh context on the next turn
                        release_context(context)
                        context = None
                    else:  # e.g. the reader vanished: the next turn re-lists readers
                        stop.wait(self.poll_s)
                    continue
                _name, event_state, atr = states[0]
                last_state = event_state & ~scard.SCARD_STATE_CHANGED
                present = bool(event_state & scard.SCARD_STATE_PRESENT)
                if present and not card_present:
                    card_present = True
                    on_event(CardInserted(bytes(atr).hex().upper()))
                    if event_state & scard.SCARD_STATE_MUTE:
                        from drivers.sscard.errors import CardMute
                        on_event(CardReadFailed(CardMute("no ATR")))
                    else:
                        self._read(reader, on_event)
                elif not present and card_present:
                    card_present = False
                    on_event(CardRemoved())
        finally:
            release_context(context)

    def _read(self, reader: str, on_event: Callable[[object], None]) -> None:
        try:
            data = read_reader(reader, self.read_timeout_s)
        except SsCardError as exc:
            log.warning("social-security card read failed: %s", exc.code)
            on_event(CardReadFailed(exc))
            return
        on_event(CardRead(data))


# ---- diagnostics ----------------------------------------------------------------------------

def self_test(reader_filter: str = "") -> list[CheckResult]:
    """PC/SC service up, reader present, card ATR if a card is in. Never raises."""
    results: list[CheckResult] = []
    with Stopwatch() as sw:
        try:
            context = establish_context()
            names = list_readers(context)
            error: SsCardError | None = None
        except SsCardError as exc:
            context, names, error = None, [], exc
    if error is not None:
        missing = isinstance(error, PyscardMissing)
        results.append(CheckResult("sscard.pcsc", CheckStatus.MISSING if missing else CheckStatus.ERROR,
                                   f"PC/SC unavailable: {error.detail}", "读卡服务 (pcscd) 未运行", sw.ms, code=error.code))
        return results
    results.append(CheckResult("sscard.pcsc", CheckStatus.OK, "pcscd answers", "读卡服务正常", sw.ms))
    try:
        with Stopwatch() as sw:
            reader = pick_reader(names, reader_filter)
        if reader is None:
            detail = f"no reader matching {reader_filter!r}" if reader_filter else "no PC/SC reader"
            results.append(CheckResult("sscard.reader", CheckStatus.MISSING, detail, "未检测到社保卡读卡器", sw.ms,
                                       {"readers": names}, code=NoReader.code))
            return results
        results.append(CheckResult("sscard.reader", CheckStatus.OK, reader, f"读卡器：{reader}", sw.ms, {"readers": names}))
        with Stopwatch() as sw:
            scard = _scard()
            hr, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        if hr == scard.SCARD_S_SUCCESS and states[0][1] & scard.SCARD_STATE_PRESENT:
            atr = bytes(states[0][2]).hex().upper()
            results.append(CheckResult("sscard.card", CheckStatus.OK, f"card present, ATR {atr}", "已插卡", sw.ms, {"atr": atr}))
        else:
            results.append(CheckResult("sscard.card", CheckStatus.OK, "no card inserted", "未插卡", sw.ms))
    finally:
        release_context(context)
    return results
