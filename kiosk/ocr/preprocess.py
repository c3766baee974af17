"""Image preparation before OCR, pure functions over numpy arrays (BGR or grayscale uint8).

1. `suppress_stamp`: the brightest colour channel per pixel. Red ink is bright in the red
   channel, so a red stamp turns pale while black print stays black.
2. `find_page` + `warp_page`: a camera shot of a sheet on a desk → the sheet, flattened
   (largest bright quadrilateral, perspective-corrected).
3. `deskew`: large rotations (a crooked scan) straightened by the projection-profile angle;
   small tilts are left to the OCR engine.
4. `measure_quality` decides how hard to flatten: a fixed level stretch turns a sharp page's
   stamp remains white, but it also erases the soft grey strokes of a blurred one (issue 23),
   so only sharp images get it.

`prepare` = `suppress_stamp` → `straighten` (2, 3) → `finish` (level stretch, size). The pipeline
calls the steps itself so that one grey image and one straightened page serve every reading
(issue 20). Each step costs a few ms on a 1,900 px photo: channel maxima, not `max(axis=2)`;
percentiles from histograms, not sorts of every pixel — with numpy's numbers, bit for bit.
"""
from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np


@dataclass(frozen=True)
class Prepared:
    image: np.ndarray  # grayscale, what the engine sees (boxes are in its coordinates)
    page_found: bool
    skew_degrees: float
    quality: Quality | None = None


# Sharpness (see `measure_quality`) on the synthetic receipts' 28 px type: ~150 sharp, ~100 a
# 3 px box blur, ~75 a 9 px motion blur, ~37 a 7 px box blur, ~29 a 9 px one.
SHARP_AT = 90.0  # at or above: the hard level stretch is safe (phone photos of the generator: 105–130)
BLURRY_BELOW = 45.0  # below: the clerk is told the image is blurred (if the reading needs review)
DARK_BELOW = 60.0  # paper darker than this (0–255) is a dim shot
LOW_CONTRAST_BELOW = 40.0


@dataclass(frozen=True)
class Quality:
    """How readable the image is, measured before OCR.

    sharpness: 99.5th percentile of |Laplacian| of the light-flattened page, its contrast
    stretched to 0–255 (so dim or pale shots are not called blurred); edges of print give the
    top values, so a blur that softens them lowers it. contrast: 1st–99th percentile spread of
    the flattened page. brightness: the paper's median grey before flattening."""

    sharpness: float
    contrast: float
    brightness: float

    @property
    def problem(self) -> str | None:
        """"blurry" | "dark" | "low_contrast" | None — the worst thing about the image."""
        if self.sharpness < BLURRY_BELOW:
            return "blurry"
        if self.brightness < DARK_BELOW:
            return "dark"
        if self.contrast < LOW_CONTRAST_BELOW:
            return "low_contrast"
        return None

    def to_json(self) -> dict:
        return {"sharpness": round(self.sharpness, 1), "contrast": round(self.contrast, 1),
                "brightness": round(self.brightness, 1)}


SOFT_LEVELS = (0, 255)  # flatten the light only


def levels_for(quality: Quality) -> tuple[int, int]:
    """(black, white) of the level stretch. Sharp: hard, so stamp remains turn white. Softly
    blurred: half as hard (a 5 px box blur read 12/12 this way, 10/12 with none). Blurred
    more: none at all, the grey strokes are all there is of the print."""
    if quality.sharpness >= SHARP_AT:
        return 50, 215
    if quality.sharpness >= BLURRY_BELOW:
        return 25, 235
    return SOFT_LEVELS


def measure_quality(gray: np.ndarray, max_side: int = 1500) -> Quality:
    scale = max_side / max(gray.shape[:2])
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    brightness = percentiles_u8(gray, 75)[0]  # mostly paper: print covers well under a quarter
    flat = flatten_background(gray, 0, 255)
    flat = cv2.GaussianBlur(flat, (3, 3), 0)  # pixel noise is not sharpness
    lo, hi = percentiles_u8(flat, 1, 99)
    contrast = hi - lo
    lap = cv2.Laplacian(flat.astype(np.float32) * np.float32(255.0 / max(contrast, 1.0)), cv2.CV_32F)
    return Quality(top_percentile(np.abs(lap), 99.5), contrast, brightness)


