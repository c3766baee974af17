"""零星报销 claim batch: one resident, several recognised receipts, the clerk's corrections.

Owns what the clerk station decides before anything is written: corrected fields re-checked
with the OCR checks, the running sum (Decimal), what still blocks submission, the submission
payload, and the submit itself — enqueue in the outbox (durable), then claim every receipt in
the duplicate register. No Qt; the screen calls `submit` on the outbox lane.
"""
from __future__ import annotations

import datetime as _dt
import logging
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kiosk.errors import UserFacingError
from kiosk.ocr.checks import ClaimedReceipts, fields_to_review, run_checks
from kiosk.ocr.extract import FIELD_NAMES
from kiosk.ocr.pipeline import LOW_CONFIDENCE, REQUIRED_FIELDS, ReceiptResult
from kiosk.services.identity import Person
from kiosk.services.outbox import OutboxEntry, OutboxStore

log = logging.getLogger(__name__)

SERVICE_CODE = "sporadic_reimburse"
AMOUNT_FIELDS = ("total", "fund_paid", "personal_account_paid", "personal_cash_paid")
CENT = Decimal("0.01")


class ReimbursementError(UserFacingError):
    """Stable codes: CLAIM_AMOUNT (not an amount), CLAIM_FIELD (unknown field), CLAIM_UNREADABLE
    (OCR failed), CLAIM_IN_BATCH (scanned twice), CLAIM_NOT_READY, CLAIM_DUPLICATE (already
    reimbursed), CLAIM_SUBMITTED (the batch is closed)."""


@dataclass
class ClaimReceipt:
    """One receipt in the batch: the OCR result, the clerk's corrections, the checks re-run."""

    result: ReceiptResult
    corrections: dict[str, str | None] = field(default_factory=dict)
    checks: dict[str, bool | None] = field(default_factory=dict)
    needs_review: list[str] = field(default_factory=list)
    confirmed: bool = False  # the clerk compared the flagged fields with the paper
    original: Any = field(default=None, repr=False)  # the camera's picture (np.ndarray), if the station kept it

    @property
    def picture(self) -> Any:
        """What the claim carries as this receipt's image: the original photo (colour, stamps),
        else the page OCR read."""
        return self.original if self.original is not None else self.result.image

    @property
    def fields(self) -> dict[str, str | None]:
        merged = {name: self.result.fields.get(name) for name in FIELD_NAMES}
        merged.update(self.corrections)
        return merged

    @property
    def corrected_fields(self) -> list[str]:
        return [name for name in FIELD_NAMES if name in self.corrections]

    @property
    def total(self) -> Decimal | None:
        value = self.fields.get("total")
        try:
            return None if value is None else Decimal(value)
        except InvalidOperation:
            return None

    @property
    def key(self) -> tuple[str, str] | None:
        """票据代码 + 票据号码, the identity of a receipt for duplicate protection."""
        f = self.fields
        code, number = f.get("bill_code"), f.get("bill_number")
        return (code, number) if code and number else None

    @property
    def hard_problems(self) -> list[str]:
        """Problems the clerk's confirmation cannot override."""
        problems = []
        if self.checks.get("not_duplicate") is False:
            problems.append("not_duplicate")
        if self.total is None:
            problems.append("total_missing")
        return problems


def normalise(name: str, value: str | None) -> str | None:
    """A clerk's entry in the form the checks and the payload use; '' means 'not on the receipt'."""
    if name not in FIELD_NAMES:
        raise ReimbursementError("CLAIM_FIELD", f"没有这个栏目：{name}", f"unknown field {name}")
    text = (value or "").strip()
    if not text:
        return None
    if name in AMOUNT_FIELDS:
        cleaned = text.replace("¥", "").replace("￥", "").replace(",", "").replace("，", "").strip()
        try:
            amount = Decimal(cleaned)
        except InvalidOperation:
            amount = None
        if amount is None or not amount.is_finite() or amount < 0 or amount != amount.quantize(CENT):
            raise ReimbursementError("CLAIM_AMOUNT", "金额格式不对，例如 123.45", "not an amount, e.g. 123.45")
        return str(amount.quantize(CENT))
    if name in ("bill_code", "bill_number"):
        return text.replace(" ", "")
    if name == "check_code":
        return text.replace(" ", "").lower()
    return text


