"""Decode a QR voucher from a camera frame (OpenCV, through the camera driver that owns it)."""
from __future__ import annotations

import numpy as np


def decode_qr_image(image: np.ndarray) -> str | None:
    """The QR code's text, or None when there is none (or the frame is unusable)."""
    from drivers.camera.camera import decode_qr  # imports OpenCV: only when a frame is decoded

    return decode_qr(image)