def suppress_stamp(image: np.ndarray) -> np.ndarray:
    """The brightest channel per pixel. Channel by channel: numpy's `max(axis=2)` over the
    three-wide last axis took ~70 ms on a 1,900 px photo, this takes ~3 ms (issue 20)."""
    if image.ndim == 2:
        return image
    gray = image[..., 0]
    for c in range(1, image.shape[2]):
        gray = np.maximum(gray, image[..., c])
    return np.ascontiguousarray(gray)


# Percentiles without sorting the image (issue 20: np.percentile partitions a copy of every
# pixel, ~10 ms a call on a receipt photo). Each gives what np.percentile (method "linear")
# gives, bit for bit: the same interpolation between the same two order statistics.

def _lerp(n: int, q: float, order_stat: Callable[[int], Any]) -> float:
    """np.percentile's linear interpolation between the order statistics around percentile q
    of n samples; `order_stat(k)` is the k-th smallest sample as a numpy scalar of the data's
    dtype (so the arithmetic promotes as numpy's own does)."""
    index = (n - 1) * (q / 100)
    below = math.floor(index)
    if index >= n - 1:
        below = above = n - 1
    else:
        above = below + 1
    t = index - below
    a, b = order_stat(below), order_stat(above)
    diff = b - a
    return float(b - diff * (1 - t) if t >= 0.5 else a + diff * t)


def percentiles_of_counts(counts: np.ndarray, *qs: float, dtype: type = np.uint8) -> list[float]:
    """Percentiles of the samples a histogram describes (`counts[v]` samples equal to v)."""
    ends = np.cumsum(counts)
    return [_lerp(int(ends[-1]), q, lambda k: dtype(np.searchsorted(ends, k, side="right"))) for q in qs]


def percentiles_u8(gray: np.ndarray, *qs: float) -> list[float]:
    """np.percentile of a uint8 image, from its 256-bin histogram."""
    counts = cv2.calcHist([np.ascontiguousarray(gray)], [0], None, [256], [0, 256]).ravel().astype(np.int64)
    return percentiles_of_counts(counts, *qs)


def top_percentile(values: np.ndarray, q: float, sample_step: int = 16) -> float:
    """np.percentile(values, q) for a high q: only the values at or above a cut-off taken from
    every `sample_step`-th value are sorted (falls back to all of them if the cut-off was too high)."""
    flat = values.ravel()
    n = flat.size
    below = math.floor((n - 1) * (q / 100))
    sample = flat[::sample_step]
    k = max(0, int(len(sample) * (1 - 2 * (1 - q / 100))) - 1)  # twice the tail q leaves
    cut = np.partition(sample, k)[k]
    top = flat[flat >= cut]
    skipped = n - top.size
    if skipped > below:  # the cut-off was above the order statistics q needs
        top, skipped = flat, 0
    top = np.partition(top, [below - skipped, min(below + 1, n - 1) - skipped])
    return _lerp(n, q, lambda i: top[i - skipped])


