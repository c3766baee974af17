"""Receipt capture for the clerk station: the camera and the warm OCR reader on one lane.

The screen asks (`grab` a preview frame, `read` a captured frame, `close`); the work runs on
the "ocr" lane of `TaskLanes` — one thread owns the camera and the reader, so neither is ever
touched from two threads — and the answers come back as signals on the GUI thread. A camera
that fails is closed and opened again on the next `grab` (the cable may come back).

A reading comes with its picture (the image OCR saw, its text boxes drawn, scaled) made on the
lane too: converting, drawing on and smoothly scaling a full-size receipt cost the GUI thread
~60–90 ms per reading (issue 20). A QImage may be painted on any thread; only the QPixmap the
screen makes of it belongs to the GUI thread.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np
from PySide6.QtCore import QObject, QPointF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPen, QPolygonF

from kiosk.devices.tasks import TaskLanes

log = logging.getLogger(__name__)

PREVIEW_WIDTH = 640  # frames are shrunk on the lane; the GUI thread only paints them
PICTURE_SIDE = 1600  # a reading's picture fits this square: sharp on the review pane at any panel size
BOX_COLOUR = "#0A4F9C"


def bgr_qimage(image: np.ndarray) -> QImage:
    """A QImage that owns a copy of a grey or BGR numpy image."""
    image = np.ascontiguousarray(image)
    h, w = image.shape[:2]
    if image.ndim == 2:
        return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_Grayscale8).copy()
    return QImage(image.data, w, h, image.strides[0], QImage.Format.Format_BGR888).copy()


def receipt_picture(result: Any, side: int = PICTURE_SIDE, pen_colour: str = BOX_COLOUR) -> QImage | None:
    """The image OCR saw (`result.image`) with its recognised text boxes drawn, scaled to fit a
    `side` square; None when the result carries no image. Safe on any thread."""
    image = getattr(result, "image", None)
    if image is None:
        return None
    picture = bgr_qimage(image).convertToFormat(QImage.Format.Format_RGB32)  # one QPainter can draw on
    painter = QPainter(picture)
    pen = QPen(QColor(pen_colour))
    pen.setWidth(max(2, picture.width() // 400))
    painter.setPen(pen)
    for box in getattr(result, "boxes", ()):
        painter.drawPolygon(QPolygonF([QPointF(float(x), float(y)) for x, y in box.box]))
    painter.end()
    return picture.scaled(QSize(side, side), Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation)


class ReceiptCapture(QObject):
    frame_grabbed = Signal(object, object)  # full frame, preview frame (numpy BGR images)
    camera_failed = Signal(object)  # the exception: UserFacingError (e.g. CameraError) or unexpected
    receipt_read = Signal(object, object)  # kiosk.ocr.pipeline.ReceiptResult, its picture (QImage or None)
    read_failed = Signal(object)  # the exception

    def __init__(self, lanes: TaskLanes, camera_factory: Callable[[], Any], reader_factory: Callable[[], Any],
                 lane: str = "ocr", preview_width: int = PREVIEW_WIDTH, box_colour: str = BOX_COLOUR) -> None:
        super().__init__()
        self.lanes, self.lane = lanes, lane
        self.box_colour = box_colour
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
        `receipt_read` (the result and its picture) or `read_failed`."""
        self.lanes.run(self.lane, lambda: self._read_work(frame, name), lambda done: self.receipt_read.emit(*done),
                       self.read_failed.emit)

    def close(self) -> None:
        """Release the camera and the reader on their own thread (call before the lanes shut down)."""
        self.lanes.run(self.lane, self._close_all)

    def release_after_shutdown(self) -> None:
        """Release the camera and the reader if `close` never ran (shutdown drops queued work):
        only once the lanes have shut down, so the lane's thread has ended and nothing else
        touches them."""
        self._close_camera()
        self._close_reader()

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

    def _read_work(self, frame: np.ndarray | None, name: str) -> tuple[Any, QImage | None]:
        if frame is None:
            frame, _ = self._grab_work()
        if self._reader is None:
            self._reader = self.reader_factory()
        result = self._reader.read(frame, name=name)
        return result, receipt_picture(result, pen_colour=self.box_colour)

    def _close_all(self) -> None:
        self._close_camera()
        self._close_reader()

    def _close_reader(self) -> None:
        reader, self._reader = self._reader, None
        close = getattr(reader, "close", None)  # an OCR process ends; an in-process reader has nothing to close
        if close is not None:
            try:
                close()
            except Exception:
                log.exception("OCR reader close failed")

    def _close_camera(self) -> None:
        camera, self._camera = self._camera, None
        if camera is not None:
            try:
                camera.close()
            except Exception:
                log.exception("camera close failed")
