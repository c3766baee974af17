"""Who is at the kiosk: one `Person` whatever the credential (ID card, social-security card, QR voucher).

`Person` is the one shape the session, forms and queue use. Cards become a `Person` in the
translation layer (`kiosk.devices.cards`, the only code that knows the drivers' field names);
a voucher from the hub's resolver reply here. Owns the age rule for the green channel and the
card-read evidence a record lookup carries.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from kiosk.privacy import mask_id_number, mask_name


@dataclass(frozen=True)
class Person:
    name: str
    id_number: str
    source: str  # "idcard" | "sscard" | "voucher"
    sex: str = ""
    nation: str = ""
    birth_date: dt.date | None = None
    address: str = ""
    card_valid_until: dt.date | str | None = None  # a date, "长期", or None when unknown
    card_type: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    def age(self, today: dt.date | None = None) -> int | None:
        if self.birth_date is None:
            return None
        today = today or dt.date.today()
        before_birthday = (today.month, today.day) < (self.birth_date.month, self.birth_date.day)
        return today.year - self.birth_date.year - before_birthday

    def card_expired(self, today: dt.date | None = None) -> bool:
        until = self.card_valid_until
        return isinstance(until, dt.date) and until < (today or dt.date.today())

    def masked_id(self, head: int = 6, tail: int = 4) -> str:
        return mask_id_number(self.id_number, head, tail)

    def masked_name(self) -> str:
        return mask_name(self.name)

    def field(self, name: str) -> str:
        """Value for a form prefill source `card.<name>`; dates as YYYY-MM-DD."""
        value = getattr(self, name, None) if name in self.__dataclass_fields__ else self.extra.get(name)
        if isinstance(value, dt.date):
            return value.isoformat()
        return "" if value is None else str(value)


def parse_date(value: Any) -> dt.date | None:
    """A date, or a card's "YYYYMMDD" / "YYYY-MM-DD" text as one; anything else is None."""
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str) and len(value) >= 8:
        digits = value.replace("-", "")
        try:
            return dt.date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
        except ValueError:
            return None
    return None


IDCARD_EVIDENCE = ("id_issuer", "id_valid_from", "id_valid_until")


def record_evidence(person: Person) -> dict[str, str] | None:
    """The card-read evidence a record lookup carries (see `HubClient.person_record`)."""
    if person.source == "sscard" and person.extra.get("card_number"):
        return {"sscard_number": person.extra["card_number"]}
    if person.source == "idcard" and person.name:
        # the name is checked against the platform's record; issuer and dates where the hub can
        return {"id_name": person.name, **{k: person.extra[k] for k in IDCARD_EVIDENCE if person.extra.get(k)}}
    if person.source == "voucher" and person.extra.get("lookup_grant"):
        return {"voucher_grant": person.extra["lookup_grant"]}
    return None


def person_from_voucher(resolved: dict[str, Any]) -> Person:
    """From the hub's voucher resolver reply (`POST /v1/vouchers/resolve`)."""
    return Person(
        name=str(resolved.get("name", "")),
        id_number=str(resolved.get("id_number", "")),
        source="voucher",
        sex=str(resolved.get("sex", "")),
        birth_date=parse_date(resolved.get("birth_date")),
        card_type="voucher",
        extra={"lookup_grant": str(resolved["lookup_grant"])} if resolved.get("lookup_grant") else {},
    )


def person_from_typed(id_number: str, name: str) -> Person | None:
    """帮办代办: a resident who cannot come, identified by the ID number and name their helper
    types (issue 19). None when the number fails its GB 11643 check or the name is empty. The birth
    date comes from the number (18-digit resident numbers); `source = "typed"` tells every reader
    that no card was read — the hub's name check or the counter decides whether it is right."""
    from drivers.idcard.idnumber import id_number_is_valid

    number, name = id_number.strip().upper(), " ".join(name.split())
    if not name or len(name) > 30 or not id_number_is_valid(number):
        return None
    birth = parse_date(number[6:14]) if len(number) == 18 else None
    return Person(name=name, id_number=number, source="typed", birth_date=birth, card_type="typed",
                  extra={"id_name": name})
