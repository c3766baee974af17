"""pytest fixtures for tests that read an emulated card through the real pcscd + vsmartcard-vpcd.

`pcscd` (session): uses a running pcscd if one already lists the vpcd reader; otherwise starts
`pcscd --foreground` itself (needs root, as on CI) and stops only that process at the end.
Skips with a reason when pyscard, pcscd or vpcd is missing. `vpcd_card` (function): a factory
that inserts an emulated card and waits until pcscd sees it; teardown pulls every card.

Import both into a test module: `from pcscd_fixture import pcscd, vpcd_card  # noqa: F401`.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

VPCD_LIB = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
VPCD_READER = "Virtual PCD 00 00"  # slot 0 ↔ TCP 35963
VPCD_PORT = 35963
START_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class Pcscd:
    reader: str
    port: int
    started_here: bool


def _vpcd_readers() -> list[str] | None:
    """Reader names when pcscd answers, else None."""
    from smartcard import scard

    hr, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    if hr != scard.SCARD_S_SUCCESS:
        return None
    try:
        hr, names = scard.SCardListReaders(context, [])
        if hr == scard.SCARD_E_NO_READERS_AVAILABLE:
            return []
        return list(names) if hr == scard.SCARD_S_SUCCESS else None
    finally:
        scard.SCardReleaseContext(context)


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

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = reader_state(reader)
        if present and state & scard.SCARD_STATE_PRESENT:
            return
        if not present and state & scard.SCARD_STATE_EMPTY:
            return
        time.sleep(0.05)
    raise AssertionError(f"card never became {'present' if present else 'absent'} in {reader}")


@pytest.fixture(scope="session")
def pcscd():
    try:
        import smartcard.scard  # noqa: F401
    except ImportError:
        pytest.skip("pyscard is not installed")
    binary = shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None)
    if binary is None:
        pytest.skip("pcscd is not installed (Debian: apt-get install pcscd)")
    if not VPCD_LIB.exists() or not VPCD_CONF.exists():
        pytest.skip("vsmartcard-vpcd is not installed (Debian: apt-get install vsmartcard-vpcd)")
    names = _vpcd_readers()
    if names is not None and VPCD_READER in names:
        yield Pcscd(VPCD_READER, VPCD_PORT, started_here=False)
        return
    if names is not None:
        pytest.skip(f"a pcscd is running without the vpcd reader (readers: {names})")
    if os.geteuid() != 0:
        pytest.skip("pcscd is not running and starting it needs root")
    log = tempfile.NamedTemporaryFile(prefix="pcscd-test-", suffix=".log", delete=False)
    process = subprocess.Popen([binary, "--foreground", "--info"], stdout=log, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while VPCD_READER not in (_vpcd_readers() or []):
            if process.poll() is not None or time.monotonic() > deadline:
                tail = Path(log.name).read_text(errors="replace")[-2000:]
                pytest.fail(f"pcscd did not list {VPCD_READER!r} (exit {process.poll()}); log:\n{tail}")
            time.sleep(0.1)
        yield Pcscd(VPCD_READER, VPCD_PORT, started_here=True)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)
        log.close()
        os.unlink(log.name)


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
