"""Clerk scan station screen: simulated camera, capture → review → correct → resident → submit.

One test runs the real RapidOCR reader once (≈ 2–4 s on the 2-core box); the others inject a
reader that returns a prepared result so they stay fast.
"""
from __future__ import annotations

import datetime as dt
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from drivers.camera import FolderCamera
from kiosk.ocr.checks import SqliteClaimedReceipts
from kiosk.ocr.lines import TextBox
from kiosk.ocr.pipeline import ReceiptReader, ReceiptResult
from kiosk.services.crypto import FieldCipher
from kiosk.services.identity import Person
from kiosk.services.outbox import OutboxStore
from kiosk.ui.audit import audit
from kiosk.ui.clerk_app import ClerkWindow
from kiosk.ui.i18n import set_language
from kiosk.ui.screens.clerk_station import ClerkStationScreen
from kiosk.devices.receipt_capture import ReceiptCapture
from kiosk.devices.tasks import TaskLanes
from kiosk.ui.theme import Metrics
from waiting import settled

PROJECT = Path(__file__).resolve().parent.parent
RECEIPTS = PROJECT / "assets" / "receipts"
# Screenshots go to docs/screens only when asked (KIOSK_SCREENSHOTS_DIR=docs/screens): a test
# run must not rewrite tracked files.
SCREENS = Path(os.environ.get("KIOSK_SCREENSHOTS_DIR") or Path(tempfile.gettempdir()) / "kiosk-clerk-screens")
DPI = 96  # a 23-inch 1920×1080 desk monitor, where the clerk station runs
DESK = (1920, 1080)
RESIDENT = Person(name="高强娜", id_number="410102196502143326", source="idcard", birth_date=dt.date(1965, 2, 14))


class PreparedReader:
    """Stands in for ReceiptReader: the frame it is given, with fields that fail 大写 = 小写."""

    def __init__(self) -> None:
        self.calls = 0

    def read(self, image: np.ndarray, name: str = "") -> ReceiptResult:
        self.calls += 1
        fields = {"bill_code": "41767664", "bill_number": f"36522222{self.calls:02d}", "check_code": None,
                  "issue_date": "2024-11-30", "payer": "高强娜", "hospital": "郑州市第一人民医院",
                  "insurance": "职工基本医疗保险", "total": "1066.78", "total_in_words": "壹仟零陆拾陆元柒角伍分",
                  "fund_paid": "746.75", "personal_account_paid": "10.16", "personal_cash_paid": "309.87"}
        items = [{"name": "化验费", "amount": "265.07", "confidence": 0.99}, {"name": "治疗费", "amount": "801.71", "confidence": 0.99}]
        boxes = [TextBox("郑州市第一人民医院", ((60.0, 40.0), (400.0, 40.0), (400.0, 80.0), (60.0, 80.0)), 0.99)]
        result = ReceiptResult(file=name, fields=fields, items=items, boxes=boxes, image=image, template="outpatient",
                               confidence={k: 0.99 for k, v in fields.items() if v is not None})
        result.checks = {}
        return result


@pytest.fixture
def make_station(qtbot, tmp_path: Path):
    made = []

    def make(camera_factory=lambda: FolderCamera(RECEIPTS), reader_factory=PreparedReader,
             preview_ms: int = 60_000, language: str = "zh_CN", size: tuple[int, int] = DESK) -> ClerkWindow:
        set_language(language)
        outbox = OutboxStore(tmp_path / "outbox.sqlite3", FieldCipher.load_or_create(tmp_path / "keys" / "outbox.key"))
        claimed = SqliteClaimedReceipts(tmp_path / "claimed.sqlite3")
        lanes = TaskLanes()
        screen = ClerkStationScreen(Metrics(DPI), lanes, ReceiptCapture(lanes, camera_factory, reader_factory),
                                    outbox, "KIOSK-0001", claimed,
                                    preview_ms=preview_ms, today=dt.date(2025, 1, 15))
        window = ClerkWindow(screen, "Noto Sans CJK SC")
        qtbot.addWidget(window)
        window.resize(*size)
        window.show()
        window.outbox, window.claimed, window.lanes = outbox, claimed, lanes
        made.append(window)
        return window

    yield make
    for window in made:
        window.screen.shutdown()
        window.lanes.shutdown()
        window.claimed.close()
        window.outbox.close()
    set_language("zh_CN")


def wait_camera_ready(qtbot, screen: ClerkStationScreen) -> None:
    qtbot.waitUntil(lambda: screen.capture.isEnabled(), timeout=10_000)


