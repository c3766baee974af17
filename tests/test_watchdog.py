"""The systemd watchdog: WATCHDOG=1 comes from the GUI event loop, so a frozen loop stops the pings.

A test AF_UNIX datagram socket stands in for systemd's NOTIFY_SOCKET; a reader thread stamps
each datagram as it arrives, so the test sees exactly when pings stopped and resumed.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from waiting import wait_until

from kiosk.services.sd_notify import Notifier, notify_address, watchdog_interval_s

ROOT = Path(__file__).resolve().parent.parent


class NotifySocket:
    """What systemd listens on: records (monotonic time, message) for every datagram."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.05)
        self.received: list[tuple[float, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._read, name="notify-socket", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(4096)
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            self.received.append((time.monotonic(), data.decode()))

    def pings(self, after: float = 0.0) -> list[float]:
        return [t for t, message in list(self.received) if message == "WATCHDOG=1" and t > after]

    def messages(self) -> list[str]:
        return [message for _, message in list(self.received)]

    def close(self) -> None:
        self._stop.set()
        self._thread.join(2)
        self.sock.close()


@pytest.fixture
def notify_socket(tmp_path):
    sock = NotifySocket(tmp_path / "notify")
    yield sock
    sock.close()


def test_interval_is_half_of_watchdog_usec_and_only_for_us_or_our_compositor():
    assert watchdog_interval_s({"WATCHDOG_USEC": "20000000"}) == 10.0
    assert watchdog_interval_s({}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "0"}) is None
    assert watchdog_interval_s({"WATCHDOG_USEC": "soon"}) is None
    env = {"WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "41"}
    assert watchdog_interval_s(env, pid=41, parent_pid=1) == 1.0
    assert watchdog_interval_s(env, pid=42, parent_pid=41) == 1.0  # cage is the unit's main process
    assert watchdog_interval_s(env, pid=42, parent_pid=7) is None  # someone else's watchdog


def test_notify_address_kinds():
    assert notify_address({"NOTIFY_SOCKET": "/run/systemd/notify"}) == "/run/systemd/notify"
    assert notify_address({"NOTIFY_SOCKET": "@abstract"}) == "\0abstract"
    assert notify_address({"NOTIFY_SOCKET": "vsock:2:1234"}) is None
    assert notify_address({}) is None
    assert Notifier.from_environment({}) is None


def test_notifier_sends_lines_and_survives_a_vanished_socket(notify_socket, tmp_path):
    notifier = Notifier(str(notify_socket.path))
    assert notifier.ready("home screen shown")
    assert notifier.watchdog()
    gone = Notifier(str(tmp_path / "nobody-listens"))
    assert gone.watchdog() is False  # no exception: the kiosk keeps running
    notifier.close(), gone.close()
    wait_until(lambda: len(notify_socket.messages()) >= 2, 5, what="both datagrams")
    assert notify_socket.messages()[:2] == ["READY=1\nSTATUS=home screen shown", "WATCHDOG=1"]


def test_blocked_event_loop_stops_the_pings_then_they_resume(qtbot, notify_socket):
    from kiosk.devices.watchdog import start_watchdog

    watchdog_sec = 0.2  # WatchdogSec=; pings every 0.1 s
    env = {"NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": str(int(watchdog_sec * 1e6))}
    watchdog = start_watchdog(environ=env)
    assert watchdog is not None and watchdog.timer.interval() == 100
    try:
        qtbot.waitUntil(lambda: len(notify_socket.pings()) >= 3, timeout=5000)
        assert notify_socket.messages()[0].startswith("READY=1")

        blocked_from = time.monotonic()
        time.sleep(4 * watchdog_sec)  # the fault itself (not a wait): a frozen GUI, the event loop cannot turn
        blocked_until = time.monotonic()
        # Only a ping sent just before the block may still be in flight when it starts.
        assert [t for t in notify_socket.pings(after=blocked_from + 0.05) if t < blocked_until] == []
        last_before = max(notify_socket.pings())
        assert blocked_until - last_before > watchdog_sec  # systemd would have restarted the unit

        qtbot.waitUntil(lambda: len(notify_socket.pings(after=blocked_until)) >= 2, timeout=5000)
    finally:
        watchdog.stop()
    qtbot.waitUntil(lambda: "STOPPING=1" in notify_socket.messages(), timeout=5000)


def test_no_notify_socket_means_no_watchdog(qtbot):
    from kiosk.devices.watchdog import start_watchdog

    assert start_watchdog(environ={"WATCHDOG_USEC": "1000000"}) is None


@pytest.mark.timeout(120)
def test_kiosk_run_says_ready_and_pings_from_its_event_loop(notify_socket, tmp_path):
    """The resident app as systemd starts it: READY=1 after the home screen, then WATCHDOG=1."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "KIOSK_DATA_DIR": str(tmp_path / "data"),
           "NOTIFY_SOCKET": str(notify_socket.path), "WATCHDOG_USEC": "1000000"}
    env.pop("WATCHDOG_PID", None)
    process = subprocess.Popen([sys.executable, "-m", "kiosk", "run"], cwd=ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_until(lambda: len(notify_socket.pings()) >= 2 or process.poll() is not None, 90,
                   what="two watchdog pings (or the process ending)")
        assert process.poll() is None, process.stderr.read().decode()
        messages = notify_socket.messages()
        assert messages[0].startswith("READY=1"), messages
        assert len(notify_socket.pings()) >= 2
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0  # SIGTERM (systemctl stop) ends the loop cleanly


def test_no_context_menu_reaches_any_widget(qtbot):
    """The resident app's lockdown: a right click or long press opens no menu (no way out)."""
    from PySide6.QtCore import QPoint
    from PySide6.QtGui import QContextMenuEvent
    from PySide6.QtWidgets import QApplication, QLineEdit

    from kiosk.ui.lockdown import NoContextMenus

    class Field(QLineEdit):
        asked = 0

        def contextMenuEvent(self, event):  # noqa: N802 — records instead of opening a blocking menu
            self.asked += 1

    field = Field()
    qtbot.addWidget(field)
    QApplication.sendEvent(field, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, QPoint(5, 5), QPoint(5, 5)))
    assert field.asked == 1  # control: the event does arrive without the lockdown
    lockdown = NoContextMenus()
    QApplication.instance().installEventFilter(lockdown)
    try:
        for reason in (QContextMenuEvent.Reason.Mouse, QContextMenuEvent.Reason.Other):
            QApplication.sendEvent(field, QContextMenuEvent(reason, QPoint(5, 5), QPoint(5, 5)))
    finally:
        QApplication.instance().removeEventFilter(lockdown)
    assert field.asked == 1
