"""APDU building, the one status-word checker, and `exchange()` (61xx/6Cxx handling, trace log).

Pure code over lists of ints. A connection is anything with pyscard's
`transmit(apdu: list[int]) -> (data, sw1, sw2)`, so unit tests pass a fake one.
"""
from __future__ import annotations

import logging
from typing import Protocol

from drivers.sscard.errors import (
    CardMute, CardRemovedError, FileNotFound, RecordNotFound, SecurityNotSatisfied, SsCardError,
    UnexpectedStatus, WrongLength, WrongParameters,
)

__all__ = [
    "APP_NAME", "CardConnectionLike", "EF05", "EF06", "check_sw", "exchange", "get_response",
    "read_record_by_number", "read_record_by_tag", "select_by_name", "select_ef", "transport_error",
]

trace = logging.getLogger("drivers.sscard.apdu")

APP_NAME = "sx1.sh.社会保障".encode("gbk")  # 73 78 31 2E 73 68 2E C9 E7 BB E1 B1 A3 D5 CF
EF05 = 0xEF05
EF06 = 0xEF06
SW_OK = 0x9000
MAX_GET_RESPONSE = 16  # a card that keeps saying 61xx is broken, not generous


class CardConnectionLike(Protocol):
    def transmit(self, apdu: list[int]) -> tuple[list[int], int, int]: ...


def select_by_name(name: bytes = APP_NAME) -> list[int]:
    return [0x00, 0xA4, 0x04, 0x00, len(name), *name]


def select_ef(fid: int) -> list[int]:
    return [0x00, 0xA4, 0x02, 0x00, 0x02, (fid >> 8) & 0xFF, fid & 0xFF]


def read_record_by_tag(tag: int, le: int = 0) -> list[int]:
    """Addressing style 1: P1 = field tag, P2 = 00."""
    return [0x00, 0xB2, tag & 0xFF, 0x00, le & 0xFF]


def read_record_by_number(number: int, le: int = 0) -> list[int]:
    """Addressing style 2: P1 = record number, P2 = 04 (P1 is a record number)."""
    return [0x00, 0xB2, number & 0xFF, 0x04, le & 0xFF]


def get_response(le: int) -> list[int]:
    return [0x00, 0xC0, 0x00, 0x00, le & 0xFF]


_SW_ERRORS: dict[int, type[SsCardError]] = {
    0x6A82: FileNotFound,
    0x6A83: RecordNotFound,
    0x6982: SecurityNotSatisfied,
    0x6700: WrongLength,
    0x6A86: WrongParameters,
    0x6B00: WrongParameters,
}


def check_sw(sw1: int, sw2: int) -> None:
    """The one place status words become exceptions. 9000 passes; everything else raises."""
    sw = ((sw1 & 0xFF) << 8) | (sw2 & 0xFF)
    if sw == SW_OK:
        return
    error = _SW_ERRORS.get(sw, UnexpectedStatus)
    raise error(f"SW {sw:04X}", sw=sw)


# PC/SC codes that mean "the card went away" or "the card is mute" (winscard.h).
_REMOVED_HRESULTS = {0x80100069, 0x80100068, 0x8010000C, 0x80100017, 0x80100009}  # removed, reset, no smartcard, reader unavailable, unknown reader
_MUTE_HRESULTS = {0x80100066, 0x80100016, 0x8010000A}  # unresponsive, not transacted, timeout


def transport_error(exc: BaseException) -> SsCardError:
    """Map whatever a connection raised (pyscard's CardConnectionException, OSError…) to a typed error."""
    if isinstance(exc, SsCardError):
        return exc
    hresult = getattr(exc, "hresult", -1)
    hresult = hresult & 0xFFFFFFFF if isinstance(hresult, int) else -1
    text = str(exc)
    lowered = text.lower()
    if hresult in _MUTE_HRESULTS or "unresponsive" in lowered or "timeout" in lowered or "not transacted" in lowered:
        return CardMute(text[:120])
    if hresult in _REMOVED_HRESULTS or "removed" in lowered or "no smart card" in lowered or "reset" in lowered:
        return CardRemovedError(text[:120])
    return CardRemovedError(f"transport: {text[:120]}")


def _header(apdu: list[int]) -> str:
    # Header and lengths only: command data (and answers) may be personal.
    head = " ".join(f"{b:02X}" for b in apdu[:4])
    body = len(apdu) - 4
    return f"{head} +{body}B" if body > 0 else head


def _transmit(connection: CardConnectionLike, apdu: list[int]) -> tuple[list[int], int, int]:
    try:
        data, sw1, sw2 = connection.transmit(list(apdu))
    except SsCardError:
        raise
    except Exception as exc:  # noqa: BLE001 — any transport failure becomes a typed card error
        trace.debug("> %s  ! %s", _header(apdu), type(exc).__name__)
        raise transport_error(exc) from exc
    data = list(data or [])
    trace.debug("> %s  < %dB SW %02X%02X", _header(apdu), len(data), sw1, sw2)
    return data, sw1 & 0xFF, sw2 & 0xFF


def exchange(connection: CardConnectionLike, apdu: list[int]) -> list[int]:
    """Send one command; follow 61xx with GET RESPONSE and 6Cxx with a resend; check the SW; return data."""
    data, sw1, sw2 = _transmit(connection, apdu)
    if sw1 == 0x6C and len(apdu) >= 5:
        fixed = [*apdu[:4], sw2] if len(apdu) == 5 else [*apdu[:-1], sw2]
        data, sw1, sw2 = _transmit(connection, fixed)
    collected = list(data)
    rounds = 0
    while sw1 == 0x61:
        rounds += 1
        if rounds > MAX_GET_RESPONSE:
            raise UnexpectedStatus("endless 61xx", sw=(sw1 << 8) | sw2)
        data, sw1, sw2 = _transmit(connection, get_response(sw2))
        collected.extend(data)
    check_sw(sw1, sw2)
    return collected

