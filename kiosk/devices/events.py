"""The app's device events, and the one translation from driver events into them.

Drivers speak in their own event classes (the ID-card and social-security drivers each have a
`CardRead`); the app sees only the few typed events below, made here on the device's thread
(`DeviceThread`) before they cross to the GUI. The controller dispatches on these classes.
A card whose record cannot be mapped to a `Person` becomes a logged `ReadFailed`, not a person
with empty fields.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from drivers.idcard import reader as idcard
from drivers.qrscan import serial_scanner as qrscan
from drivers.sscard import reader as sscard
from kiosk.devices.cards import CardFieldMissing, person_from_idcard, person_from_sscard
from kiosk.errors import UserFacingError
from kiosk.services.identity import Person

log = logging.getLogger(__name__)

# Device states the status strip and the heartbeat know.
OK, MISSING, ERROR = "ok", "missing", "error"


@dataclass(frozen=True)
class DeviceStateChanged:
    device: str
    state: str  # ok | missing | error


@dataclass(frozen=True)
class CardPresented:
    """A card is on (in) the reader and being read."""

    device: str


@dataclass(frozen=True, repr=False)
class PersonRead:
    device: str
    person: Person
    reply_received_at: float | None = None  # time.monotonic() of the reader's last reply byte (ID card)

    def __repr__(self) -> str:  # never the person's data in a log line
        return f"PersonRead({self.device!r}, source={self.person.source!r})"


@dataclass(frozen=True)
class ReadFailed:
    device: str
    error: UserFacingError  # safe to show: a driver's error or the mapping's `CardFieldMissing`


@dataclass(frozen=True, repr=False)
class VoucherScanned:
    device: str
    code: str

    def __repr__(self) -> str:
        return f"VoucherScanned({self.device!r}, {len(self.code)} chars)"


DeviceEvent = DeviceStateChanged | CardPresented | PersonRead | ReadFailed | VoucherScanned

_STATES: dict[type, str] = {
    idcard.ReaderConnected: OK, idcard.ReaderDisconnected: MISSING,
    sscard.ReaderAttached: OK, sscard.ReaderDetached: MISSING, sscard.PcscUnavailable: ERROR,
    qrscan.ScannerConnected: OK, qrscan.ScannerDisconnected: MISSING,
}


def translate(device: str, event: object) -> DeviceEvent | None:
    """The app event for a driver event, or None for those the app does not act on (a card
    removed, a rejected scan)."""
    state = _STATES.get(type(event))
    if state is not None:
        return DeviceStateChanged(device, state)
    if isinstance(event, (idcard.CardPlaced, sscard.CardInserted)):
        return CardPresented(device)
    if isinstance(event, idcard.CardRead):
        return _person_read(device, lambda: person_from_idcard(event.read.text), event.reply_received_at)
    if isinstance(event, sscard.CardRead):
        return _person_read(device, lambda: person_from_sscard(event.data), None)
    if isinstance(event, (idcard.CardReadFailed, sscard.CardReadFailed)):
        return ReadFailed(device, event.error)
    if isinstance(event, qrscan.VoucherScanned):
        return VoucherScanned(device, event.code)
    return None


def device_state(event: DeviceEvent) -> str | None:
    """What an app event says of its device's state, for the hub heartbeat's device board: a
    reader that just read a card works, whatever its last connect event said."""
    if isinstance(event, DeviceStateChanged):
        return event.state
    if isinstance(event, (CardPresented, PersonRead, VoucherScanned)):
        return OK
    return None


def _person_read(device: str, mapping: Callable[[], Person], reply_received_at: float | None) -> PersonRead | ReadFailed:
    try:
        person = mapping()
    except CardFieldMissing as exc:  # the driver and this mapping disagree: loud in the log, clear on screen
        log.error("card from %s cannot be mapped to a person: %s", device, exc)
        return ReadFailed(device, exc)
    return PersonRead(device, person, reply_received_at)
