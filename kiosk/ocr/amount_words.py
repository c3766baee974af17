"""Chinese financial numerals (大写金额): parse '壹佰贰拾叁元肆角伍分' → Decimal('123.45') and
write a Decimal back. The parser accepts the common variants (圆/元, 整/正, bare 拾, 人民币 prefix)
and rejects anything it cannot read exactly, so a misread shows up as a failed check."""
from __future__ import annotations

from decimal import Decimal

DIGITS = "零壹贰叁肆伍陆柒捌玖"
_DIGIT_VALUE = {ch: i for i, ch in enumerate(DIGITS)} | {"〇": 0}
_SMALL_UNITS = {"拾": 10, "佰": 100, "仟": 1000}
_LIMIT = 10**12  # 壹万亿: far above any receipt


class AmountWordsError(ValueError):
    """The text is not a well-formed 大写 amount."""


def to_words(amount: Decimal | int | str) -> str:
    """Decimal('123.45') → '壹佰贰拾叁元肆角伍分'; 100 → '壹佰元整'; 0 → '零元整'."""
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    if value < 0 or value >= _LIMIT:
        raise AmountWordsError(f"amount out of range: {value}")
    cents = int(value * 100)
    yuan, jiao, fen = cents // 100, cents // 10 % 10, cents % 10
    text = _integer_words(yuan) + "元" if yuan else ""
    if jiao == 0 and fen == 0:
        return (text or "零元") + "整"
    if jiao:
        text += DIGITS[jiao] + "角"
    elif yuan:
        text += "零"
    if fen:
        text += DIGITS[fen] + "分"
    return text


def _section_words(n: int) -> str:
    """0 < n < 10000 → e.g. 1005 → 壹仟零伍."""
    text, pending_zero = "", False
    for unit_value, unit in ((1000, "仟"), (100, "佰"), (10, "拾"), (1, "")):
        digit = n // unit_value % 10
        if digit == 0:
            pending_zero = bool(text)
            continue
        if pending_zero:
            text += "零"
            pending_zero = False
        text += DIGITS[digit] + unit
    return text


def _integer_words(n: int) -> str:
    parts: list[str] = []
    gap = False  # a zero section between two non-zero ones
    for section, name in ((n // 10**8, "亿"), (n // 10**4 % 10**4, "万"), (n % 10**4, "")):
        if section == 0:
            gap = bool(parts)
            continue
        if parts and (gap or section < 1000):
            parts.append("零")
        parts.append(_section_words(section) + name)
        gap = False
    return "".join(parts)


def parse_words(text: str) -> Decimal:
    """'人民币壹佰贰拾叁元肆角伍分' → Decimal('123.45'); raise AmountWordsError otherwise."""
    value = "".join(text.split())
    for prefix in ("人民币", "(大写)", "（大写）", "大写", ":", "："):
        value = value.removeprefix(prefix)
    value = value.replace("圆", "元").replace("正", "整").rstrip("整")
    if not value:
        raise AmountWordsError("empty")
    if "元" in value:
        integer_text, _, fraction_text = value.partition("元")
    elif value[-1] in "角分":
        integer_text, fraction_text = "", value
    else:
        raise AmountWordsError(f"no 元/角/分 in {text!r}")
    yuan = _parse_integer(integer_text) if integer_text else 0
    jiao, fen = _parse_fraction(fraction_text)
    return (Decimal(yuan) + Decimal(jiao) / 10 + Decimal(fen) / 100).quantize(Decimal("0.01"))


def _parse_integer(text: str) -> int:
    yi = wan = section = 0
    digit: int | None = None
    for ch in text:
        if ch in _DIGIT_VALUE:
            if digit not in (None, 0) and _DIGIT_VALUE[ch] != 0:
                raise AmountWordsError(f"two digits without a unit in {text!r}")
            digit = _DIGIT_VALUE[ch] if _DIGIT_VALUE[ch] else (digit if digit else 0)
        elif ch in _SMALL_UNITS:
            if digit is None and ch == "拾":
                digit = 1  # 拾万 = 100000
            if not digit:
                raise AmountWordsError(f"unit {ch} without a digit in {text!r}")
            section += digit * _SMALL_UNITS[ch]
            digit = None
        elif ch == "万":
            wan += section + (digit or 0)
            section, digit = 0, None
        elif ch == "亿":
            yi += wan * 10**4 + section + (digit or 0)
            wan = section = 0
            digit = None
        else:
            raise AmountWordsError(f"unexpected {ch!r} in {text!r}")
    return yi * 10**8 + wan * 10**4 + section + (digit or 0)


def _parse_fraction(text: str) -> tuple[int, int]:
    jiao = fen = 0
    text = text.lstrip("零")
    while text:
        if len(text) < 2 or text[0] not in _DIGIT_VALUE or text[1] not in "角分":
            raise AmountWordsError(f"bad fraction {text!r}")
        if text[1] == "角":
            if fen:
                raise AmountWordsError("角 after 分")
            jiao = _DIGIT_VALUE[text[0]]
        else:
            fen = _DIGIT_VALUE[text[0]]
        text = text[2:].lstrip("零").removeprefix("整")
    return jiao, fen
