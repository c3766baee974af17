"""Receipt image → fields, items, checks: the one call the clerk station and `kiosk ocr` use.

`ReceiptReader.read()` is synchronous and never raises for a bad image: the error is in the
result. Run it on a worker thread in the UI; the engine is loaded once and kept warm.
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
from kiosk.ocr.checks import ClaimedReceipts, fields_to_review, run_checks
from kiosk.ocr.engines import OcrEngine, make_engine
from kiosk.ocr.extract import FIELD_NAMES, Template, choose_template, extract, load_templates
from kiosk.ocr.lines import TextBox, group_lines
from kiosk.ocr.preprocess import prepare

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
            image = load_image(image_or_path)
            if image is None:
                result.error = "unreadable image (not a file or not a picture)"
                result.elapsed_ms = (time.perf_counter() - start) * 1000
                return result
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
        prepared = prepare(image)
        result.image = prepared.image
        result.boxes = self.engine.recognize(prepared.image)
        reading = interpret(result.boxes, self.templates, self.claimed, self.today)
        reading.apply_to(result)


@dataclass
class Reading:
    """What one engine pass over one image says: fields, items and the checks that judge them."""

    template: str
    fields: dict[str, str | None]
    confidence: dict[str, float]
    items: list[dict]
    checks: dict[str, bool | None]
    needs_review: list[str]

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
    checks = run_checks(fields, extraction.items, claimed, today)
    review = fields_to_review(checks)
    for name, fv in extraction.fields.items():
        if fv.value is not None and fv.confidence < LOW_CONFIDENCE:
            review.add(name)
    review.update(n for n in REQUIRED_FIELDS if fields.get(n) is None)
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
