"""The one place that decides what is personal data and how it is shown masked (PIPL).

Every output that leaves the process — CLI JSON and text, screens, the technician trace, logs,
support bundles — masks through this module, so one rule holds everywhere:

* **What is personal** is decided by field name: `FIELD_KINDS` maps the names our card, form,
  receipt and hub objects use to a `Kind`; `mask_fields` walks any JSON-like object and masks
  each known field by its kind (and scrubs ID- and phone-shaped text in every other string).
* **Masked means not derivable.** A mask hides a part; no other masked field may give that part
  back. The hidden middle of an ID number *is* the birth date, so:
  - `mask_id_number` always hides the birth-date digits of every known number format (resident
    and residence-permit 18-digit, old 15-digit, 2017 foreigner permit), whatever head/tail the
    config asks for;
  - a masked birth date shows the year only (`1950-**-**`), never month and day; a screen shows
    age *or* birth year, never both (both together tell whether the birthday is past, halving
    what is left hidden);
  - the same secret is masked the same way wherever it appears (the kind decides, not the
    caller), so two outputs of one card cannot be laid over each other to fill the gaps;
  - card validity dates are the card-read evidence the hub trusts (an ID number alone does not
    open a record), so they too show the year only. Resident ID validity follows the age at
    issue (5/10/20 years/长期), so `valid_until` would otherwise give `valid_from` back.
  What stays: sex, nation, the region (first six digits, the address's province/city prefix,
  the issuing office), the check character. With the defaults that leaves ≈33 candidate ID
  numbers for a known birth year (365 days / 11 check characters); `id_candidates` counts them
  and the tests hold every output above a floor.
* **Health data** (diagnoses, diseases, drugs, receipt line items, which hospital) is hidden
  entirely when masked: a drug name or a 妇幼保健院 tells the condition.

`MaskingLogFilter` is the log safety net: it rewrites ID-, phone- and birth-date-shaped text.
"""
from __future__ import annotations

import datetime as dt
import enum
import itertools
import logging
import re
from dataclasses import dataclass
from typing import Any

ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{7,10})(\d{3}[0-9Xx])(?![0-9A-Za-z])")
PHONE_LIKE = re.compile(r"(?<!\d)(1[3-9]\d)(\d{4})(\d{4})(?!\d)")
# 2017 foreigner permanent residence number: nationality (3 letters), office (4), YYMMDD, serial (2)
FOREIGN_PERMIT_LIKE = re.compile(r"(?<![0-9A-Za-z])([A-Z]{3}\d{4})(\d{6})(\d{2})(?![0-9A-Za-z])")
_DATE = re.compile(r"^(\d{4})-?(\d{2})-?(\d{2})")


class Kind(enum.Enum):
    ID_NUMBER = "id_number"  # resident ID, residence permit, foreigner permit number
    NAME = "name"  # a person's name, any script
    PHONE = "phone"
    ADDRESS = "address"
    BIRTH_DATE = "birth_date"
    CARD_NUMBER = "card_number"  # social-security card number, HK/Macao/Taiwan pass number
    CARD_SERIAL = "card_serial"  # the chip's card id (region code + serial)
    CARD_DATE = "card_date"  # validity / issue dates of a card: card-read evidence
    HEALTH = "health"  # diagnosis, disease, drug, receipt line item, hospital visited
    SECRET = "secret"  # an e-receipt check code opens the receipt (and its payer) online


# Field name → kind. Names are those our objects really use: ID/social-security cards, forms
# (forms/*.toml), receipts (kiosk/ocr), hub person records. Add a name here, not a mask at a call site.
FIELD_KINDS: dict[str, Kind] = {
    **dict.fromkeys(("id_number", "guardian_id_number", "applicant_id_number", "id_no", "sfzh"), Kind.ID_NUMBER),
    **dict.fromkeys(("name", "chinese_name", "english_name", "payer", "patient", "patient_name", "baby_name",
                     "applicant_name", "contact_name", "guardian_name"), Kind.NAME),
    **dict.fromkeys(("phone", "mobile", "contact_phone", "telephone"), Kind.PHONE),
    **dict.fromkeys(("address", "home_address", "contact_address"), Kind.ADDRESS),
    **dict.fromkeys(("birth_date", "baby_birth_date", "date_of_birth"), Kind.BIRTH_DATE),
    **dict.fromkeys(("card_number", "pass_number", "sscard_number"), Kind.CARD_NUMBER),
    **dict.fromkeys(("card_id",), Kind.CARD_SERIAL),
    **dict.fromkeys(("valid_from", "valid_until", "expiry_date"), Kind.CARD_DATE),
    **dict.fromkeys(("diagnosis", "disease", "diseases", "drug", "drugs", "hospital", "hospitals", "items",
                     "item", "line_items"), Kind.HEALTH),
    **dict.fromkeys(("check_code",), Kind.SECRET),
}

# A social-security card's `issue_date` is card-read evidence; a receipt's is just the bill date.
CARD_FIELD_KINDS: dict[str, Kind] = {**FIELD_KINDS, "issue_date": Kind.CARD_DATE}

