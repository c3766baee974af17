"""Cross-checks on extracted receipt fields, and the register of receipts already claimed.

Every check answers True (passed), False (failed) or None (could not be evaluated because a
field is missing). A failed check names the fields a clerk must look at (`needs_review`).
"""
from __future__ import annotations

import datetime as _dt
import re
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path
from typing import Protocol

from kiosk.ocr.amount_words import AmountWordsError, parse_words, to_words

# check name → fields to review when it fails
CHECK_FIELDS: dict[str, tuple[str, ...]] = {
    "words_match": ("total", "total_in_words"),
    "items_sum": ("total", "items"),
    "payments_sum": ("fund_paid", "personal_account_paid", "personal_cash_paid"),
    "date_valid": ("issue_date",),
    "bill_code_format": ("bill_code",),
    "bill_number_format": ("bill_number",),
    "check_code_format": ("check_code",),
    "not_duplicate": ("bill_code", "bill_number"),
}


class ClaimedReceipts(Protocol):
    """Receipts (票据代码 + 票据号码) already reimbursed: a second claim is a duplicate."""

    def is_claimed(self, bill_code: str, bill_number: str) -> bool: ...

    def claim(self, bill_code: str, bill_number: str, reference: str = "") -> bool:
        """Record a claim; False if it was already claimed (nothing changes then)."""
        ...


class InMemoryClaimedReceipts:
    def __init__(self) -> None:
        self._claimed: dict[tuple[str, str], str] = {}

    def is_claimed(self, bill_code: str, bill_number: str) -> bool:
        return (bill_code, bill_number) in self._claimed

    def claim(self, bill_code: str, bill_number: str, reference: str = "") -> bool:
        if (bill_code, bill_number) in self._claimed:
            return False
        self._claimed[(bill_code, bill_number)] = reference
        return True


class SqliteClaimedReceipts:
    """Claimed receipts in a SQLite file; the UNIQUE key makes a double claim impossible even
    from two processes."""

    SCHEMA_VERSION = 1

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version < 1:
            self._db.execute(
                "CREATE TABLE IF NOT EXISTS claimed_receipt ("
                " bill_code TEXT NOT NULL, bill_number TEXT NOT NULL, reference TEXT NOT NULL DEFAULT '',"
                " claimed_at TEXT NOT NULL DEFAULT (datetime('now')), PRIMARY KEY (bill_code, bill_number))")
            self._db.execute(f"PRAGMA user_version={self.SCHEMA_VERSION}")

    def is_claimed(self, bill_code: str, bill_number: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM claimed_receipt WHERE bill_code=? AND bill_number=?",
                                   (bill_code, bill_number)).fetchone()
        return row is not None

    def claim(self, bill_code: str, bill_number: str, reference: str = "") -> bool:
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO claimed_receipt (bill_code, bill_number, reference) VALUES (?, ?, ?)"
                " ON CONFLICT DO NOTHING", (bill_code, bill_number, reference))
        return cur.rowcount == 1

    def close(self) -> None:
        self._db.close()


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def run_checks(fields: dict[str, str | None], items: list[dict], claimed: ClaimedReceipts | None = None,
               today: _dt.date | None = None) -> dict[str, bool | None]:
    today = today or _dt.date.today()
    total = _dec(fields.get("total"))
    checks: dict[str, bool | None] = {}

    words = fields.get("total_in_words")
    if total is None or not words:
        checks["words_match"] = None
    else:
        try:
            checks["words_match"] = parse_words(words) == total
        except AmountWordsError:
            checks["words_match"] = False

    checks["items_sum"] = None if total is None or not items else sum(Decimal(i["amount"]) for i in items) == total

    parts = [_dec(fields.get(k)) for k in ("fund_paid", "personal_account_paid", "personal_cash_paid")]
    paid = [p for p in parts if p is not None]
    checks["payments_sum"] = None if total is None or len(paid) < len(parts) else sum(paid, Decimal(0)) == total

    date = fields.get("issue_date")
    if date is None:
        checks["date_valid"] = None
    else:
        try:
            checks["date_valid"] = _dt.date.fromisoformat(date) <= today
        except ValueError:
            checks["date_valid"] = False

    code, number = fields.get("bill_code"), fields.get("bill_number")
    checks["bill_code_format"] = None if code is None else bool(re.fullmatch(r"\d{8}", code))
    checks["bill_number_format"] = None if number is None else bool(re.fullmatch(r"\d{10}", number))
    check_code = fields.get("check_code")
    checks["check_code_format"] = None if check_code is None else bool(re.fullmatch(r"[0-9a-f]{6}", check_code))
    if claimed is None or code is None or number is None or not checks["bill_code_format"] \
            or not checks["bill_number_format"]:
        checks["not_duplicate"] = None
    else:
        checks["not_duplicate"] = not claimed.is_claimed(code, number)
    return checks