@pytest.mark.slow
def test_capture_correct_and_submit_with_real_ocr(make_station, qtbot) -> None:
    window = make_station(reader_factory=lambda: ReceiptReader("rapidocr"))
    screen = window.screen
    wait_camera_ready(qtbot, screen)
    assert "就绪" in screen.camera_status.text()
    qtbot.mouseClick(screen.capture, Qt.MouseButton.LeftButton)
    assert not screen.capture.isEnabled()  # one capture at a time
    qtbot.waitUntil(lambda: len(screen.batch.receipts) == 1, timeout=30_000)
    qtbot.waitUntil(lambda: screen.capture.isEnabled(), timeout=5_000)
    receipt = screen.batch.receipts[0]
    assert receipt.fields["total"] == "1066.78" and receipt.result.boxes  # receipt_01, boxes to draw
    assert screen.edits["hospital"].text() == "郑州市第一人民医院"
    assert screen.edits["check_code"].text() == ""  # this layout has no 校验码 the reader found
    assert not screen.submit.isEnabled()  # no resident yet
    assert "还没有读取参保人证件" in screen.blockers_label.text()

    edit = screen.edits["check_code"]  # the clerk types it from the paper
    qtbot.mouseClick(edit, Qt.MouseButton.LeftButton)
    qtbot.keyClicks(edit, "9f3a2c")
    assert screen.batch.receipts[0].corrected_fields == ["check_code"]
    assert screen.batch.receipts[0].checks["check_code_format"] is True
    screen.set_resident(RESIDENT)
    assert screen.resident_name.text() == "姓名 高**" and "410102********3326" in screen.resident_id.text()
    assert "¥1066.78" in screen.sum_label.text()

    SCREENS.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(SCREENS / "clerk-station.png"))
    assert screen.submit.isEnabled()
    qtbot.mouseClick(screen.submit, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: screen.submit_message.isVisible(), timeout=10_000)
    assert "提交成功" in screen.submit_message.text()
    entry = window.outbox.get(screen.submission_id)
    assert entry is not None and entry.service == "sporadic_reimburse" and entry.kind == "submission"
    stored = entry.payload["receipts"][0]
    assert stored["fields"]["check_code"] == "9f3a2c" and stored["corrected_fields"] == ["check_code"]
    assert entry.payload["applicant"]["id_number"] == RESIDENT.id_number
    assert window.claimed.is_claimed(receipt.fields["bill_code"], receipt.fields["bill_number"])
    assert screen.new_claim.isVisible() and not screen.capture.isEnabled()
    window.grab().save(str(SCREENS / "clerk-submitted.png"))


def test_missing_camera_is_a_message_not_a_crash(make_station, qtbot, tmp_path: Path) -> None:
    window = make_station(camera_factory=lambda: FolderCamera(tmp_path / "no-camera-here"))
    screen = window.screen
    qtbot.waitUntil(lambda: "拍摄仪故障" in screen.camera_status.text(), timeout=10_000)
    assert "未找到拍摄仪" in screen.camera_status.text() and "⚠" in screen.camera_status.text()
    assert screen.camera_status.property("role") == "error"
    assert not screen.capture.isEnabled()
    assert settled(qtbot, lambda: audit(window, screen.metrics)) == []
    window.grab().save(str(SCREENS / "clerk-camera-missing.png"))


def test_unexpected_camera_failure_shows_a_generic_message(make_station, qtbot) -> None:
    def broken():
        raise OSError("v4l2 ioctl failed")

    window = make_station(camera_factory=broken)
    qtbot.waitUntil(lambda: "技术人员" in window.screen.camera_status.text(), timeout=10_000)
    assert "ioctl" not in window.screen.camera_status.text()


def test_unplug_during_preview_then_back(make_station, qtbot) -> None:
    camera = FolderCamera(RECEIPTS)
    window = make_station(camera_factory=lambda: camera, preview_ms=50)
    screen = window.screen
    wait_camera_ready(qtbot, screen)
    camera.unplugged = True
    qtbot.waitUntil(lambda: not screen.capture.isEnabled(), timeout=10_000)
    assert "拍摄仪" in screen.camera_status.text()
    camera.unplugged = False
    qtbot.waitUntil(lambda: screen.capture.isEnabled(), timeout=10_000)  # retried after 3 s


@pytest.mark.parametrize("language", ["zh_CN", "en"])
def test_review_with_a_failed_check_passes_the_audit(make_station, qtbot, language: str) -> None:
    window = make_station(language=language)
    screen = window.screen
    wait_camera_ready(qtbot, screen)
    for _ in range(2):
        qtbot.mouseClick(screen.capture, Qt.MouseButton.LeftButton)
        n = len(screen.batch.receipts)
        qtbot.waitUntil(lambda: len(screen.batch.receipts) == n + 1 and screen.capture.isEnabled(), timeout=10_000)
    screen.set_resident(RESIDENT)
    # The prepared receipt's 大写 does not match: flagged with an icon and words, not colour only.
    problem = screen.problems["total_in_words"]
    assert problem.isVisible() and "⚠" in problem.text()
    assert ("大写金额与小写不符" if language == "zh_CN" else "amount in words ≠ figures") in problem.text()
    assert screen.edits["total_in_words"].property("invalid") is True
    assert not screen.submit.isEnabled()
    assert "¥2133.56" in screen.sum_label.text()
    window.setStyleSheet(window.styleSheet())
    assert settled(qtbot, lambda: audit(window, screen.metrics, language=language)) == []
    if language == "zh_CN":
        window.grab().save(str(SCREENS / "clerk-review.png"))

    # Confirming both receipts against the paper unblocks submit; a bad amount blocks it again.
    for i in range(2):
        qtbot.mouseClick(screen.batch_buttons[i], Qt.MouseButton.LeftButton)
        assert screen.selected == i
        qtbot.mouseClick(screen.confirm, Qt.MouseButton.LeftButton)
    assert screen.submit.isEnabled()
    edit = screen.edits["fund_paid"]
    edit.selectAll()
    qtbot.keyClicks(edit, "74x")
    assert not screen.submit.isEnabled() and screen.problems["fund_paid"].isVisible()
    # once the layout has settled, as it has by the time anyone looks
    assert settled(qtbot, lambda: audit(window, screen.metrics, language=language)) == []


def test_remove_a_receipt_updates_the_sum(make_station, qtbot) -> None:
    window = make_station()
    screen = window.screen
    wait_camera_ready(qtbot, screen)
    for _ in range(2):
        n = len(screen.batch.receipts)
        qtbot.mouseClick(screen.capture, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: len(screen.batch.receipts) == n + 1 and screen.capture.isEnabled(), timeout=10_000)
    qtbot.mouseClick(screen.remove, Qt.MouseButton.LeftButton)
    assert len(screen.batch.receipts) == 1 and len(screen.batch_buttons) == 1
    assert "¥1066.78" in screen.sum_label.text() and "1 张" in screen.sum_label.text()
