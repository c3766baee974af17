"""OCR engines behind one narrow seam: `recognize(image) -> list[TextBox]`.

RapidOCR (PP-OCR models shipped inside the `rapidocr` wheel, fully offline) is the default;
Tesseract (`chi_sim`) is selectable. Each engine imports its library lazily, so a missing
optional library disables that engine with a clear `OcrEngineError` instead of breaking the
import of `kiosk.ocr`. The RapidOCR model is loaded once per process and kept warm.
"""
from __future__ import annotations

import itertools
import logging
import threading
from typing import Any, Protocol

import cv2
import numpy as np

from kiosk.errors import UserFacingError
from kiosk.ocr.lines import TextBox
from kiosk.ocr.preprocess import suppress_stamp

log = logging.getLogger("kiosk.ocr")
ENGINE_NAMES = ("rapidocr", "tesseract")

__all__ = ["ENGINE_NAMES", "OcrEngine", "OcrEngineError", "RapidOcrEngine", "TesseractEngine", "TextBox", "make_engine"]


class OcrEngineError(UserFacingError):
    """The OCR engine cannot run (library or language data missing). `code` says which:
    OCR_ENGINE (library or engine name), OCR_TESSERACT_PROGRAM, OCR_TESSERACT_LANG."""

    def __init__(self, message_zh: str, message_en: str, code: str = "OCR_ENGINE") -> None:
        super().__init__(code, message_zh, message_en)


class OcrEngine(Protocol):
    name: str

    def recognize(self, image: np.ndarray) -> list[TextBox]:
        """Text boxes found in a BGR or grayscale image."""
        ...


def _bgr(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image  # np.repeat's pixels, faster


class RapidOcrEngine:
    name = "rapidocr"
    _shared = None  # the loaded RapidOCR object, one per process (~400 MB; loading takes seconds)
    _load_lock = threading.Lock()
    _run_lock = threading.Lock()  # onnxruntime sessions are used by one caller at a time

    def __init__(self, min_score: float = 0.5) -> None:
        self.min_score = min_score

    @classmethod
    def _model(cls):
        with cls._load_lock:
            if cls._shared is None:
                try:
                    from rapidocr import RapidOCR
                except ImportError as exc:
                    raise OcrEngineError("未安装 RapidOCR 识别引擎（rapidocr、onnxruntime）",
                                         f"RapidOCR engine not installed (rapidocr, onnxruntime): {exc}") from None
                # Detect on a copy no longer than 960 px (the default only sets a minimum, so a
                # 2k scan ran detection at full size); recognition still reads full-size crops.
                cls._shared = RapidOCR(params={"Global.log_level": "warning", "Det.limit_type": "max",
                                               "Det.limit_side_len": 960})
        return cls._shared

    def warm_up(self) -> None:
        """Load the model now (e.g. at start-up on a worker thread) so the first scan is fast."""
        self._model()

    def recognize(self, image: np.ndarray) -> list[TextBox]:
        model = self._model()
        with self._run_lock:
            out = model(_bgr(image))
        if out.boxes is None or out.txts is None:
            return []
        boxes = []
        for pts, text, score in zip(out.boxes, out.txts, out.scores, strict=True):
            if score < self.min_score or not text.strip():
                continue
            a, b, c, d = ((float(x), float(y)) for x, y in np.asarray(pts).reshape(4, 2))
            boxes.append(TextBox(text, (a, b, c, d), float(score)))
        return boxes


class TesseractEngine:
    """Tesseract via pytesseract. Chinese comes back one glyph per "word"; words of one
    Tesseract line are joined (a space only at a real gap) into one box."""

    name = "tesseract"

    def __init__(self, lang: str = "chi_sim", psm: int = 11) -> None:
        self.lang, self.psm = lang, psm
        self._checked = False

    def check(self) -> Any:  # the pytesseract module (untyped)
        """The engine can run: pytesseract importable, the tesseract program found, the language
        data installed (checked once). Returns pytesseract; raises `OcrEngineError` with its code."""
        try:
            import pytesseract
        except ImportError:
            raise OcrEngineError("未安装 Tesseract 识别引擎（pytesseract）", "Tesseract engine not installed (pytesseract)") from None
        if not self._checked:
            try:
                langs = set(pytesseract.get_languages(config=""))
            except Exception as exc:  # binary missing or broken
                raise OcrEngineError("找不到 tesseract 程序，请安装 tesseract-ocr",
                                     f"tesseract program not found; install tesseract-ocr ({exc})",
                                     "OCR_TESSERACT_PROGRAM") from None
            missing = [x for x in self.lang.split("+") if x not in langs]
            if missing:
                raise OcrEngineError(f"Tesseract 缺少语言包 {'+'.join(missing)}，请安装 tesseract-ocr-chi-sim",
                                     f"Tesseract language data {'+'.join(missing)} missing; install tesseract-ocr-chi-sim "
                                     f"(installed: {', '.join(sorted(langs)) or 'none'})", "OCR_TESSERACT_LANG")
            self._checked = True
        return pytesseract

    def warm_up(self) -> None:
        self.check()

    def recognize(self, image: np.ndarray) -> list[TextBox]:
        pytesseract = self.check()
        gray = suppress_stamp(image)
        data = pytesseract.image_to_data(gray, lang=self.lang, config=f"--psm {self.psm}",
                                         output_type=pytesseract.Output.DICT)
        groups: dict[tuple, list[int]] = {}
        for i, word in enumerate(data["text"]):
            if word.strip() and float(data["conf"][i]) >= 0:
                groups.setdefault((data["block_num"][i], data["par_num"][i], data["line_num"][i]), []).append(i)
        boxes = []
        for idx in groups.values():
            idx.sort(key=lambda i: data["left"][i])
            # split a Tesseract line at wide gaps: two columns are two boxes
            runs, run = [], [idx[0]]
            for prev, cur in itertools.pairwise(idx):
                gap = data["left"][cur] - (data["left"][prev] + data["width"][prev])
                if gap > 2.5 * max(data["height"][prev], data["height"][cur]):
                    runs.append(run)
                    run = []
                run.append(cur)
            runs.append(run)
            for run in runs:
                text = ""
                for k, i in enumerate(run):
                    if k:
                        prev = run[k - 1]
                        gap = data["left"][i] - (data["left"][prev] + data["width"][prev])
                        if gap > 0.6 * data["height"][i] and not (_cjk(text[-1]) or _cjk(data["text"][i][0])):
                            text += " "
                    text += data["text"][i].strip()
                x0 = min(data["left"][i] for i in run)
                y0 = min(data["top"][i] for i in run)
                x1 = max(data["left"][i] + data["width"][i] for i in run)
                y1 = max(data["top"][i] + data["height"][i] for i in run)
                conf = min(float(data["conf"][i]) for i in run) / 100.0
                boxes.append(TextBox(text, ((x0, y0), (x1, y0), (x1, y1), (x0, y1)), conf))
        return boxes


def _cjk(ch: str) -> bool:
    return "\u3000" <= ch <= "\u9fff" or "\uff00" <= ch <= "\uffef"


def make_engine(name: str) -> OcrEngine:
    if name == "rapidocr":
        return RapidOcrEngine()
    if name == "tesseract":
        return TesseractEngine()
    raise OcrEngineError(f"未知的识别引擎 {name!r}", f"unknown OCR engine {name!r}; expected one of {', '.join(ENGINE_NAMES)}")