LONG_TERM = "长期"


@dataclass(frozen=True)
class MaskPolicy:
    """How much of an ID number stays visible (config `privacy.mask_head`/`mask_tail`)."""

    head: int = 6
    tail: int = 4

    @classmethod
    def from_config(cls, config: Any) -> MaskPolicy:
        privacy = getattr(config, "privacy", None)
        return cls(getattr(privacy, "mask_head", 6), getattr(privacy, "mask_tail", 4))


DEFAULT_POLICY = MaskPolicy()


# --- single values ------------------------------------------------------------------------------


def birth_segment(value: str) -> slice | None:
    """Where the birth date sits inside an identity number of a known format, else None."""
    v = (value or "").strip().upper()
    if re.fullmatch(r"\d{17}[\dX]", v):  # resident ID, HK/Macao/Taiwan permit, 2023 foreigner card
        return slice(6, 14)
    if re.fullmatch(r"\d{15}", v):  # first-generation ID: YYMMDD
        return slice(6, 12)
    if re.fullmatch(r"[A-Z]{3}\d{12}", v):  # 2017 foreigner permanent residence card
        return slice(7, 13)
    return None


def mask_id_number(value: str, head: int = 6, tail: int = 4) -> str:
    """Keep `head` and `tail` characters; the birth-date digits of a known format are hidden
    even if head/tail would show them."""
    value = value or ""
    if len(value) <= head + tail:
        return "*" * len(value)
    hidden = set(range(head, len(value) - tail))
    segment = birth_segment(value)
    if segment is not None:
        hidden.update(range(*segment.indices(len(value))))
    return "".join("*" if i in hidden else ch for i, ch in enumerate(value))


def mask_name(value: str) -> str:
    """张三 → 张*, 欧阳娜娜 → 欧***; Latin names keep the first letter."""
    value = (value or "").strip()
    if not value:
        return ""
    return value[0] + "*" * max(1, len(value) - 1)


def mask_text(value: str, keep: int = 6) -> str:
    """Addresses and other free text: keep a short prefix (province/city), hide the rest."""
    value = value or ""
    if len(value) <= keep:
        return value[:1] + "*" * max(0, len(value) - 1)
    return value[:keep] + "*" * min(8, len(value) - keep)


def mask_phone(value: str) -> str:
    value = value or ""
    return value[:3] + "****" + value[-4:] if len(value) == 11 else "*" * len(value)


def mask_date_to_year(value: Any) -> str:
    """`1950-03-07` / `19500307` / a date → `1950-**-**`; 长期 and empty stay as they are."""
    if isinstance(value, dt.date):
        return f"{value.year:04d}-**-**"
    text = "" if value is None else str(value)
    if text in ("", LONG_TERM):
        return text
    m = _DATE.match(text)
    return f"{m.group(1)}-**-**" if m else "*" * len(text)


def mask_card_number(value: str) -> str:
    """A01234567 → A******67: enough to tell two cards apart at the counter, not to use one."""
    return mask_id_number(value, 1, 2)


def mask_card_serial(value: str) -> str:
    """The chip serial keeps its six-digit region code (already visible in the ID number)."""
    value = value or ""
    return value[:6] + "*" * max(0, len(value) - 6)


def mask_health(value: Any) -> Any:
    """Health data is hidden whole (a first character of a drug name already tells a lot)."""
    if isinstance(value, str):
        return "*" * min(len(value), 6) if value else ""
    if isinstance(value, list):
        return [mask_health(v) for v in value]
    return value


def mask_secret(value: Any) -> Any:
    return "******" if isinstance(value, str) and value else value


def mask_value(kind: Kind, value: Any, policy: MaskPolicy = DEFAULT_POLICY) -> Any:
    """Mask one value of a known kind. Non-string values (None, numbers) pass through."""
    if kind is Kind.HEALTH:
        return mask_health(value)
    if kind in (Kind.BIRTH_DATE, Kind.CARD_DATE):
        return mask_date_to_year(value) if value is not None else None
    if not isinstance(value, str):
        return value
    if kind is Kind.ID_NUMBER:
        return mask_id_number(value, policy.head, policy.tail)
    if kind is Kind.NAME:
        return mask_name(value)
    if kind is Kind.PHONE:
        return mask_phone(value)
    if kind is Kind.ADDRESS:
        return mask_text(value)
    if kind is Kind.CARD_NUMBER:
        return mask_card_number(value)
    if kind is Kind.CARD_SERIAL:
        return mask_card_serial(value)
    return mask_secret(value)


# --- whole objects --------------------------------------------------------------------------------


