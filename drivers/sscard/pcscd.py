"""Bring up the PC/SC stack for the simulated social-security card: Debian's pcscd with the
vsmartcard vpcd driver (a virtual reader that the card emulator connects to on 127.0.0.1).

Used by `kiosk demo` and the test fixture. Starts pcscd only when none is running, and stops
only what it started.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from drivers.sscard.errors import SsCardError

VPCD_LIB = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
VPCD_CONF = Path("/etc/reader.conf.d/vpcd")
VPCD_READER = "Virtual PCD 00 00"  # slot 0 ↔ TCP 35963
VPCD_PORT = 35963


class PcscdUnavailable(SsCardError):
    """Why the virtual reader cannot be had here (missing package, not root, other pcscd): `detail`."""

    code = "SSCARD_SIM_UNAVAILABLE"
    message_zh = "无法启动模拟社保卡读卡器"
    message_en = "The simulated social-security card reader cannot run here"


def list_readers() -> list[str] | None:
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


@dataclass
class PcscdHandle:
    reader: str
    port: int
    process: subprocess.Popen | None = None  # None: somebody else's pcscd, left alone
    log_path: str = ""

    @property
    def started_here(self) -> bool:
        return self.process is not None

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None
        if self.log_path:
            Path(self.log_path).unlink(missing_ok=True)


def ensure_pcscd(start_timeout_s: float = 15.0) -> PcscdHandle:
    """A pcscd that lists the vpcd reader, started here if none runs; `PcscdUnavailable` if not possible."""
    try:
        import smartcard.scard  # noqa: F401 (only: does pyscard's binding load?)
    except ImportError:
        raise PcscdUnavailable("pyscard is not installed") from None
    binary = shutil.which("pcscd") or ("/usr/sbin/pcscd" if Path("/usr/sbin/pcscd").exists() else None)
    if binary is None:
        raise PcscdUnavailable("pcscd is not installed (Debian: apt-get install pcscd)")
    if not VPCD_LIB.exists() or not VPCD_CONF.exists():
        raise PcscdUnavailable("vsmartcard-vpcd is not installed (Debian: apt-get install vsmartcard-vpcd)")
    names = list_readers()
    if names is not None and VPCD_READER in names:
        return PcscdHandle(VPCD_READER, VPCD_PORT)
    if names is not None:
        raise PcscdUnavailable(f"a pcscd is running without the vpcd reader (readers: {names})")
    if os.geteuid() != 0:
        raise PcscdUnavailable("pcscd is not running and starting it needs root")
    # the daemon writes the log through its own copy of the descriptor; ours is closed at once
    with tempfile.NamedTemporaryFile(prefix="pcscd-", suffix=".log", delete=False) as log:
        process = subprocess.Popen([binary, "--foreground", "--info"], stdout=log, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL)
    handle = PcscdHandle(VPCD_READER, VPCD_PORT, process, log.name)
    log.close()
    deadline = time.monotonic() + start_timeout_s
    while VPCD_READER not in (list_readers() or []):
        if process.poll() is not None or time.monotonic() > deadline:
            tail = Path(handle.log_path).read_text(errors="replace")[-2000:]
            handle.stop()
            raise PcscdUnavailable(f"pcscd did not list {VPCD_READER!r}; log:\n{tail}")
        time.sleep(0.1)
    return handle
