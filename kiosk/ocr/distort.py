"""Distortions a receipt image meets at a real counter, as pure functions image → image.

Used by the distortion benchmark (`bench/ocr_distortions.py`) and its tests to hold the OCR
pipeline to the raw engine's floor (issue 23). Every function takes a BGR uint8 image and
returns a new one; the random ones take a `seed`, so the same call gives the same pixels.
`CLASSES` names each class once: {name: function(image, seed) -> image}.
"""
from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

Distortion = Callable[[np.ndarray, int], np.ndarray]


def rotate_quarter(image: np.ndarray, quarters: int) -> np.ndarray:
    """Sideways (1 = 90° clockwise, 3 = 270°) or upside down (2): how a sheet goes in a scanner."""
    codes = {1: cv2.ROTATE_90_CLOCKWISE, 2: cv2.ROTATE_180, 3: cv2.ROTATE_90_COUNTERCLOCKWISE}
    return cv2.rotate(image, codes[quarters % 4]) if quarters % 4 else image.copy()


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise ValueError("JPEG round trip failed")
    return decoded


def downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Half (2) or a third (3) of the resolution, as a cheap camera or a small upload gives."""
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)


def box_blur(image: np.ndarray, radius: int) -> np.ndarray:
    """Out of focus: a (2r+1)² box filter."""
    k = 2 * radius + 1
    return cv2.blur(image, (k, k))


def motion_blur(image: np.ndarray, length: int, angle: float = 0.0) -> np.ndarray:
    """A hand-held camera that moved during the exposure: a line kernel `length` px long."""
    k = np.zeros((length, length), np.float32)
    k[length // 2, :] = 1.0
    m = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    k = cv2.warpAffine(k, m, (length, length))
    return cv2.filter2D(image, -1, k / max(k.sum(), 1e-6))


def gaussian_noise(image: np.ndarray, sigma: float, seed: int) -> np.ndarray:
    noise = np.random.default_rng(seed).normal(0.0, sigma, image.shape)
    return (image.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)


def low_light(image: np.ndarray, level: float = 0.35, seed: int = 0, sigma: float = 4.0) -> np.ndarray:
    """A dim room: everything scaled down (paper ends up grey, ink and paper close), plus the
    sensor noise a dark exposure brings."""
    dim = image.astype(np.float32) * level + 8.0
    return gaussian_noise(dim.clip(0, 255).astype(np.uint8), sigma, seed)


def uneven_light(image: np.ndarray, seed: int, darkest: float = 0.3) -> np.ndarray:
    """A lamp on one side and a hand's shadow: light falls from 1.0 to `darkest` across the page
    along a random direction, with a soft dark blob somewhere on it."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(ang) * xx / w + np.sin(ang) * yy / h
    ramp = (ramp - ramp.min()) / max(1e-6, ramp.max() - ramp.min())
    light = 1.0 - (1.0 - darkest) * ramp
    cx, cy, r = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h, 0.25 * max(h, w)
    light *= 1.0 - 0.35 * np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * r * r))
    return (image.astype(np.float32) * light[..., None]).clip(0, 255).astype(np.uint8)


def tilt(image: np.ndarray, degrees: float) -> np.ndarray:
    """The sheet laid in crooked: rotated about its centre on a canvas grown to keep the corners,
    the new corners filled with the page's own background."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), degrees, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[:, 2] += ((nw - w) / 2, (nh - h) / 2)
    fill = tuple(int(v) for v in np.percentile(image.reshape(-1, 3), 90, axis=0))
    return cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=fill)


def perspective(image: np.ndarray, seed: int, strength: float = 0.12) -> np.ndarray:
    """A photo taken at an angle: the page becomes a trapezoid (one side up to `strength` of the
    width shorter) lying on a dark desk."""
    rng = np.random.default_rng(seed)
    h, w = image.shape[:2]
    bw, bh = int(w * 1.2), int(h * 1.25)
    desk = np.empty((bh, bw, 3), np.uint8)
    desk[:] = (70, 80, 95)
    mx, my = (bw - w) / 2, (bh - h) / 2
    s = strength * w
    side = rng.integers(0, 4)
    d = [[0, 0], [0, 0], [0, 0], [0, 0]]  # tl, tr, br, bl offsets
    if side == 0:  # top edge far from the camera
        d[0], d[1] = [s / 2, s / 4], [-s / 2, s / 4]
    elif side == 1:
        d[2], d[3] = [-s / 2, -s / 4], [s / 2, -s / 4]
    elif side == 2:
        d[0], d[3] = [s / 4, s / 2], [s / 4, -s / 2]
    else:
        d[1], d[2] = [-s / 4, s / 2], [-s / 4, -s / 2]
    src = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    dst = np.array([[mx + x + dx, my + y + dy] for (x, y), (dx, dy) in zip(src, d, strict=True)], dtype=np.float32)
    m = cv2.getPerspectiveTransform(src, dst)
    return cv2.warpPerspective(image, m, (bw, bh), dst=desk, borderMode=cv2.BORDER_TRANSPARENT)


# Class name → distortion. The blur radii rise until a person can no longer read the amounts:
# box r1–r3 and motion 5–9 px stay readable at the receipt's 28 px type; box r4 and motion 13 barely.
CLASSES: dict[str, Distortion] = {
    "none": lambda img, seed: img.copy(),
    "rotate_90": lambda img, seed: rotate_quarter(img, 1),
    "rotate_180": lambda img, seed: rotate_quarter(img, 2),
    "rotate_270": lambda img, seed: rotate_quarter(img, 3),
    "jpeg_q30": lambda img, seed: jpeg(img, 30),
    "jpeg_q15": lambda img, seed: jpeg(img, 15),
    "half_res": lambda img, seed: downscale(img, 2),
    "third_res": lambda img, seed: downscale(img, 3),
    "box_blur_r1": lambda img, seed: box_blur(img, 1),
    "box_blur_r2": lambda img, seed: box_blur(img, 2),
    "box_blur_r3": lambda img, seed: box_blur(img, 3),
    "box_blur_r4": lambda img, seed: box_blur(img, 4),
    "motion_blur_5": lambda img, seed: motion_blur(img, 5, angle=float(seed % 30)),
    "motion_blur_9": lambda img, seed: motion_blur(img, 9, angle=float(seed % 30)),
    "motion_blur_13": lambda img, seed: motion_blur(img, 13, angle=float(seed % 30)),
    "noise_s15": lambda img, seed: gaussian_noise(img, 15, seed),
    "noise_s30": lambda img, seed: gaussian_noise(img, 30, seed),
    "low_light": lambda img, seed: low_light(img, 0.35, seed),
    "uneven_light": lambda img, seed: uneven_light(img, seed),
    "tilt_small": lambda img, seed: tilt(img, 3.0 if seed % 2 else -3.0),
    "tilt_large": lambda img, seed: tilt(img, 12.0 if seed % 2 else -12.0),
    "perspective": lambda img, seed: perspective(img, seed),
}

# Classes where a person still reads every amount: the pipeline must get ≥ 90 % of fields here.
READABLE_BLUR = ("box_blur_r1", "box_blur_r2", "box_blur_r3", "motion_blur_5", "motion_blur_9")


def apply(name: str, image: np.ndarray, seed: int = 0) -> np.ndarray:
    return CLASSES[name](image, seed)
