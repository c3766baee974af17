"""The 256-byte text block of a `30 01` read → `IdCardText`, and back (`build_text`).

Layouts (UTF-16LE, space padded; offsets in bytes), chosen by the type flag at bytes 248–249:
blank = resident ID card, `J` = HK/Macau/Taiwan residence permit, `I` = foreigner permanent
residence card (2017). `Y` (2023 foreigner card) has no settled public layout: it is read with the
`I` layout, a field is kept only where it validates, and every slice is in `raw_fields`. Any other
flag gives `card_type="unknown"` with raw fields only. Nothing in here raises on card bytes.

`IdCardText`'s repr hides personal fields, so logging an event by accident leaks nothing.
"""
from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from typing import Any

from drivers.idcard.idnumber import id_number_is_valid

TEXT_LENGTH = 256
LONG_TERM = "长期"

SEX_BY_CODE = {"0": "未知", "1": "男", "2": "女", "9": "未说明"}

# GB/T 3304 nation codes as printed on the card (民族 without the 族 suffix).
NATION_BY_CODE = {
    "01": "汉", "02": "蒙古", "03": "回", "04": "藏", "05": "维吾尔", "06": "苗", "07": "彝",
    "08": "壮", "09": "布依", "10": "朝鲜", "11": "满", "12": "侗", "13": "瑶", "14": "白",
    "15": "土家", "16": "哈尼", "17": "哈萨克", "18": "傣", "19": "黎", "20": "傈僳", "21": "佤",
    "22": "畲", "23": "高山", "24": "拉祜", "25": "水", "26": "东乡", "27": "纳西", "28": "景颇",
    "29": "柯尔克孜", "30": "土", "31": "达斡尔", "32": "仫佬", "33": "羌", "34": "布朗",
    "35": "撒拉", "36": "毛南", "37": "仡佬", "38": "锡伯", "39": "阿昌", "40": "普米",
    "41": "塔吉克", "42": "怒", "43": "乌孜别克", "44": "俄罗斯", "45": "鄂温克", "46": "德昂",
    "47": "保安", "48": "裕固", "49": "京", "50": "塔塔尔", "51": "独龙", "52": "鄂伦春",
    "53": "赫哲", "54": "门巴", "55": "珞巴", "56": "基诺",
    "97": "其他", "98": "外国血统中国籍人士",
}
_CODE_BY_NATION = {name: code for code, name in NATION_BY_CODE.items()}
_CODE_BY_SEX = {name: code for code, name in SEX_BY_CODE.items()}

FLAG_SLICE = (248, 250)
FLAG_BY_CARD_TYPE = {"resident": "", "hk_mo_tw": "J", "foreign": "I"}

RESIDENT_LAYOUT = (
    ("name", 0, 30), ("sex", 30, 32), ("nation", 32, 36), ("birth_date", 36, 52),
    ("address", 52, 122), ("id_number", 122, 158), ("issuer", 158, 188),
    ("valid_from", 188, 204), ("valid_until", 204, 220),
)
HK_MO_TW_LAYOUT = RESIDENT_LAYOUT + (("pass_number", 220, 238), ("issue_count", 238, 242))
FOREIGN_LAYOUT = (
    ("english_name", 0, 120), ("sex", 120, 122), ("id_number", 122, 152), ("nationality", 152, 158),
    ("chinese_name", 158, 188), ("valid_from", 188, 204), ("valid_until", 204, 220),
    ("birth_date", 220, 236), ("version", 236, 240), ("authority_code", 240, 248),
)
_LAYOUT_BY_FLAG = {"": RESIDENT_LAYOUT, "J": HK_MO_TW_LAYOUT, "I": FOREIGN_LAYOUT, "Y": FOREIGN_LAYOUT}
_PAD = " \x00\u3000"