class ClaimBatch:
    """A resident's 零星报销 claim being put together at the clerk station.

    `claimed` is the register of receipts already reimbursed (shared with the reader, so a
    receipt claimed yesterday shows up as a duplicate the moment it is scanned)."""

    def __init__(self, claimed: ClaimedReceipts | None = None, today: _dt.date | None = None) -> None:
        self.claimed = claimed
        self.today = today
        self.resident: Person | None = None
        self.receipts: list[ClaimReceipt] = []
        self.submitted: OutboxEntry | None = None

    # -- building the batch ------------------------------------------------------------------
    def add(self, result: ReceiptResult, original: Any = None) -> ClaimReceipt:
        """`original`: the picture as captured (kept for the claim's receipt image)."""
        self._open()
        if not result.ok:
            raise ReimbursementError("CLAIM_UNREADABLE", "票据无法识别，请摆正后重拍", f"receipt not readable: {result.error}")
        receipt = ClaimReceipt(result, original=original)
        self._recheck(receipt)
        if receipt.key is not None and any(r.key == receipt.key for r in self.receipts):
            raise ReimbursementError("CLAIM_IN_BATCH", "这张票据已在本次报销中", "this receipt is already in the batch")
        self.receipts.append(receipt)
        return receipt

    def remove(self, index: int) -> ClaimReceipt:
        self._open()
        return self.receipts.pop(index)

    def correct(self, index: int, name: str, value: str | None) -> ClaimReceipt:
        """The clerk's value for one field; checks re-run. Raises CLAIM_AMOUNT for a bad amount
        (the receipt keeps its previous value then). Any change asks for a new confirmation."""
        self._open()
        receipt = self.receipts[index]
        corrected = normalise(name, value)
        if corrected == receipt.result.fields.get(name):
            receipt.corrections.pop(name, None)
        else:
            receipt.corrections[name] = corrected
        receipt.confirmed = False
        # Only a changed code or number can change the duplicate verdict; other edits reuse it, so
        # typing in the clerk's fields never waits on the shared register (a database).
        self._recheck(receipt, consult_register=name in ("bill_code", "bill_number"))
        return receipt

    def confirm(self, index: int, confirmed: bool = True) -> None:
        self._open()
        self.receipts[index].confirmed = confirmed

    def recheck(self) -> None:
        """Re-run every receipt's checks (the duplicate register may have changed)."""
        for receipt in self.receipts:
            self._recheck(receipt)

    def _recheck(self, receipt: ClaimReceipt, consult_register: bool = True) -> None:
        fields = receipt.fields
        previous = (receipt.checks or {}).get("not_duplicate")
        receipt.checks = run_checks(fields, receipt.result.items, self.claimed if consult_register else None, self.today)
        if not consult_register and previous is not None:
            receipt.checks["not_duplicate"] = previous
        review = fields_to_review(receipt.checks)
        # A field the clerk typed is no longer an unsure reading; an untouched one still is.
        for name, confidence in receipt.result.confidence.items():
            if name not in receipt.corrections and fields.get(name) is not None and confidence < LOW_CONFIDENCE:
                review.add(name)
        review.update(n for n in REQUIRED_FIELDS if fields.get(n) is None)
        if "items" in receipt.result.needs_review:
            review.add("items")
        order = {n: i for i, n in enumerate((*FIELD_NAMES, "items"))}
        receipt.needs_review = sorted(review, key=order.__getitem__)

    def _open(self) -> None:
        if self.submitted is not None:
            raise ReimbursementError("CLAIM_SUBMITTED", "本次报销已提交，请开始新的报销", "this claim was submitted; start a new one")

    # -- state the screen shows ----------------------------------------------------------------
    @property
    def total(self) -> Decimal:
        return sum((r.total for r in self.receipts if r.total is not None), Decimal("0.00"))

    def in_batch_duplicates(self) -> list[int]:
        """Indexes of receipts whose code + number repeat an earlier one (after corrections)."""
        seen: set[tuple[str, str]] = set()
        repeats = []
        for i, receipt in enumerate(self.receipts):
            if receipt.key is not None and receipt.key in seen:
                repeats.append(i)
            elif receipt.key is not None:
                seen.add(receipt.key)
        return repeats

    def blockers(self) -> list[tuple[str, int | None]]:
        """Why submit is not allowed yet, as (code, receipt index or None); empty = ready.
        Codes: no_resident, no_receipts, unconfirmed, not_duplicate, total_missing, in_batch."""
        out: list[tuple[str, int | None]] = []
        if self.resident is None:
            out.append(("no_resident", None))
        if not self.receipts:
            out.append(("no_receipts", None))
        repeats = set(self.in_batch_duplicates())
        for i, receipt in enumerate(self.receipts):
            out += [(code, i) for code in receipt.hard_problems]
            if i in repeats:
                out.append(("in_batch", i))
            if receipt.needs_review and not receipt.confirmed:
                out.append(("unconfirmed", i))
        return out

    @property
    def ready(self) -> bool:
        return self.submitted is None and not self.blockers()

    # -- submission ------------------------------------------------------------------------------
    def payload(self, images: bool = True) -> dict[str, Any]:
        """The submission. `images`: each receipt's picture as a compressed JPEG (encoding takes
        tens of milliseconds per receipt: `submit` runs on the outbox lane, never the GUI thread)."""
        person = self.resident
        pictures: list[dict[str, Any] | None] = [None] * len(self.receipts)
        if images:
            from kiosk.services.receipt_images import IMAGE_BUDGET_BYTES, encode_receipt_image

            share = IMAGE_BUDGET_BYTES // max(1, len(self.receipts))
            pictures = [encode_receipt_image(r.picture, share) if r.picture is not None else None for r in self.receipts]
        return {
            "service": SERVICE_CODE,
            "applicant": None if person is None else {
                "name": person.name,
                "id_number": person.id_number,
                "source": person.source,
                "birth_date": person.birth_date.isoformat() if person.birth_date else None,
            },
            "receipts": [{
                "fields": receipt.fields,
                "items": [{"name": i["name"], "amount": i["amount"]} for i in receipt.result.items],
                "checks": dict(receipt.checks),
                "needs_review": list(receipt.needs_review),
                "corrected_fields": receipt.corrected_fields,
                "confirmed_by_clerk": receipt.confirmed,
                "template": receipt.result.template,
                **({"image": picture} if picture is not None else {}),
            } for receipt, picture in zip(self.receipts, pictures, strict=True)],
            "total": str(self.total),
        }

    def submit(self, outbox: OutboxStore, kiosk_id: str, submission_id: str) -> OutboxEntry:
        """Blocking (run it on the outbox lane). Durable in the outbox before the receipts are
        claimed: a crash in between leaves a submission whose receipts the hub still checks,
        never claimed receipts without a submission (the resident could not claim again)."""
        if self.submitted is not None:
            return self.submitted
        problems = self.blockers()
        if problems:
            raise ReimbursementError("CLAIM_NOT_READY", "还有未完成的核对，不能提交", f"not ready to submit: {problems}")
        if self.claimed is not None:
            for i, receipt in enumerate(self.receipts):
                self._recheck(receipt)  # another station may have claimed it since the scan
                if receipt.checks.get("not_duplicate") is False:
                    raise ReimbursementError("CLAIM_DUPLICATE", f"第 {i + 1} 张票据已报销过", f"receipt {i + 1} was already reimbursed")
        entry = outbox.enqueue(submission_id, SERVICE_CODE, kiosk_id, self.payload(), kind="submission")
        if self.claimed is not None:
            lost = [r.key for r in self.receipts if r.key is not None and not self.claimed.claim(*r.key, reference=submission_id)]
            if lost:
                # Another station claimed the same paper between our check and our claim: take
                # the submission back while it is still only on this kiosk.
                log.error("submission %s: %d receipt(s) claimed elsewhere meanwhile; withdrawing", submission_id, len(lost))
                outbox.undo(submission_id, within_s=float("inf"))
                raise ReimbursementError("CLAIM_DUPLICATE", "票据刚被其他窗口报销，本次未提交", "a receipt was just claimed at another station; nothing was submitted")
        self.submitted = entry
        return entry
