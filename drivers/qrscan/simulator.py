"""A QR scanner simulator on a pty: the real `SerialQrScanner` reads its slave end."""
from __future__ import annotations

import os
import pty
import termios
import tty


class QrScannerSimulator:
    """`path = sim.start_pty()`; `sim.scan("code")` writes code + CR LF; `sim.unplug()` hangs up."""

    def __init__(self, terminator: bytes = b"\r\n") -> None:
        self.terminator = terminator
        self.master: int | None = None
        self.slave: int | None = None
        self.path = ""

    def start_pty(self) -> str:
        self.master, self.slave = pty.openpty()
        tty.setraw(self.slave)  # no echo, no line discipline: bytes arrive as the scanner sends them
        attrs = termios.tcgetattr(self.slave)
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        self.path = os.ttyname(self.slave)
        return self.path

    def write(self, raw: bytes) -> None:
        if self.master is None:
            raise RuntimeError("simulator not started")
        os.write(self.master, raw)

    def scan(self, code: str) -> None:
        self.write(code.encode("ascii") + self.terminator)

    def unplug(self) -> None:
        """Close the master: readers of the slave get an error, as when the USB cable is pulled."""
        if self.master is not None:
            os.close(self.master)
            self.master = None

    def stop(self) -> None:
        self.unplug()
        if self.slave is not None:
            os.close(self.slave)
            self.slave = None

    def __enter__(self) -> QrScannerSimulator:
        self.start_pty()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
