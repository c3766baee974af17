"""Decode a QR voucher from a camera frame (OpenCV, headless build)."""
from __future__ import annotations

import numpy as np


def decode_qr_image(image: np.ndarray) -> str | None:
    """The QR code's text, or None when there is none (or the frame is unusable)."""
    import cv2

    if not isinstance(image, np.ndarray) or image.size == 0 or image.ndim not in (2, 3):
        return None
    frame = image if image.dtype == np.uint8 else np.clip(image, 0, 255).astype(np.uint8)
    try:
        text, points, _ = cv2.QRCodeDetector().detectAndDecode(frame)
    except cv2.error:
        return None
    return text or None
