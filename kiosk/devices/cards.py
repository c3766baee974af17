"""The one card → `Person` mapping: ID card text and social-security card data become a `Person`.

Drivers return their own dataclasses (`drivers.idcard.text.IdCardText`,
`drivers.sscard.records.SsCardData`); this is the only place that knows their field names. A
field the mapping needs that the driver no longer has (renamed, dropped) is a `CardFieldMissing`
error naming the field — never a person with a silently empty name. Values a card may lawfully
leave blank (a foreigner's nation, a `Y` card's reserved parts) stay blank.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from kiosk.errors import UserFacingError
from kiosk.services.identity import Person, parse_date

_MISSING = object()


class CardFieldMissing(UserFacingError):
    """The driver's card record lacks a field the mapping reads: a programming error between
    driver and app, shown to the resident as an unreadable card (never the field's value)."""

    def __init__(self, record: str, field_name: str) -> None:
        super().__init__("CARD_FIELDS", "卡片信息读取不完整，请重新放卡或到窗口办理",
                         "The card could not be read completely; place it again or ask at a counter")
        self.record, self.field_name = record, field_name

    def __str__(self) -> str:
        return f"[CARD_FIELDS] {self.record} has no field {self.field_name!r}"


def _get(record: Any, name: str) -> Any:
    value = getattr(record, name, _MISSING)
    if value is _MISSING:
        raise CardFieldMissing(type(record).__name__, name)
    return value


def _text(record: Any, name: str) -> str:
    value = _get(record, name)
    return "" if value is None else str(value).strip()


def _as_text(value: Any) -> str:
    return value.isoformat() if isinstance(value, dt.date) else str(value or "").strip()


def person_from_idcard(text: Any) -> Person:
    """From `drivers.idcard.text.IdCardText` (resident ID, residence permit, foreigner's card)."""
    name = _text(text, "name") or _text(text, "chinese_name") or _text(text, "english_name")
    until = _get(text, "valid_until")
    evidence = {"id_issuer": _as_text(_get(text, "issuer")), "id_valid_from": _as_text(_get(text, "valid_from")),
                "id_valid_until": _as_text(until)}
    return Person(
        name=name,
        id_number=_text(text, "id_number"),
        source="idcard",
        sex=_get(text, "sex") or "",
        nation=_get(text, "nation") or "",
        birth_date=parse_date(_get(text, "birth_date")),
        address=_get(text, "address") or "",
        card_valid_until=until if until == "长期" else parse_date(until),
        card_type=_get(text, "card_type") or "resident",
        # What only a card in the reader shows (issuer, validity): the hub asks for it before a
        # record lookup, so an ID number alone is not enough. All three or none.
        extra=evidence if all(evidence.values()) else {},
    )


def person_from_sscard(data: Any) -> Person:
    """From `drivers.sscard.records.SsCardData`."""
    return Person(
        name=_text(data, "name"),
        id_number=_text(data, "id_number"),
        source="sscard",
        sex=_get(data, "sex") or "",
        nation=_get(data, "nation") or "",
        birth_date=parse_date(_get(data, "birth_date")),
        card_valid_until=parse_date(_get(data, "expiry_date")),
        card_type="sscard",
        extra={"card_number": str(_get(data, "card_number") or "")},
    )
