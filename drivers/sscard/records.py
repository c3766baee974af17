"""EF05/EF06 records of the social-security card: TLV parsing, field decoding, `SsCardData`.

Every malformed input (bad TLV, bad BCD, wrong length, undecodable text) raises
`MalformedRecord`; nothing else escapes. `encode_fields` is the inverse, used by the emulator.
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from drivers.sscard.errors import MalformedRecord

EF05_TAGS = (0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07)
EF06_TAGS = (0x08, 0x09, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D)
OPTIONAL_TAGS = frozenset({0x4E})
NAME_MAX = 30
# Exact value lengths of the fixed fields (tag → bytes). 09 and 4E are variable (padded GBK).
FIXED_LENGTHS = {0x01: 16, 0x02: 1, 0x03: 4, 0x04: 12, 0x05: 4, 0x06: 4, 0x07: 9,
                 0x08: 18, 0x0A: 1, 0x0B: 1, 0x0C: 3, 0x0D: 4}
_ID_NUMBER = re.compile(r"\d{17}[\dX]")
_PAD = b"\x00\xff \t"


@dataclass(frozen=True)
class SsCardData:
    card_id: str  # 32 hex digits; the first 6 are the issuing region code
    card_type: str
    spec_version: str
    issuer_org: str
    issue_date: date
    expiry_date: date
    card_number: str
    id_number: str  # social-security number = citizen ID number
    name: str  # 09 plus the 4E extension when present
    sex: str  # GB/T 2261.1 code: "1" male, "2" female
    nation: str  # GB 3304 two-digit code, "01" = 汉族
    birthplace: str  # 6-digit administrative division code
    birth_date: date

    @property
    def region(self) -> str:
        return self.card_id[:6]

    def is_expired(self, today: date) -> bool:
        return self.expiry_date < today

    def to_dict(self) -> dict[str, str]:
        return {
            "card_id": self.card_id,
            "card_type": self.card_type,
            "spec_version": self.spec_version,
            "issuer_org": self.issuer_org,
            "issue_date": self.issue_date.isoformat(),
            "expiry_date": self.expiry_date.isoformat(),
            "card_number": self.card_number,
            "id_number": self.id_number,
            "name": self.name,
            "sex": self.sex,
            "nation": self.nation,
            "birthplace": self.birthplace,
            "birth_date": self.birth_date.isoformat(),
        }


# ---- TLV -------------------------------------------------------------------------------------

def parse_tlvs(data: bytes | list[int]) -> list[tuple[int, bytes]]:
    """`tag len value …` with one-byte tags and BER lengths (short, 81 xx, 82 xx xx)."""
    try:
        raw = bytes(data)
    except (TypeError, ValueError):
        raise MalformedRecord("not bytes") from None
    items: list[tuple[int, bytes]] = []
    i = 0
    while i < len(raw):
        tag = raw[i]
        if tag in (0x00, 0xFF):  # padding between/after objects
            i += 1
            continue
        if i + 1 >= len(raw):
            raise MalformedRecord(f"tag {tag:02X} without length")
        length = raw[i + 1]
        i += 2
        if length & 0x80:
            count = length & 0x7F
            if count not in (1, 2) or i + count > len(raw):
                raise MalformedRecord(f"tag {tag:02X}: bad length form")
            length = int.from_bytes(raw[i:i + count], "big")
            i += count
        if i + length > len(raw):
            raise MalformedRecord(f"tag {tag:02X}: length {length} beyond data")
        items.append((tag, raw[i:i + length]))
        i += length
    return items


def encode_tlv(tag: int, value: bytes) -> bytes:
    if len(value) > 0x7F:
        return bytes([tag, 0x81, len(value)]) + value
    return bytes([tag, len(value)]) + value


# ---- field codecs ----------------------------------------------------------------------------

def decode_bcd(value: bytes) -> str:
    digits = value.hex()
    if not digits.isdigit():
        raise MalformedRecord("bad BCD")
    return digits


def decode_bcd_date(value: bytes) -> date:
    digits = decode_bcd(value)
    if len(digits) != 8:
        raise MalformedRecord("bad BCD date length")
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        raise MalformedRecord(f"bad date {digits}") from None


def decode_ascii(value: bytes, what: str) -> str:
    text = value.rstrip(_PAD)
    if not all(0x20 <= b < 0x7F for b in text):
        raise MalformedRecord(f"{what}: not printable ASCII")
    return text.decode("ascii")


def decode_text_or_hex(value: bytes) -> str:
    """Issuer org and card type are ASCII on most cards and binary on some: keep both readable."""
    text = value.rstrip(_PAD)
    if text and all(0x20 <= b < 0x7F for b in text):
        return text.decode("ascii")
    return value.hex().upper()


def decode_gbk_name(value: bytes) -> str:
    # GB18030 is a superset of GBK: rare name characters (e.g. 䶮) decode too.
    try:
        return value.rstrip(_PAD).decode("gb18030").strip()
    except UnicodeDecodeError:
        raise MalformedRecord("name: not GBK") from None


def _check_length(tag: int, value: bytes) -> None:
    expected = FIXED_LENGTHS.get(tag)
    if expected is not None and len(value) != expected:
        raise MalformedRecord(f"tag {tag:02X}: {len(value)} bytes, expected {expected}")
    if tag in (0x09, 0x4E) and len(value) > NAME_MAX:
        raise MalformedRecord(f"tag {tag:02X}: longer than {NAME_MAX} bytes")


def build_card_data(fields: dict[int, bytes]) -> SsCardData:
    """Decode the values of tags 01–0D (+4E) into `SsCardData`."""
    missing = [t for t in (*EF05_TAGS, *EF06_TAGS) if t not in fields and t not in OPTIONAL_TAGS]
    if missing:
        raise MalformedRecord("missing tags " + " ".join(f"{t:02X}" for t in missing))
    for tag, value in fields.items():
        _check_length(tag, value)
    card_id = fields[0x01].hex().upper()
    if not card_id[:6].isdigit():
        raise MalformedRecord("card id: region is not BCD")
    id_number = decode_ascii(fields[0x08], "id number").upper()
    if not _ID_NUMBER.fullmatch(id_number):
        raise MalformedRecord("id number: not 17 digits + check character")
    name = decode_gbk_name(fields[0x09]) + decode_gbk_name(fields.get(0x4E, b""))
    if not name:
        raise MalformedRecord("name: empty")
    sex = decode_ascii(fields[0x0A], "sex")
    if sex not in ("0", "1", "2", "9"):
        raise MalformedRecord("sex: not a GB/T 2261.1 code")
    card_number = decode_ascii(fields[0x07], "card number")
    if not card_number.isalnum():
        raise MalformedRecord("card number: not alphanumeric")
    return SsCardData(
        card_id=card_id,
        card_type=decode_text_or_hex(fields[0x02]),
        spec_version=decode_ascii(fields[0x03], "spec version"),
        issuer_org=decode_text_or_hex(fields[0x04]),
        issue_date=decode_bcd_date(fields[0x05]),
        expiry_date=decode_bcd_date(fields[0x06]),
        card_number=card_number,
        id_number=id_number,
        name=name,
        sex=sex,
        nation=decode_bcd(fields[0x0B]),
        birthplace=decode_bcd(fields[0x0C]),
        birth_date=decode_bcd_date(fields[0x0D]),
    )


def parse_records(responses: Sequence[bytes | list[int]]) -> SsCardData:
    """Parse the data of every READ RECORD answer (TLV) and decode the card."""
    fields: dict[int, bytes] = {}
    for response in responses:
        for tag, value in parse_tlvs(response):
            fields.setdefault(tag, value)
    return build_card_data(fields)


# ---- encoding (emulator, round-trip tests) ---------------------------------------------------

def _bcd(digits: str) -> bytes:
    return bytes.fromhex(digits)


def _bcd_date(value: date) -> bytes:
    return _bcd(value.strftime("%Y%m%d"))


def split_name(name: str) -> tuple[bytes, bytes]:
    """GBK name → (09 value, 4E value): 09 holds whole characters up to 30 bytes, 4E the rest."""
    head: list[bytes] = []
    tail: list[bytes] = []
    size = 0
    for ch in name:
        enc = ch.encode("gb18030")
        if not tail and size + len(enc) <= NAME_MAX:
            head.append(enc)
            size += len(enc)
        else:
            tail.append(enc)
    return b"".join(head), b"".join(tail)


def encode_fields(data: SsCardData) -> dict[int, bytes]:
    name, extension = split_name(data.name)
    fields = {
        0x01: bytes.fromhex(data.card_id),
        0x02: data.card_type.encode("ascii") if len(data.card_type) == 1 else bytes.fromhex(data.card_type),
        0x03: data.spec_version.encode("ascii").ljust(4, b" ")[:4],
        0x04: data.issuer_org.encode("ascii").ljust(12, b" ")[:12],
        0x05: _bcd_date(data.issue_date),
        0x06: _bcd_date(data.expiry_date),
        0x07: data.card_number.encode("ascii"),
        0x08: data.id_number.encode("ascii"),
        0x09: name.ljust(NAME_MAX, b" "),
        0x0A: data.sex.encode("ascii"),
        0x0B: _bcd(data.nation),
        0x0C: _bcd(data.birthplace),
        0x0D: _bcd_date(data.birth_date),
    }
    if extension:
        fields[0x4E] = extension
    return fields
