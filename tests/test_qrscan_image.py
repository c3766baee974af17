"""decode_qr_image() on a QR code rendered in memory, and on frames without one."""
from __future__ import annotations

import numpy as np
import qrcode

from drivers.qrscan import decode_qr_image


def render(text: str) -> np.ndarray:
    matrix = np.array(_matrix(text), dtype=bool)
    image = np.where(matrix, 0, 255).astype(np.uint8)
    return np.kron(image, np.ones((8, 8), dtype=np.uint8))


def _matrix(text: str):
    qr = qrcode.QRCode(border=4)
    qr.add_data(text)
    qr.make(fit=True)
    return qr.get_matrix()


def test_decodes_a_voucher_code():
    assert decode_qr_image(render("YBPZ:1101EC0123456789ABCDEF")) == "YBPZ:1101EC0123456789ABCDEF"


def test_colour_frame_decodes_too():
    gray = render("VOUCHER-42")
    assert decode_qr_image(np.dstack([gray, gray, gray])) == "VOUCHER-42"


def test_blank_and_noise_frames_give_none():
    assert decode_qr_image(np.full((200, 200), 255, dtype=np.uint8)) is None
    assert decode_qr_image(np.random.default_rng(1).integers(0, 256, (120, 160), dtype=np.uint8)) is None
    assert decode_qr_image(np.zeros((0,), dtype=np.uint8)) is None
