"""Text clean-up for OCR output: full-width → half-width, and digit misreads inside amounts,
codes and dates (O→0, l/I→1, S→5, B→8 …). Pure functions over strings; amounts are Decimal."""
from __future__ import annotations

import datetime as _dt
import re
from decimal import Decimal, InvalidOperation

# Letters an OCR engine returns for a digit. Applied only to text already known to be numeric
# (a value after an amount/code/date label), never to names.
_DIGIT_MISREADS = str.maketrans({
    "O": "0", "o": "0", "D": "0", "Q": "0", "〇": "0",
    "l": "1", "I": "1", "i": "1", "|": "1", "!": "1",
    "S": "5", "s": "5", "B": "8", "Z": "2", "z": "2", "G": "6", "b": "6", "g": "9", "q": "9",
})
_AMOUNT = re.compile(r"-?\d+(?:\.\d{1,2})?")
_CENTS = Decimal("0.01")


def to_halfwidth(text: str) -> str:
    """Full-width ASCII forms and the ideographic space to ASCII; ￥ to ¥. Leaves CJK alone."""
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            ch = chr(code - 0xFEE0)
        elif ch == "\u3000":
            ch = " "
        out.append(ch)
    return "".join(out).replace("\uffe5", "¥").replace("~", "~")


def fix_digits(text: str) -> str:
    """Map letters commonly misread for digits back to digits (numeric context only)."""
    return to_halfwidth(text).translate(_DIGIT_MISREADS)


def parse_amount(text: str | None) -> Decimal | None:
    """'¥1,23S.4O元' → Decimal('1235.40'); None when there is no number."""
    if not text:
        return None
    value = fix_digits(text).replace("¥", "").replace("元", "").replace(" ", "")
    # A comma with exactly two digits after it and no dot is a decimal comma; else thousands.
    if "." not in value and re.search(r",\d{2}$", value):
        value = value[:-3] + "." + value[-2:]
    value = value.replace(",", "").replace("。", ".").replace("·", ".")
    match = _AMOUNT.search(value)
    if not match:
        return None
    try:
        return Decimal(match.group()).quantize(_CENTS)
    except InvalidOperation:
        return None


def format_amount(value: Decimal | None) -> str | None:
    return None if value is None else f"{value.quantize(_CENTS):.2f}"


def parse_digits(text: str | None) -> str | None:
    """Keep the digits of a code after fixing misreads; None when none are left."""
    if not text:
        return None
    digits = re.sub(r"\D", "", fix_digits(text))
    return digits or None


def parse_date(text: str | None) -> str | None:
    """'2024年5月12日', '2024-05-12', '2024.05.12', '20240512' → '2024-05-12' (None if invalid)."""
    if not text:
        return None
    value = fix_digits(text)
    match = re.search(r"(\d{4})\D{1,3}(\d{1,2})\D{1,3}(\d{1,2})", value) or re.search(r"(\d{4})(\d{2})(\d{2})", value)
    if not match:
        return None
    try:
        return _dt.date(*(int(g) for g in match.groups())).isoformat()
    except ValueError:
        return None


def clean_text(text: str | None) -> str | None:
    """A name-like value: half-width, no spaces, no leading/trailing separators."""
    if text is None:
        return None
    value = to_halfwidth(text).replace(" ", "").strip(":;,.、|")
    return value or None


_HEX_MISREADS = str.maketrans({"o": "0", "q": "9", "l": "1", "i": "1", "|": "1", "s": "5", "g": "9", "z": "2"})


def parse_hex(text: str | None) -> str | None:
    """A lowercase hex code (电子票据 校验码): letters outside a–f that look like digits become
    digits; anything else that is not hex is dropped (and then fails the length check)."""
    if not text:
        return None
    value = re.sub(r"[^0-9a-z|]", "", to_halfwidth(text).lower()).translate(_HEX_MISREADS)
    value = re.sub(r"[^0-9a-f]", "", value)
    return value or None
