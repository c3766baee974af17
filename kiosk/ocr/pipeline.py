"""Receipt image → fields, items, checks: the one call the clerk station and `kiosk ocr` use.

`ReceiptReader.read()` is synchronous and never raises for a bad image: the error is in the
result. Run it on a worker thread in the UI; the engine is loaded once and kept warm.

Never worse than the raw engine (issue 23): the prepared image is read first; if that reading
fails its own checks (大写 = 小写, item sum, payment split, code formats, required fields), the
untouched image is read too and the better-judged reading is kept (a softly blurred page that
still fails gets a third reading without any level stretch). A clean receipt is read once.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from kiosk.errors import UserFacingError
from kiosk.ocr.checks import ClaimedReceipts, fields_to_review, reconcile, run_checks
from kiosk.ocr.engines import OcrEngine, make_engine
from kiosk.ocr.extract import FIELD_NAMES, Template, choose_template, extract, load_templates
from kiosk.ocr.lines import TextBox, group_lines
from kiosk.ocr.preprocess import (BLURRY_BELOW, SHARP_AT, SOFT_LEVELS, Quality, finish, levels_for,
                                  measure_quality, straighten, suppress_stamp)

log = logging.getLogger("kiosk.ocr")
LOW_CONFIDENCE = 0.80
REQUIRED_FIELDS = ("bill_code", "bill_number", "issue_date", "payer", "hospital", "total", "total_in_words")


@dataclass
class ReceiptResult:
    file: str
    fields: dict[str, str | None] = field(default_factory=dict)
    items: list[dict] = field(default_factory=list)  # {"name", "amount"}
    checks: dict[str, bool | None] = field(default_factory=dict)
    needs_review: list[str] = field(default_factory=list)
    boxes: list[TextBox] = field(default_factory=list)  # in `image` coordinates, for the UI to draw
    elapsed_ms: float = 0.0
    error: str | None = None
    template: str = ""
    confidence: dict[str, float] = field(default_factory=dict)
    image: np.ndarray | None = field(default=None, repr=False)  # the preprocessed image OCR saw
    quality: Quality | None = None  # measured before OCR
    image_problem: str | None = None  # "blurry" | "dark" | "low_contrast" when that is why review is needed
    readings: int = 0  # engine passes (2 when the prepared image's reading failed its checks)

    def image_problem_message(self, language: str = "zh") -> str | None:
        """Why the clerk should retake the picture, with the measured value; None if the image is fine."""
        if self.image_problem is None or self.quality is None:
            return None
        q = self.quality
        zh, en = {
            "blurry": (f"图像模糊，请重新拍摄（清晰度 {q.sharpness:.0f}，需 ≥ {SHARP_AT:.0f}）",
                       f"Image blurred, please retake it (sharpness {q.sharpness:.0f}, needs ≥ {SHARP_AT:.0f})"),
            "dark": (f"图像太暗，请在明亮处重新拍摄（亮度 {q.brightness:.0f}/255）",
                     f"Image too dark, please retake it in better light (brightness {q.brightness:.0f}/255)"),
            "low_contrast": (f"图像对比度太低，请重新拍摄（对比度 {q.contrast:.0f}）",
                             f"Image contrast too low, please retake it (contrast {q.contrast:.0f})"),
        }[self.image_problem]
        return zh if language.startswith("zh") else en

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_json(self) -> dict:
        if self.error is not None:
            return {"file": self.file, "error": self.error}
        return {
            "file": self.file,
            "fields": {name: self.fields.get(name) for name in FIELD_NAMES},
            "items": [{"name": i["name"], "amount": i["amount"]} for i in self.items],
            "checks": dict(self.checks),
            "needs_review": list(self.needs_review),
            "elapsed_ms": round(self.elapsed_ms, 1),
            "quality": self.quality.to_json() if self.quality else None,
            "image_problem": None if self.image_problem is None else {
                "code": self.image_problem, "zh": self.image_problem_message("zh"),
                "en": self.image_problem_message("en")},
        }


class ReceiptReader:
    def __init__(self, engine_name: str = "rapidocr", *, engine: OcrEngine | None = None,
                 claimed: ClaimedReceipts | None = None, templates: list[Template] | None = None,
                 today: _dt.date | None = None) -> None:
        self.engine = engine or make_engine(engine_name)
        self.claimed = claimed
        self.templates = templates or load_templates()
        self.today = today

    def warm_up(self) -> None:
        warm = getattr(self.engine, "warm_up", None)
        if warm:
            warm()

    def read(self, image_or_path: np.ndarray | str | os.PathLike[str], name: str = "") -> ReceiptResult:
        start = time.perf_counter()
        if isinstance(image_or_path, np.ndarray):
            result, image = ReceiptResult(file=name or "<image>"), image_or_path
        else:
            result = ReceiptResult(file=name or str(image_or_path))
            loaded = load_image(image_or_path)
            if loaded is None:
                result.error = "unreadable image (not a file or not a picture)"
                result.elapsed_ms = (time.perf_counter() - start) * 1000
                return result
            image = loaded
        try:
            self._read_into(result, image)
        except UserFacingError as exc:
            result.error = exc.message("en")
        except Exception as exc:  # never lose the batch to one bad image; log the traceback
            log.exception("OCR failed for %s", result.file)
            result.error = f"OCR failed: {type(exc).__name__}"
        result.elapsed_ms = (time.perf_counter() - start) * 1000
        return result

    def _read_into(self, result: ReceiptResult, image: np.ndarray) -> None:
        if image.ndim not in (2, 3) or min(image.shape[:2]) < 32:
            raise UserFacingError("OCR_IMAGE", "图片太小或格式不对", "image too small or not a picture")
        gray = suppress_stamp(image)  # once: the quality, the page and every level stretch start from it
        result.quality = measure_quality(gray)
        page = straighten(gray)
        prepared = finish(page, levels_for(result.quality), result.quality)
        boxes = self.engine.recognize(prepared.image)
        reading = interpret(boxes, self.templates, self.claimed, self.today)
        result.image, result.boxes, result.readings = prepared.image, boxes, 1
        if reading.needs_review:
            # The preparation may have hurt (issue 23): the checks judge the untouched image's reading.
            raw_boxes = self.engine.recognize(image)
            raw = interpret(raw_boxes, self.templates, self.claimed, self.today)
            result.readings = 2
            if raw.score > reading.score:
                reading, result.image, result.boxes = raw, image, raw_boxes
            if reading.needs_review and BLURRY_BELOW <= result.quality.sharpness < SHARP_AT:
                # Softly blurred: which stretch keeps the strokes depends on the blur (a box blur
                # wants half strength, a motion blur none); the checks judge the third reading.
                soft = finish(page, SOFT_LEVELS, result.quality)
                soft_boxes = self.engine.recognize(soft.image)
                third = interpret(soft_boxes, self.templates, self.claimed, self.today)
                result.readings = 3
                if third.score > reading.score:
                    reading, result.image, result.boxes = third, soft.image, soft_boxes
        reading.apply_to(result)
        if result.needs_review:
            problem = result.quality.problem
            if problem is None and result.quality.sharpness < SHARP_AT and len(result.needs_review) >= 3:
                problem = "blurry"  # softer than the blur floor, but the reading shows it (motion blur)
            result.image_problem = problem


@dataclass
class Reading:
    """What one engine pass over one image says: fields, items and the checks that judge them."""

    template: str
    fields: dict[str, str | None]
    confidence: dict[str, float]
    items: list[dict]
    checks: dict[str, bool | None]
    needs_review: list[str]

    @property
    def score(self) -> int:
        """How well the reading holds up on its own: passed checks and found fields count for it,
        failed checks (twice) and fields to review against it. The higher, the more trusted."""
        passed = sum(v is True for v in self.checks.values())
        failed = sum(v is False for v in self.checks.values())
        found = sum(v is not None for v in self.fields.values()) + bool(self.items)
        return passed - 2 * failed + found - len(self.needs_review)

    def apply_to(self, result: ReceiptResult) -> None:
        result.template, result.fields, result.confidence = self.template, self.fields, self.confidence
        result.items, result.checks, result.needs_review = self.items, self.checks, self.needs_review


def interpret(boxes: list[TextBox], templates: list[Template], claimed: ClaimedReceipts | None = None,
              today: _dt.date | None = None) -> Reading:
    """Text boxes → lines → template → fields → checks → what a clerk must review. Pure apart
    from the claimed-receipts lookup; the benchmark runs it on the raw engine's boxes too."""
    lines = group_lines(boxes)
    template = choose_template(lines, templates)
    extraction = extract(lines, template)
    fields = {name: extraction.fields[name].value if name in extraction.fields else None for name in FIELD_NAMES}
    fields, unsure = reconcile(fields, extraction.items)
    checks = run_checks(fields, extraction.items, claimed, today)
    review = fields_to_review(checks) | unsure
    for name, fv in extraction.fields.items():
        if fv.value is not None and fv.confidence < LOW_CONFIDENCE:
            review.add(name)
    review.update(n for n in REQUIRED_FIELDS if fields.get(n) is None)
    review.update(spec.name for spec in template.fields if fields.get(spec.name) is None)  # printed, not read
    if any(i["confidence"] < LOW_CONFIDENCE for i in extraction.items) or not extraction.items:
        review.add("items")
    order = {n: i for i, n in enumerate((*FIELD_NAMES, "items"))}
    return Reading(template.name, fields, {name: fv.confidence for name, fv in extraction.fields.items()},
                   extraction.items, checks, sorted(review, key=order.__getitem__))


def load_image(path: str | os.PathLike[str]) -> np.ndarray | None:
    """Decode an image file (non-ASCII paths too); None if it is not a readable picture."""
    try:
        data = np.fromfile(Path(path), dtype=np.uint8)
    except (OSError, ValueError):
        return None
    if data.size == 0:
        return None
    return cv2.imdecode(data, cv2.IMREAD_COLOR)