PAYMENTS = ("fund_paid", "personal_account_paid", "personal_cash_paid")


def _is_subsequence(short: str, long: str) -> bool:
    it = iter(long)
    return all(ch in it for ch in short)


def _same_digits(read: str | None, forced: str) -> bool:
    """'204135.00' read for 2041.35: the point was lost and the parser added '.00'."""
    if read is None:
        return False
    return _digits(forced) in {_digits(read), _digits(read[:-3]) if read.endswith(".00") else None}


def _digits(value: str) -> str:
    return re.sub(r"\D", "", value).lstrip("0")


def _one_digit_off(a: str | None, b: str) -> bool:
    """Same shape, exactly one digit different: a single-glyph misread ('874.80' for '874.87')."""
    return a is not None and len(a) == len(b) and sum(x != y for x, y in zip(a, b, strict=True)) == 1


def reconcile(fields: dict[str, str | None], items: list[dict]) -> tuple[dict[str, str | None], set[str]]:
    """Repair amounts that the receipt's own arithmetic pins down, on a blurred reading where the
    engine dropped a glyph or a decimal point. Returns (fields, names to review).

    Only ever moves a value to the one the other, agreeing fields force, and only when what was
    read is consistent with it: the 大写 read is that total's 大写 with glyphs missing; a payment
    read is the forced amount with the same digits (a lost '.') — kept without review — or one
    digit off — kept, but the clerk is asked to look. Anything else is left alone for the checks."""
    out, review = dict(fields), set()
    total = _dec(out.get("total"))
    item_sum = sum((Decimal(i["amount"]) for i in items), Decimal("0.00")) if items else None
    parts = {k: _dec(out.get(k)) for k in PAYMENTS}
    paid = [v for v in parts.values() if v is not None]
    pay_sum = sum(paid, Decimal("0.00")) if len(paid) == len(parts) else None
    words_read = out.get("total_in_words")
    try:
        words_value = parse_words(words_read) if words_read else None
    except AmountWordsError:
        words_value = None
    # 小写 misread but 大写 agrees with the items or the payments: the total is the 大写's.
    if words_value is not None and words_value != total and words_value in (item_sum, pay_sum):
        out["total"], total = f"{words_value:.2f}", words_value
        review.add("total")
    if total is None or total not in (item_sum, pay_sum, words_value):  # not corroborated
        return out, review
    words = out.get("total_in_words")
    if words and words_value != total and _is_subsequence(words, to_words(total)):
        out["total_in_words"] = to_words(total)  # every glyph read is in place; the missing ones are forced
    if pay_sum != total and (total in (item_sum, words_value)):
        fits = []
        for name in PAYMENTS:
            others = [v for k in PAYMENTS if k != name and (v := parts[k]) is not None]
            if len(others) < len(PAYMENTS) - 1:
                continue
            forced = f"{total - sum(others, Decimal(0)):.2f}"
            if Decimal(forced) < 0:
                continue
            if out.get(name) == forced:
                continue
            if _same_digits(out.get(name), forced):
                fits.append((name, forced, False))
            elif _one_digit_off(out.get(name), forced):
                fits.append((name, forced, True))
        if len(fits) == 1:
            name, forced, unsure = fits[0]
            out[name] = forced
            if unsure:
                review.add(name)
    return out, review


def fields_to_review(checks: dict[str, bool | None]) -> set[str]:
    return {f for name, ok in checks.items() if ok is False for f in CHECK_FIELDS[name]}
