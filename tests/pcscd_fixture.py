"""pytest fixtures for tests that read an emulated card through the real pcscd + vsmartcard-vpcd.

`pcscd` (session): uses a running pcscd if one already lists the vpcd reader; otherwise starts
`pcscd --foreground` itself (needs root, as on CI) and stops only that process at the end.
Skips with a reason when pyscard, pcscd or vpcd is missing. `vpcd_card` (function): a factory
that inserts an emulated card and waits until pcscd sees it; teardown pulls every card.

Import both into a test module: `from pcscd_fixture import pcscd, vpcd_card  # noqa: F401`.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from waiting import wait_until

from drivers.sscard.pcscd import VPCD_PORT, VPCD_READER  # noqa: E402
START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Pcscd:
    reader: str
    port: int
    started_here: bool


def reader_state(reader: str = VPCD_READER) -> int:
    from smartcard import scard

    hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    try:
        hr, states = scard.SCardGetStatusChange(context, 0, [(reader, scard.SCARD_STATE_UNAWARE)])
        return states[0][1] if hr == scard.SCARD_S_SUCCESS else 0
    finally:
        scard.SCardReleaseContext(context)


def wait_card(present: bool, reader: str = VPCD_READER, timeout_s: float = 10.0) -> None:
    from smartcard import scard

    wanted = scard.SCARD_STATE_PRESENT if present else scard.SCARD_STATE_EMPTY
    wait_until(lambda: reader_state(reader) & wanted, timeout_s, 0.05,
               f"the card to become {'present' if present else 'absent'} in {reader}")


@pytest.fixture(scope="session")
def pcscd():
    from drivers.sscard.pcscd import PcscdUnavailable, ensure_pcscd

    try:
        handle = ensure_pcscd(START_TIMEOUT_S)
    except PcscdUnavailable as exc:
        pytest.skip(str(exc))
    try:
        yield Pcscd(handle.reader, handle.port, started_here=handle.started_here)
    finally:
        handle.stop()


@pytest.fixture
def vpcd_card(pcscd):
    """`emulator = vpcd_card(profile_path_or_CardProfile, faults=None)`: inserted and seen by pcscd."""
    from drivers.sscard.emulator import start_emulator

    started = []

    def insert(profile, faults=None, wait: bool = True):
        wait_card(False, pcscd.reader)  # a previous card must be gone, or vpcd keeps the old socket
        emulator = start_emulator(profile, faults, port=pcscd.port)
        started.append(emulator)
        if wait:
            wait_card(True, pcscd.reader)
        return emulator

    yield insert
    for emulator in started:
        emulator.stop()
    wait_card(False, pcscd.reader)
