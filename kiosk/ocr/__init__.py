"""Receipt OCR for 零星报销: image → preprocessed image → text boxes → lines → fields → checks.

Public API (no Qt here; the clerk station screen calls `ReceiptReader.read` on a worker thread):

    from kiosk.ocr import ReceiptReader, ReceiptResult
    reader = ReceiptReader("rapidocr", claimed=SqliteClaimedReceipts(path))
    result = reader.read("receipt.jpg")      # never raises for a bad image: see result.error
    result.to_json()                          # the `kiosk ocr --json` object

Heavy imports (OpenCV, the OCR engines) happen on first use, not on `import kiosk.ocr`.
"""
from __future__ import annotations

__all__ = ["ReceiptReader", "ReceiptResult", "ClaimedReceipts", "InMemoryClaimedReceipts",
           "SqliteClaimedReceipts", "TextBox", "make_engine"]


def __getattr__(name: str):
    if name in ("ReceiptReader", "ReceiptResult"):
        from kiosk.ocr import pipeline
        return getattr(pipeline, name)
    if name in ("ClaimedReceipts", "InMemoryClaimedReceipts", "SqliteClaimedReceipts"):
        from kiosk.ocr import checks
        return getattr(checks, name)
    if name == "TextBox":
        from kiosk.ocr.lines import TextBox
        return TextBox
    if name == "make_engine":
        from kiosk.ocr.engines import make_engine
        return make_engine
    raise AttributeError(name)