def flatten_background(gray: np.ndarray, black: int = 50, white: int = 215) -> np.ndarray:
    """Divide by the paper's own brightness (shadows and uneven light go away), then stretch
    levels so the pale remains of a suppressed stamp become paper white and print stays black."""
    h, w = gray.shape[:2]
    small = cv2.resize(gray, (max(1, w // 8), max(1, h // 8)), interpolation=cv2.INTER_AREA)
    paper = cv2.dilate(small, np.ones((7, 7), np.uint8))  # a max filter wider than a glyph
    paper = cv2.GaussianBlur(paper, (0, 0), 3)
    paper = cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    # gray * 255 / max(paper, 1), then (· - black) * 255 / (white - black), clipped: the same
    # float32 steps in place, without a full-size temporary for each
    norm = gray.astype(np.float32)
    norm *= 255.0
    norm /= np.maximum(paper, 1.0, out=paper)
    norm -= black
    norm *= 255.0 / (white - black)
    return np.clip(norm, 0, 255, out=norm).astype(np.uint8)


def order_corners(pts: np.ndarray) -> np.ndarray:
    """Four points → top-left, top-right, bottom-right, bottom-left."""
    pts = np.asarray(pts, dtype=np.float32).reshape(4, 2)
    s, d = pts.sum(axis=1), np.diff(pts, axis=1).ravel()
    return np.array([pts[np.argmin(s)], pts[np.argmin(d)], pts[np.argmax(s)], pts[np.argmax(d)]], dtype=np.float32)


def find_page(gray: np.ndarray, min_area: float = 0.25, min_contrast: float = 40.0,
              min_edge: float = 4.0) -> np.ndarray | None:
    """Corners of the sheet if the image shows a bright sheet on a darker surround, else None.
    The sheet's outline must be a sharp step (`min_edge` grey levels per pixel): light falling
    off across a page also splits it into bright and dark, but along a gentle ramp."""
    h, w = gray.shape[:2]
    scale = 800.0 / max(h, w)
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    scale = min(scale, 1.0)
    blur = cv2.GaussianBlur(small, (7, 7), 0)
    _, mask = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    contour = max(contours, key=cv2.contourArea)
    area = cv2.contourArea(contour)
    if area < min_area * small.shape[0] * small.shape[1] or area > 0.97 * small.shape[0] * small.shape[1]:
        return None
    hull = cv2.convexHull(contour)
    quad = None
    for eps in (0.02, 0.03, 0.05, 0.08):
        approx = cv2.approxPolyDP(hull, eps * cv2.arcLength(hull, True), True)
        if len(approx) == 4:
            quad = approx
            break
    if quad is None:
        quad = cv2.boxPoints(cv2.minAreaRect(hull))
    inside = np.zeros_like(small)
    cv2.fillPoly(inside, [np.int32(np.asarray(quad).reshape(4, 2))], 255)
    if blur[inside > 0].mean() - blur[inside == 0].mean() < min_contrast:
        return None  # not a sheet on a desk (e.g. a frame printed on the page)
    if _edge_strength(blur, np.asarray(quad, dtype=np.float32).reshape(4, 2)) < min_edge:
        return None  # a shadow or a lamp's fall-off, not the sheet's edge
    return order_corners(np.asarray(quad, dtype=np.float32).reshape(4, 2) / scale)


def _edge_strength(blur: np.ndarray, quad: np.ndarray, border: int = 4) -> float:
    """Median gradient (grey levels per pixel) along the quad's sides, off the image border."""
    gx = cv2.Sobel(blur, cv2.CV_32F, 1, 0, ksize=3) / 8.0
    gy = cv2.Sobel(blur, cv2.CV_32F, 0, 1, ksize=3) / 8.0
    grad = cv2.dilate(cv2.magnitude(gx, gy), np.ones((5, 5), np.uint8))  # the step may sit a few px off
    h, w = blur.shape[:2]
    samples = []
    for a, b in zip(quad, np.roll(quad, -1, axis=0), strict=True):
        for t in np.linspace(0.05, 0.95, 40):
            x, y = a + t * (b - a)
            if border <= x < w - border and border <= y < h - border:
                samples.append(grad[int(y), int(x)])
    return float(np.median(samples)) if samples else 0.0


def warp_page(image: np.ndarray, corners: np.ndarray) -> np.ndarray:
    tl, tr, br, bl = order_corners(corners)
    width = int(max(np.linalg.norm(tr - tl), np.linalg.norm(br - bl)))
    height = int(max(np.linalg.norm(bl - tl), np.linalg.norm(br - tr)))
    dst = np.array([[0, 0], [width - 1, 0], [width - 1, height - 1], [0, height - 1]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(np.array([tl, tr, br, bl], dtype=np.float32), dst)
    return cv2.warpPerspective(image, m, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def estimate_skew(gray: np.ndarray, max_angle: float = 30.0) -> float:
    """Angle (degrees, counter-clockwise positive as cv2) that makes text rows horizontal:
    the rotation that maximises the variance of the dark-pixel row profile."""
    scale = 600.0 / max(gray.shape[:2])
    small = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else gray
    ink = cv2.adaptiveThreshold(small, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)
    h, w = ink.shape
    center = (w / 2, h / 2)

    def score(angle: float) -> float:
        m = cv2.getRotationMatrix2D(center, angle, 1.0)
        rotated = cv2.warpAffine(ink, m, (w, h), flags=cv2.INTER_NEAREST)
        return float(np.var(cv2.reduce(rotated, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S)))  # row sums, exact

    best = max(np.arange(-max_angle, max_angle + 0.1, 1.0), key=score)
    best = max(np.arange(best - 1.0, best + 1.01, 0.2), key=score)
    return float(round(best, 2))


def rotate(image: np.ndarray, angle: float) -> np.ndarray:
    """Rotate about the centre, growing the canvas so no corner is cut; fill with paper white."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(h * sin + w * cos), int(h * cos + w * sin)
    m[:, 2] += ((nw - w) / 2, (nh - h) / 2)
    fill = (int(percentiles_u8(image, 90)[0]) if image.ndim == 2
            else tuple(int(percentiles_u8(image[..., c], 90)[0]) for c in range(image.shape[2])))
    return cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=fill)


def deskew(gray: np.ndarray, min_angle: float = 3.0) -> tuple[np.ndarray, float]:
    angle = estimate_skew(gray)
    if abs(angle) < min_angle:
        return gray, 0.0
    return rotate(gray, angle), angle


def crop_to_ink(gray: np.ndarray, margin: int = 30) -> np.ndarray:
    """Cut the empty border (the scanner bed around a crooked sheet) off."""
    ink = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)
    ink = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((2, 2), np.uint8))
    # the ink pixels' x and y coordinates, as counts per column and per row (ink is 0 or 255)
    per_column = cv2.reduce(ink, 0, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() // 255
    per_row = cv2.reduce(ink, 1, cv2.REDUCE_SUM, dtype=cv2.CV_32S).ravel() // 255
    if per_column.sum() < 100:
        return gray
    x0, x1 = (int(v) for v in percentiles_of_counts(per_column, 0.2, 99.8, dtype=np.intp))
    y0, y1 = (int(v) for v in percentiles_of_counts(per_row, 0.2, 99.8, dtype=np.intp))
    h, w = gray.shape[:2]
    return gray[max(0, y0 - margin):min(h, y1 + margin), max(0, x0 - margin):min(w, x1 + margin)]


@dataclass(frozen=True)
class Page:
    """The sheet in a grayscale image: found and flattened (a photo), deskewed and cropped
    (a crooked scan). Its levels are not touched yet: `finish` does that, so the readings
    that differ only in level stretch share one `straighten` (issue 20)."""

    gray: np.ndarray
    page_found: bool
    skew_degrees: float


def straighten(gray: np.ndarray) -> Page:
    corners = find_page(gray)
    if corners is not None:
        gray = warp_page(gray, corners)
    gray, angle = deskew(gray)
    if angle:
        gray = crop_to_ink(gray)
    return Page(gray, corners is not None, angle)


def finish(page: Page, levels: tuple[int, int], quality: Quality | None = None, max_side: int = 1800) -> Prepared:
    """The straightened page with its light flattened and levels stretched, at most `max_side`."""
    gray = flatten_background(page.gray, *levels)
    scale = max_side / max(gray.shape[:2])
    if scale < 1:
        gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return Prepared(gray, page.page_found, page.skew_degrees, quality)


def prepare(image: np.ndarray, max_side: int = 1800, quality: Quality | None = None,
            levels: tuple[int, int] | None = None) -> Prepared:
    gray = suppress_stamp(image)
    quality = quality or measure_quality(gray)
    return finish(straighten(gray), levels or levels_for(quality), quality, max_side)