def mask_fields(obj: Any, policy: MaskPolicy = DEFAULT_POLICY, *, kinds: dict[str, Kind] | None = None) -> Any:
    """A masked copy of a JSON-like object: every field named in `kinds` (default `FIELD_KINDS`)
    masked by its kind, at any depth; every other string scrubbed of ID- and phone-shaped text.
    Receipt line items (`items: [{name, amount}]`) keep their amounts and lose their names."""
    table = FIELD_KINDS if kinds is None else kinds
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            kind = table.get(key) if isinstance(key, str) else None
            if kind is None or isinstance(value, dict):
                out[key] = mask_fields(value, policy, kinds=table)
            elif isinstance(value, (list, tuple)):
                out[key] = [_mask_item(v, policy, table) if isinstance(v, dict) and kind is Kind.HEALTH
                            else mask_fields(v, policy, kinds=table) if isinstance(v, (dict, list, tuple))
                            else mask_value(kind, v, policy) for v in value]
            else:
                out[key] = mask_value(kind, value, policy)
        return out
    if isinstance(obj, (list, tuple)):
        return [mask_fields(v, policy, kinds=table) for v in obj]
    if isinstance(obj, str):
        return scrub(obj)
    return obj


def _mask_item(item: dict[str, Any], policy: MaskPolicy, table: dict[str, Kind]) -> dict[str, Any]:
    """One receipt/bill line: what was bought or done is health data; the money is not."""
    return {k: (mask_health(v) if k in ("name", "item", "drug", "diagnosis") else mask_fields(v, policy, kinds=table))
            for k, v in item.items()}


def age_on(birth: dt.date | None, day: dt.date | None = None) -> int | None:
    """Whole years on `day` — what a masked screen shows instead of the birth date."""
    if birth is None:
        return None
    day = day or dt.date.today()
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


# --- text -----------------------------------------------------------------------------------------


def scrub(text: str) -> str:
    """Mask ID-number-like and phone-like substrings inside arbitrary text (log safety net)."""
    text = ID_LIKE.sub(lambda m: mask_id_number(m.group(0)), text)
    text = FOREIGN_PERMIT_LIKE.sub(lambda m: mask_id_number(m.group(0)), text)
    return PHONE_LIKE.sub(lambda m: m.group(1) + "****" + m.group(3), text)


_FULL_DATE = re.compile(r"(?<!\d)((?:19|20)\d{2})([-/.年]?)(0[1-9]|1[0-2])\2(0[1-9]|[12]\d|3[01])日?(?!\d)")
_CJK_DATE = re.compile(r"((?:19|20)\d{2})年\d{1,2}月\d{1,2}日")
_CJK_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]{2,}")


def scrub_strict(text: str) -> str:
    """For free text a person reads (the technician trace): `scrub`, plus full dates (a birth
    date next to a masked number rebuilds it) and runs of Chinese characters (names, places)."""
    text = scrub(text)
    text = _FULL_DATE.sub(lambda m: f"{m.group(1)}{m.group(2)}**{m.group(2)}**", text)
    text = _CJK_DATE.sub(lambda m: f"{m.group(1)}年**月**日", text)
    return _CJK_RUN.sub(lambda m: mask_name(m.group(0)), text)


# --- checks (used by tests and by anyone adding an output) ---------------------------------------


def id_candidates(masked_id: str, birth_year: int | None = None, limit: int = 100_000) -> int:
    """How many valid 18-character ID numbers fit a masked one (and a birth year shown next to
    it): what an attacker holding the masked output must still guess between. Stops at `limit`."""
    from drivers.idcard.idnumber import check_char

    m = (masked_id or "").upper()
    if len(m) != 18:
        return limit
    free = [i for i in range(17) if m[i] == "*" and not 6 <= i < 14]
    if "*" in m[6:14]:
        day, end = (dt.date(birth_year, 1, 1), dt.date(birth_year, 12, 31)) if birth_year else (dt.date(1900, 1, 1), dt.date.today())
        days = []
        while day <= end:
            ymd = day.strftime("%Y%m%d")
            if all(c in ("*", d) for c, d in zip(m[6:14], ymd, strict=True)):
                days.append(ymd)
            day += dt.timedelta(days=1)
    else:
        days = [m[6:14]]
    count = 0
    for ymd in days:
        for digits in itertools.product("0123456789", repeat=len(free)):
            chars = list(m[:6] + ymd + m[14:17])
            for i, d in zip(free, digits, strict=True):
                chars[i] = d
            if m[17] == "*" or check_char("".join(chars)) == m[17]:
                count += 1
                if count >= limit:
                    return count
    return count


class MaskingLogFilter(logging.Filter):
    """Installed on every handler: a log record never leaves the process with a clear ID number."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string must not kill logging
            message = str(record.msg)
        masked = scrub(message)
        if masked != message:
            record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


__all__ = [
    "CARD_FIELD_KINDS", "DEFAULT_POLICY", "FIELD_KINDS", "Kind", "MaskPolicy", "MaskingLogFilter", "age_on", "birth_segment",
    "id_candidates", "mask_card_number", "mask_card_serial", "mask_date_to_year", "mask_fields", "mask_health",
    "mask_id_number", "mask_name", "mask_phone", "mask_secret", "mask_text", "mask_value", "scrub", "scrub_strict",
]

