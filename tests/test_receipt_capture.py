"""kiosk/devices/receipt_capture: the clerk station's camera and OCR reader behind one lane,
answers by signal (the screen never touches the camera)."""
from __future__ import annotations

import threading

import numpy as np

from kiosk.devices.receipt_capture import PICTURE_SIDE, ReceiptCapture
from kiosk.devices.tasks import TaskLanes


class FakeCamera:
    def __init__(self, fail_after: int | None = None) -> None:
        self.threads: set[str] = set()
        self.opened = self.closed = 0
        self.grabs = 0
        self.fail_after = fail_after

    def open(self) -> None:
        self.opened += 1

    def grab(self) -> np.ndarray:
        self.threads.add(threading.current_thread().name)
        self.grabs += 1
        if self.fail_after is not None and self.grabs > self.fail_after:
            raise OSError("unplugged")
        return np.zeros((1200, 1600, 3), dtype=np.uint8)

    def close(self) -> None:
        self.closed += 1


class EchoReader:
    def read(self, image: np.ndarray, name: str = "") -> tuple[str, tuple[int, ...]]:
        return name, image.shape


def test_grab_read_and_close_on_the_lane(qtbot) -> None:
    lanes = TaskLanes()
    camera = FakeCamera()
    capture = ReceiptCapture(lanes, lambda: camera, EchoReader)
    try:
        with qtbot.waitSignal(capture.frame_grabbed, timeout=5000) as grabbed:
            capture.grab()
        frame, preview = grabbed.args
        assert frame.shape == (1200, 1600, 3) and preview.shape[1] == 640  # shrunk off the GUI thread
        with qtbot.waitSignal(capture.receipt_read, timeout=5000) as read:
            capture.read(None, "capture-1")  # no frame yet: one is grabbed first
        assert read.args == [("capture-1", (1200, 1600, 3)), None]  # a result without an image has no picture
        capture.close()
        qtbot.waitUntil(lambda: camera.closed == 1, timeout=5000)
        assert camera.threads == {"lane-ocr_0"} and camera.opened == 1
    finally:
        lanes.shutdown()


class BoxedReader:
    """A reading with the image OCR saw and one text box, as ReceiptReader gives."""

    def read(self, image: np.ndarray, name: str = ""):
        from types import SimpleNamespace

        picture = np.full((3200, 2000, 3), 255, dtype=np.uint8)
        box = SimpleNamespace(box=((100, 100), (1900, 100), (1900, 400), (100, 400)))
        return SimpleNamespace(file=name, image=picture, boxes=[box], thread=threading.current_thread().name)


def test_a_reading_comes_with_its_picture_made_on_the_lane(qtbot) -> None:
    """Drawing the boxes on a full-size receipt and scaling it cost the GUI thread ~60-90 ms a
    reading: the picture is made on the lane and arrives scaled, the boxes drawn."""
    lanes = TaskLanes()
    capture = ReceiptCapture(lanes, FakeCamera, BoxedReader, box_colour="#FF0000")
    try:
        with qtbot.waitSignal(capture.receipt_read, timeout=5000) as read:
            capture.read(None, "capture-1")
        result, picture = read.args
        assert result.thread == "lane-ocr_0"
        assert (picture.width(), picture.height()) == (PICTURE_SIDE * 2000 // 3200, PICTURE_SIDE)
        edge = picture.pixelColor(picture.width() // 2, 100 * PICTURE_SIDE // 3200)  # the box's top edge
        inside = picture.pixelColor(picture.width() // 2, 250 * PICTURE_SIDE // 3200)
        assert edge.red() > 200 and edge.green() < 120 and inside.name() == "#ffffff"
    finally:
        lanes.shutdown()


def test_a_failing_camera_is_reported_and_reopened(qtbot) -> None:
    lanes = TaskLanes()
    camera = FakeCamera(fail_after=1)
    capture = ReceiptCapture(lanes, lambda: camera, EchoReader)
    try:
        with qtbot.waitSignal(capture.frame_grabbed, timeout=5000):
            capture.grab()
        with qtbot.waitSignal(capture.camera_failed, timeout=5000) as failed:
            capture.grab()
        assert isinstance(failed.args[0], OSError) and camera.closed == 1
        camera.fail_after = None  # plugged back
        with qtbot.waitSignal(capture.frame_grabbed, timeout=5000):
            capture.grab()
        assert camera.opened == 2
    finally:
        lanes.shutdown()


def test_the_camera_is_released_after_shutdown_even_without_close(qtbot) -> None:
    lanes = TaskLanes()
    camera = FakeCamera()
    capture = ReceiptCapture(lanes, lambda: camera, EchoReader)
    with qtbot.waitSignal(capture.frame_grabbed, timeout=5000):
        capture.grab()
    lanes.shutdown()  # a queued close would have been dropped here
    assert camera.closed == 0
    capture.release_after_shutdown()
    capture.release_after_shutdown()
    assert camera.closed == 1


def test_work_dropped_at_shutdown_is_not_an_error(qtbot, caplog) -> None:
    lanes = TaskLanes()
    gate = threading.Event()
    lanes.run("ocr", gate.wait)
    dropped = lanes.run("ocr", lambda: None)
    assert dropped is not None
    closer = threading.Thread(target=lanes.shutdown)
    closer.start()
    qtbot.waitUntil(dropped.cancelled, timeout=5000)
    gate.set()
    closer.join(5)
    assert not closer.is_alive()
    assert "exception calling callback" not in caplog.text and "CancelledError" not in caplog.text


def test_the_clerk_sees_a_reference_not_the_exception(qtbot, tmp_path, caplog) -> None:
    """An unexpected OCR failure on the clerk's screen: its generic text and a logged reference."""
    import datetime as dt
    import re

    from kiosk.ocr.checks import SqliteClaimedReceipts
    from kiosk.services.crypto import FieldCipher
    from kiosk.services.outbox import OutboxStore
    from kiosk.ui.i18n import set_language
    from kiosk.ui.screens.clerk_station import ClerkStationScreen
    from kiosk.ui.theme import Metrics

    class BrokenReader:
        def read(self, image: np.ndarray, name: str = "") -> None:
            raise ValueError("internal detail 110105195003070019")

    set_language("zh_CN")
    lanes = TaskLanes()
    outbox = OutboxStore(tmp_path / "outbox.sqlite3", FieldCipher.load_or_create(tmp_path / "keys" / "outbox.key"))
    claimed = SqliteClaimedReceipts(tmp_path / "claimed.sqlite3")
    screen = ClerkStationScreen(Metrics(96), lanes, ReceiptCapture(lanes, FakeCamera, BrokenReader), outbox,
                                "KIOSK-0001", claimed, preview_ms=60_000, today=dt.date(2025, 1, 15))
    qtbot.addWidget(screen)
    try:
        qtbot.waitUntil(lambda: screen.capture.isEnabled(), timeout=5000)
        screen.on_capture()
        qtbot.waitUntil(lambda: "识别失败" in screen.camera_status.text(), timeout=5000)
        text = screen.camera_status.text()
        assert "internal detail" not in text and "ValueError" not in text and "系统繁忙，请重试" in text
        reference = re.search(r"参考号 ([0-9A-F]{6})", text)
        assert reference is not None and reference.group(1) in caplog.text
    finally:
        screen.shutdown()
        lanes.shutdown()
        claimed.close()
        outbox.close()
