"""Technician mode in the running kiosk: five taps on the title, the PIN, live self-tests, exit."""
from __future__ import annotations

import logging
from pathlib import Path

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QLabel

from kiosk.services.technician import pin_hash_for_config
from kiosk.ui.journey import click, wait_until

PROJECT = Path(__file__).resolve().parent.parent


@pytest.fixture
def shell(kiosk_shell):
    return kiosk_shell(hub=False, technician={"pin_hash": pin_hash_for_config("2468")})[0]


def j_find(screen, name: str):
    from PySide6.QtWidgets import QPushButton

    return screen.findChild(QPushButton, name)


def tap_title(shell, times: int) -> None:
    title = shell.window.app_title
    for _ in range(times):
        QTest.mouseClick(title, Qt.MouseButton.LeftButton, pos=QPoint(10, 10))


def test_hidden_gesture_pin_self_tests_and_exit(shell) -> None:
    tap_title(shell, 4)
    assert shell.window.current.name == "home"  # four taps are not the gesture
    tap_title(shell, 1)
    screen = shell.controller.technician_screen
    wait_until(lambda: shell.window.current is screen, 5, "the technician screen")
    for digit in "2468":
        click(screen.pin_pad.digit_buttons[digit])
    click(screen.pin_pad.confirm_button)
    wait_until(lambda: screen.run_all_button.isVisible() and screen.run_all_button.isEnabled(), 60, "unlock and the first run")
    click(screen.run_all_button)
    wait_until(lambda: screen.findChild(QLabel, "tech_state_idcard.port") is not None, 30, "the self-test rows")
    assert "正常" in screen.findChild(QLabel, "tech_state_idcard.port").text() or "ok" in screen.findChild(QLabel, "tech_state_idcard.port").text().lower()

    click(j_find(screen, "tech_camera_preview"))  # a frame from the (simulated) document camera
    wait_until(lambda: screen.camera_image.pixmap() is not None and not screen.camera_image.pixmap().isNull(), 20, "the preview")
    click(j_find(screen, "tech_reconnect_idcard"))
    wait_until(lambda: "✓" in screen.tools_status.text(), 10, "the reconnect")
    wait_until(lambda: "drivers.idcard" in screen.trace_text.text(), 10, "the reader's trace after reopening")
    assert "110105195003070019" not in screen.trace_text.text()

    click(screen.exit_button)
    wait_until(lambda: shell.window.current.name == "home", 5, "home")
    audit = (shell.config.data_dir / "audit.log").read_text(encoding="utf-8")
    assert "technician" in audit and "device.reconnect" in audit and "camera.preview" in audit
    assert not logging.getLogger("drivers.idcard").isEnabledFor(logging.DEBUG)  # trace off after exit