@dataclass(frozen=True, repr=False)
class IdCardText:
    card_type: str  # resident | hk_mo_tw | foreign | unknown
    name: str = ""  # foreign cards: the Chinese name, else the English name
    sex: str = "未知"  # 男 | 女 | 未知 | 未说明
    nation: str = ""  # resident cards only
    birth_date: _dt.date | None = None
    address: str = ""
    id_number: str = ""  # foreign cards: the permit number
    issuer: str = ""
    valid_from: _dt.date | None = None
    valid_until: _dt.date | str | None = None  # a date or "长期"
    type_flag: str = ""  # raw flag: "", "J", "I", "Y", or whatever an unknown card carries
    sex_code: str = ""
    nation_code: str = ""
    # J: residence permits for HK/Macau/Taiwan residents
    pass_number: str = ""
    issue_count: str = ""
    # I (and best effort for Y): foreigner permanent residence cards
    english_name: str = ""
    nationality: str = ""  # ISO 3166 alpha-3
    chinese_name: str = ""
    version: str = ""
    authority_code: str = ""
    raw_fields: dict[str, str] = field(default_factory=dict, hash=False)

    def __repr__(self) -> str:
        masked = self.id_number[:2] + "*" * max(0, len(self.id_number) - 2)
        return f"IdCardText(card_type={self.card_type!r}, type_flag={self.type_flag!r}, id_number={masked!r})"

    __str__ = __repr__

    def to_dict(self) -> dict[str, str]:
        """Clear (unmasked) JSON-ready fields; masking belongs to the caller (kiosk.privacy)."""
        return {
            "name": self.name,
            "sex": self.sex,
            "nation": self.nation,
            "birth_date": self.birth_date.isoformat() if self.birth_date else "",
            "address": self.address,
            "id_number": self.id_number,
            "issuer": self.issuer,
            "valid_from": self.valid_from.isoformat() if self.valid_from else "",
            "valid_until": _date_or_text(self.valid_until),
            "card_type": self.card_type,
        }

    def extras(self) -> dict[str, str]:
        """Type-specific fields that are present (pass number, English name, ...)."""
        names = ("pass_number", "issue_count", "english_name", "nationality", "chinese_name", "version", "authority_code")
        return {n: getattr(self, n) for n in names if getattr(self, n)}

    def age_on(self, day: _dt.date) -> int | None:
        """Whole years of age on `day` (for the green channel), or None if the birth date is unknown."""
        if self.birth_date is None:
            return None
        b = self.birth_date
        return day.year - b.year - ((day.month, day.day) < (b.month, b.day))

    def is_expired(self, day: _dt.date) -> bool:
        return isinstance(self.valid_until, _dt.date) and day > self.valid_until


_FOREIGN_2017 = re.compile(r"[A-Z]{3}\d{12}")
_PERMIT_AREAS = ("810000", "820000", "830000")  # Hong Kong, Macao, Taiwan residence permits


def card_problem(card: IdCardText) -> str | None:
    """Why this text is not a valid person, or None. The answer names the fault, never card data
    (it reaches logs and technicians). Pure: the reader calls it after every read."""
    if card.card_type == "unknown":
        return f"unknown card type flag {card.type_flag!r}"[:60]
    if not card.name:
        return "no name on the card"
    number = card.id_number.upper()
    if card.card_type == "foreign":
        if card.type_flag == "Y" and id_number_is_valid(number):
            return None
        if _FOREIGN_2017.fullmatch(number):
            return None
        return "permit number does not have the permanent residence card format"
    if not id_number_is_valid(number):
        return "ID number fails its check character" if len(number) == 18 else "ID number is not 18 characters"
    if card.card_type == "hk_mo_tw" and not number.startswith(_PERMIT_AREAS):
        return "residence permit number does not start with 810000/820000/830000"
    return None


def _date_or_text(value: _dt.date | str | None) -> str:
    if value is None:
        return ""
    return value.isoformat() if isinstance(value, _dt.date) else value


def _decode(raw: bytes, start: int, end: int) -> str:
    return raw[start:end].decode("utf-16-le", errors="replace").strip(_PAD)


def parse_date(text: str) -> _dt.date | None:
    if not re.fullmatch(r"\d{8}", text or ""):
        return None
    try:
        return _dt.date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        return None


def _parse_until(text: str) -> _dt.date | str | None:
    return LONG_TERM if text == LONG_TERM else parse_date(text)


