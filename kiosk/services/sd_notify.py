"""systemd's notify protocol (sd_notify(3)) in pure Python: READY=1, WATCHDOG=1, STATUS=, STOPPING=1.

No dependency: a datagram of `KEY=VALUE` lines to the AF_UNIX socket named by `NOTIFY_SOCKET`
(a path, or `@name` for the abstract namespace). Outside systemd (no `NOTIFY_SOCKET`) there is no
notifier and nothing is sent. Sending never blocks: a full socket queue drops that one message,
which systemd treats exactly like a late ping.
"""
from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

log = logging.getLogger(__name__)


def notify_address(environ: Mapping[str, str]) -> str | None:
    """The socket address from `NOTIFY_SOCKET`; None when unset or of a kind we do not speak (vsock)."""
    value = environ.get("NOTIFY_SOCKET", "")
    if value.startswith("@"):
        return "\0" + value[1:]  # abstract namespace
    if value.startswith("/"):
        return value
    return None


def watchdog_interval_s(environ: Mapping[str, str], pid: int | None = None, parent_pid: int | None = None) -> float | None:
    """How often to send WATCHDOG=1: half of `WATCHDOG_USEC` (as sd_watchdog_enabled(3) advises).

    None when the unit has no WatchdogSec=, or `WATCHDOG_PID` names another process. Under
    `cage` the compositor is the unit's main process and the app is its only child, so the
    watchdog meant for our parent is ours too (the unit says NotifyAccess=all).
    """
    try:
        usec = int(environ.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    owner = environ.get("WATCHDOG_PID", "")
    if owner:
        pid = os.getpid() if pid is None else pid
        parent_pid = os.getppid() if parent_pid is None else parent_pid
        if not owner.isdigit() or int(owner) not in (pid, parent_pid):
            return None
    return usec / 1_000_000 / 2


class Notifier:
    """Sends state lines to systemd's notify socket; each method returns whether it was sent."""

    def __init__(self, address: str) -> None:
        self.address = address
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        self._socket.setblocking(False)  # called from the GUI thread: never wait
        self._failed = False

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> Notifier | None:
        address = notify_address(os.environ if environ is None else environ)
        return cls(address) if address else None

    def send(self, *lines: str) -> bool:
        try:
            self._socket.sendto("\n".join(lines).encode(), self.address)
        except OSError as exc:  # socket gone or queue full: say it once, keep the app running
            if not self._failed:
                log.warning("systemd notify failed: %s", exc)
            self._failed = True
            return False
        self._failed = False
        return True

    def ready(self, status: str = "") -> bool:
        return self.send("READY=1", *([f"STATUS={status}"] if status else []))

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def close(self) -> None:
        self._socket.close()
