"""ClaimBatch: running sum, corrections re-checked, payload, duplicate register, submit."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import pytest

from kiosk.ocr.checks import SqliteClaimedReceipts
from kiosk.ocr.pipeline import ReceiptResult
from kiosk.services.crypto import FieldCipher
from kiosk.services.identity import Person
from kiosk.services.outbox import OutboxStore
from kiosk.services.reimbursement import SERVICE_CODE, ClaimBatch, ReimbursementError

TODAY = dt.date(2025, 1, 15)
RESIDENT = Person(name="张三丰", id_number="110101195001011234", source="idcard", birth_date=dt.date(1950, 1, 1))


def receipt(number: str = "3652222203", total: str = "1066.78", words: str = "壹仟零陆拾陆元柒角捌分",
            items: tuple[tuple[str, str], ...] = (("化验费", "265.07"), ("治疗费", "801.71")),
            payments: tuple[str, str, str] = ("746.75", "10.16", "309.87"), check_code: str | None = None) -> ReceiptResult:
    fields = {"bill_code": "41767664", "bill_number": number, "check_code": check_code, "issue_date": "2024-11-30",
              "payer": "张三丰", "hospital": "郑州市第一人民医院", "insurance": "职工基本医疗保险", "total": total,
              "total_in_words": words, "fund_paid": payments[0], "personal_account_paid": payments[1],
              "personal_cash_paid": payments[2]}
    return ReceiptResult(file="r.jpg", fields=fields, items=[{"name": n, "amount": a, "confidence": 0.99} for n, a in items],
                         confidence={k: 0.99 for k, v in fields.items() if v is not None}, template="outpatient")


@pytest.fixture
def claimed(tmp_path: Path):
    register = SqliteClaimedReceipts(tmp_path / "claimed.sqlite3")
    yield register
    register.close()


@pytest.fixture
def outbox(tmp_path: Path):
    store = OutboxStore(tmp_path / "outbox.sqlite3", FieldCipher.load_or_create(tmp_path / "keys" / "outbox.key"))
    yield store
    store.close()


def test_running_sum_is_exact_decimal_and_follows_removal(claimed) -> None:
    batch = ClaimBatch(claimed, TODAY)
    batch.add(receipt(total="0.10", words="壹角", items=(("挂号费", "0.10"),), payments=("0.00", "0.00", "0.10")))
    batch.add(receipt(number="3652222204", total="0.20", words="贰角", items=(("挂号费", "0.20"),), payments=("0.00", "0.00", "0.20")))
    assert batch.total == Decimal("0.30")  # not 0.30000000000000004
    batch.remove(0)
    assert batch.total == Decimal("0.20")
    assert batch.payload()["total"] == "0.20"


def test_correcting_a_field_reruns_the_checks(claimed) -> None:
    batch = ClaimBatch(claimed, TODAY)
    batch.add(receipt())
    assert batch.receipts[0].needs_review == []
    r = batch.correct(0, "total", "1066.70")  # clerk mistypes: 大写 no longer matches
    assert r.checks["words_match"] is False and r.checks["items_sum"] is False
    assert {"total", "total_in_words", "items"} <= set(r.needs_review)
    assert batch.total == Decimal("1066.70")
    r = batch.correct(0, "total", "¥1,066.78")  # back to the printed value: no correction left
    assert r.checks["words_match"] is True and r.corrected_fields == [] and r.needs_review == []
    r = batch.correct(0, "check_code", " A1B2C3 ")  # OCR missed it, clerk types it
    assert r.checks["check_code_format"] is True and r.fields["check_code"] == "a1b2c3"
    assert r.corrected_fields == ["check_code"]


def test_bad_amount_is_refused_and_keeps_the_old_value(claimed) -> None:
    batch = ClaimBatch(claimed, TODAY)
    batch.add(receipt())
    with pytest.raises(ReimbursementError) as info:
        batch.correct(0, "total", "12.3.4")
    assert info.value.code == "CLAIM_AMOUNT"
    with pytest.raises(ReimbursementError):
        batch.correct(0, "fund_paid", "1.234")
    assert batch.receipts[0].fields["total"] == "1066.78"


def test_submit_is_blocked_until_resident_receipts_and_confirmation(claimed, outbox) -> None:
    batch = ClaimBatch(claimed, TODAY)
    assert {code for code, _ in batch.blockers()} == {"no_resident", "no_receipts"}
    batch.add(receipt())
    batch.resident = RESIDENT
    assert batch.ready
    batch.correct(0, "personal_cash_paid", "300.00")  # payments no longer add up
    assert batch.blockers() == [("unconfirmed", 0)]
    with pytest.raises(ReimbursementError) as info:
        batch.submit(outbox, "KIOSK-0001", outbox.new_submission_id())
    assert info.value.code == "CLAIM_NOT_READY"
    assert outbox.status().pending == 0
    batch.confirm(0)
    assert batch.ready
    batch.correct(0, "personal_cash_paid", "300.01")  # a later change needs a new look
    assert batch.blockers() == [("unconfirmed", 0)]


def test_submit_enqueues_one_row_with_the_corrected_fields_and_claims_the_receipts(claimed, outbox) -> None:
    batch = ClaimBatch(claimed, TODAY)
    batch.add(receipt())
    batch.add(receipt(number="3652222299"))
    batch.correct(0, "payer", "张三丰（本人）")
    batch.resident = RESIDENT
    sid = outbox.new_submission_id()
    entry = batch.submit(outbox, "KIOSK-0001", sid)
    assert entry.id == sid and entry.service == SERVICE_CODE and entry.kind == "submission"
    assert outbox.status().pending == 1
    stored = outbox.get(sid).payload  # decrypted from disk
    assert stored["service"] == "sporadic_reimburse"
    assert stored["applicant"]["id_number"] == RESIDENT.id_number
    assert stored["total"] == "2133.56"
    first = stored["receipts"][0]
    assert first["fields"]["payer"] == "张三丰（本人）" and first["corrected_fields"] == ["payer"]
    assert first["items"][0] == {"name": "化验费", "amount": "265.07"}
    assert first["checks"]["words_match"] is True and first["needs_review"] == []
    assert stored["receipts"][1]["corrected_fields"] == []
    assert claimed.is_claimed("41767664", "3652222203") and claimed.is_claimed("41767664", "3652222299")
    assert batch.submit(outbox, "KIOSK-0001", sid) is entry  # a second tap changes nothing
    assert outbox.status().pending == 1
    with pytest.raises(ReimbursementError):
        batch.correct(0, "payer", "x")


def test_a_claimed_receipt_is_a_duplicate_in_the_next_batch(claimed, outbox) -> None:
    first = ClaimBatch(claimed, TODAY)
    first.add(receipt())
    first.resident = RESIDENT
    first.submit(outbox, "KIOSK-0001", outbox.new_submission_id())
    second = ClaimBatch(claimed, TODAY)
    second.add(receipt())
    second.resident = RESIDENT
    assert second.receipts[0].checks["not_duplicate"] is False
    second.confirm(0)  # a clerk cannot wave a duplicate through
    assert ("not_duplicate", 0) in second.blockers()
    with pytest.raises(ReimbursementError):
        second.submit(outbox, "KIOSK-0001", outbox.new_submission_id())
    assert outbox.status().pending == 1


def test_claimed_elsewhere_between_scan_and_submit_enqueues_nothing(claimed, outbox) -> None:
    batch = ClaimBatch(claimed, TODAY)
    batch.add(receipt())
    batch.resident = RESIDENT
    claimed.claim("41767664", "3652222203", "other-station")
    with pytest.raises(ReimbursementError) as info:
        batch.submit(outbox, "KIOSK-0001", outbox.new_submission_id())
    assert info.value.code == "CLAIM_DUPLICATE"
    assert outbox.status().pending == 0


def test_the_same_receipt_twice_in_one_batch(claimed) -> None:
    batch = ClaimBatch(claimed, TODAY)
    batch.add(receipt())
    with pytest.raises(ReimbursementError) as info:
        batch.add(receipt())
    assert info.value.code == "CLAIM_IN_BATCH"
    batch.add(receipt(number="3652222204"))
    batch.correct(1, "bill_number", "3652222203")  # a correction that makes a repeat
    assert ("in_batch", 1) in batch.blockers()


def test_unreadable_capture_is_not_added(claimed) -> None:
    batch = ClaimBatch(claimed, TODAY)
    with pytest.raises(ReimbursementError):
        batch.add(ReceiptResult(file="x", error="OCR failed"))
    assert batch.receipts == []