def parse_text(raw: bytes) -> IdCardText:
    """Parse the card's text block; tolerant of short, long, odd-length or garbage input."""
    raw = bytes(raw[:TEXT_LENGTH])
    if len(raw) % 2:
        raw = raw[:-1]
    raw = raw + " ".encode("utf-16-le") * ((TEXT_LENGTH - len(raw)) // 2)
    flag = _decode(raw, *FLAG_SLICE)
    layout = _LAYOUT_BY_FLAG.get(flag)
    if layout is None:
        fields = {name: _decode(raw, start, end) for name, start, end in RESIDENT_LAYOUT}
        fields["flag"] = flag
        return IdCardText(card_type="unknown", type_flag=flag, raw_fields=fields)
    f = {name: _decode(raw, start, end) for name, start, end in layout}
    if flag == "Y":
        # 2023 cards carry an 18-character number; where one validates across the 2017 number
        # and nationality slots, take it whole (the nationality is then not known).
        wide = _decode(raw, 122, 158)
        if id_number_is_valid(wide):
            f["id_number"], f["nationality"] = wide, ""
    sex_code = f.get("sex", "")
    common: dict[str, Any] = dict(
        type_flag=flag,
        sex=SEX_BY_CODE.get(sex_code, "未知"),
        sex_code=sex_code,
        birth_date=parse_date(f.get("birth_date", "")),
        valid_from=parse_date(f.get("valid_from", "")),
        valid_until=_parse_until(f.get("valid_until", "")),
        raw_fields=dict(f),
    )
    if layout is FOREIGN_LAYOUT:
        chinese, english = f["chinese_name"], f["english_name"]
        return IdCardText(
            card_type="foreign",
            name=chinese or english,
            id_number=f["id_number"],
            english_name=english,
            nationality=f["nationality"],
            chinese_name=chinese,
            version=f["version"],
            authority_code=f["authority_code"],
            **common,
        )
    nation_code = f["nation"]
    return IdCardText(
        card_type="resident" if flag == "" else "hk_mo_tw",
        name=f["name"],
        nation=NATION_BY_CODE.get(nation_code, ""),
        nation_code=nation_code,
        address=f["address"],
        id_number=f["id_number"],
        issuer=f["issuer"],
        pass_number=f.get("pass_number", ""),
        issue_count=f.get("issue_count", ""),
        **common,
    )


# --- the inverse, for the simulator and tests -------------------------------------------------


def _date_text(value: _dt.date | str | None, field_name: str) -> str:
    if value is None or value == "":
        return ""
    if isinstance(value, _dt.date):
        return value.strftime("%Y%m%d")
    if value == LONG_TERM:
        return value
    digits = value.replace("-", "")
    if not re.fullmatch(r"\d{8}", digits):
        raise ValueError(f"{field_name}: expected a date, YYYYMMDD, YYYY-MM-DD or 长期, got {value!r}")
    return digits


def _code(value: str, table: dict[str, str], field_name: str) -> str:
    if value in table:
        return table[value]
    if value == "" or (value.isascii() and value.isalnum()):
        return value
    raise ValueError(f"{field_name}: unknown value {value!r}")


def build_text(
    card_type: str = "resident",
    *,
    name: str = "",
    sex: str = "",
    nation: str = "",
    birth_date: _dt.date | str | None = None,
    address: str = "",
    id_number: str = "",
    issuer: str = "",
    valid_from: _dt.date | str | None = None,
    valid_until: _dt.date | str | None = None,
    pass_number: str = "",
    issue_count: str = "",
    english_name: str = "",
    nationality: str = "",
    chinese_name: str = "",
    version: str = "",
    authority_code: str = "",
    flag: str | None = None,
) -> bytes:
    """Encode card fields as the 256-byte text block. `sex` and `nation` take names (男, 汉) or
    codes; dates take `date`, `YYYYMMDD` or `YYYY-MM-DD`. `flag` overrides the type flag (e.g.
    "Y"). A field longer than its slot raises `ValueError`."""
    if flag is None:
        if card_type not in FLAG_BY_CARD_TYPE:
            raise ValueError(f"card_type: expected one of {', '.join(FLAG_BY_CARD_TYPE)}, got {card_type!r}")
        flag = FLAG_BY_CARD_TYPE[card_type]
    layout = _LAYOUT_BY_FLAG.get(flag, RESIDENT_LAYOUT)
    values = {
        "name": name,
        "sex": _code(sex, _CODE_BY_SEX, "sex"),
        "nation": _code(nation, _CODE_BY_NATION, "nation"),
        "birth_date": _date_text(birth_date, "birth_date"),
        "address": address,
        "id_number": id_number,
        "issuer": issuer,
        "valid_from": _date_text(valid_from, "valid_from"),
        "valid_until": _date_text(valid_until, "valid_until"),
        "pass_number": pass_number,
        "issue_count": issue_count,
        "english_name": english_name,
        "nationality": nationality,
        "chinese_name": chinese_name or (name if layout is FOREIGN_LAYOUT else ""),
        "version": version,
        "authority_code": authority_code,
    }
    out = bytearray(" ".encode("utf-16-le") * (TEXT_LENGTH // 2))
    wide_number = flag == "Y" and len(id_number) > 15  # see parse_text: 2023 18-character numbers
    for field_name, start, end in layout:
        if wide_number and field_name in ("id_number", "nationality"):
            continue
        _put(out, values[field_name], start, end, field_name)
    if wide_number:
        _put(out, id_number, 122, 158, "id_number")
    _put(out, flag, *FLAG_SLICE, "flag")
    return bytes(out)


def _put(out: bytearray, value: str, start: int, end: int, field_name: str) -> None:
    encoded = value.encode("utf-16-le")
    if len(encoded) > end - start:
        raise ValueError(f"{field_name}: longer than {(end - start) // 2} characters")
    out[start : start + len(encoded)] = encoded
