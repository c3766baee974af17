"""Receipt capture for the clerk station: the camera and the warm OCR reader on one lane.

The screen asks (`grab` a preview frame, `read` a captured frame, `close`); the work runs on
the "ocr" lane of `TaskLanes` — one thread owns the camera and the reader, so neither is ever
touched from two threads — and the answers come back as signals on the GUI thread. A camera
that fails is closed and opened again on the next `grab` (the cable may come back).
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, Signal

from kiosk.devices.tasks import TaskLanes

log = logging.getLogger(__name__)

PREVIEW_WIDTH = 640  # frames are shrunk on the lane; the GUI thread only paints them


class ReceiptCapture(QObject):
    frame_grabbed = Signal(object, object)  # full frame, preview frame (numpy BGR images)
    camera_failed = Signal(object)  # the exception: UserFacingError (e.g. CameraError) or unexpected
    receipt_read = Signal(object)  # kiosk.ocr.pipeline.ReceiptResult
    read_failed = Signal(object)  # the exception

    def __init__(self, lanes: TaskLanes, camera_factory: Callable[[], Any], reader_factory: Callable[[], Any],
                 lane: str = "ocr", preview_width: int = PREVIEW_WIDTH) -> None:
        super().__init__()
        self.lanes, self.lane = lanes, lane
        self.camera_factory, self.reader_factory = camera_factory, reader_factory
        self.preview_width = preview_width
        # Touched only on the lane.
        self._camera: Any = None
        self._reader: Any = None

    # -- the screen's requests (GUI thread) -----------------------------------------------------
    def grab(self) -> None:
        """One frame for the live preview: `frame_grabbed` or `camera_failed`."""
        self.lanes.run(self.lane, self._grab_work, lambda frames: self.frame_grabbed.emit(*frames),
                       self.camera_failed.emit)

    def read(self, frame: np.ndarray | None, name: str) -> None:
        """OCR of `frame` (what the clerk saw on the preview; None: grab one now):
        `receipt_read` or `read_failed`."""
        self.lanes.run(self.lane, lambda: self._read_work(frame, name), self.receipt_read.emit, self.read_failed.emit)

    def close(self) -> None:
        """Release the camera on its own thread (call before the lanes shut down)."""
        self.lanes.run(self.lane, self._close_camera)

    def release_after_shutdown(self) -> None:
        """Release the camera if `close` never ran (shutdown drops queued work): only once the
        lanes have shut down, so the lane's thread has ended and nothing else touches it."""
        self._close_camera()

    # -- on the lane ----------------------------------------------------------------------------
    def _grab_work(self) -> tuple[np.ndarray, np.ndarray]:
        if self._camera is None:
            camera = self.camera_factory()
            camera.open()
            self._camera = camera
        try:
            frame = self._camera.grab()
        except Exception:
            self._close_camera()  # reopen on the next grab: the cable may come back
            raise
        scale = min(1.0, self.preview_width / max(1, frame.shape[1]))
        small = cv2.resize(frame, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else frame
        return frame, small

    def _read_work(self, frame: np.ndarray | None, name: str) -> Any:
        if frame is None:
            frame, _ = self._grab_work()
        if self._reader is None:
            self._reader = self.reader_factory()
        return self._reader.read(frame, name=name)

    def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.close()
            except Exception:
                log.exception("camera close failed")
