"""零星报销 receipt images for the claim (issue 19: fully electronic): each receipt's picture as a
compressed JPEG inside the submission payload, so it travels in the encrypted outbox, is sealed
at the hub like every payload, and the hub's console and the hall's counter show the paper the
clerk checked next to the OCR'd fields.

Budget: the claim is one outbox item and the hub takes at most 1,000,000 bytes per request, so
all of a claim's JPEGs together stay under IMAGE_BUDGET_BYTES (base64 adds a third): each
receipt gets its share, and is encoded at the first quality (then the first smaller size) that
fits — a receipt stays legible at 1200 px on its long side and JPEG quality 45–75.
"""
from __future__ import annotations

import base64
import hashlib
from typing import Any

import numpy as np

IMAGE_BUDGET_BYTES = 480_000  # all JPEGs of one claim (≈ 640 kB of base64 on the wire)
MAX_SIDE = 1400
QUALITIES = (75, 60, 45)
MIN_SIDE = 480


def encode_receipt_image(image: np.ndarray, budget: int, max_side: int = MAX_SIDE) -> dict[str, Any] | None:
    """{"type", "width", "height", "bytes", "sha256", "data" (base64)} or None when the picture
    cannot be encoded within `budget` bytes at a legible size."""
    import cv2

    if image is None or image.ndim not in (2, 3) or min(image.shape[:2]) < 16:
        return None
    img = np.ascontiguousarray(image)
    if img.dtype != np.uint8:
        img = np.clip(img, 0, 255).astype(np.uint8)
    side = min(max_side, max(img.shape[:2]))
    while side >= MIN_SIDE:
        scale = side / max(img.shape[:2])
        sized = cv2.resize(img, (max(1, round(img.shape[1] * scale)), max(1, round(img.shape[0] * scale))),
                           interpolation=cv2.INTER_AREA) if scale < 1 else img
        for quality in QUALITIES:
            ok, buf = cv2.imencode(".jpg", sized, [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_OPTIMIZE, 1])
            if ok and len(buf) <= budget:
                data = buf.tobytes()
                return {"type": "image/jpeg", "width": int(sized.shape[1]), "height": int(sized.shape[0]),
                        "bytes": len(data), "sha256": hashlib.sha256(data).hexdigest(),
                        "data": base64.b64encode(data).decode("ascii")}
        side = int(side * 0.75)
    return None


def decode_receipt_image(image: Any) -> bytes | None:
    """The JPEG bytes of a payload's receipt image, checked (type, hash); None if absent or wrong."""
    if not isinstance(image, dict) or image.get("type") != "image/jpeg" or not isinstance(image.get("data"), str):
        return None
    try:
        data = base64.b64decode(image["data"], validate=True)
    except ValueError:
        return None
    if image.get("sha256") and hashlib.sha256(data).hexdigest() != image["sha256"]:
        return None
    return data if data[:3] == b"\xff\xd8\xff" else None
