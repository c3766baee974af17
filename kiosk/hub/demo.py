"""Demo resolvers the hub answers with until it is connected to the real insurance systems.

医保电子凭证 QR stub: a code of the form ``YBPZ-DEMO-<18-character ID number>`` (the ID number
must pass the GB 11643 check) resolves to a demo person; anything else is unknown (HTTP 404).
Example: ``YBPZ-DEMO-11010519491231002X``.

The insurance record (参保信息查询) is deterministic from the ID number so tests and the demo
screen show the same thing every time.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

VOUCHER_PATTERN = re.compile(r"^YBPZ-DEMO-(\d{17}[\dX])$")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞")
_PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区", "21": "辽宁省", "22": "吉林省",
    "23": "黑龙江省", "31": "上海市", "32": "江苏省", "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省",
    "37": "山东省", "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区", "46": "海南省",
    "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省", "54": "西藏自治区", "61": "陕西省", "62": "甘肃省",
    "63": "青海省", "64": "宁夏回族自治区", "65": "新疆维吾尔自治区", "81": "香港特别行政区", "82": "澳门特别行政区",
    "83": "台湾地区",
}


def id_number_valid(id_number: str) -> bool:
    if not re.fullmatch(r"\d{17}[\dX]", id_number or ""):
        return False
    return _CHECK[sum(int(d) * w for d, w in zip(id_number[:17], _WEIGHTS)) % 11] == id_number[17]


def _seed(id_number: str) -> bytes:
    return hashlib.sha256(("demo:" + id_number).encode()).digest()


def _birth(id_number: str) -> str | None:
    try:
        return dt.date(int(id_number[6:10]), int(id_number[10:12]), int(id_number[12:14])).isoformat()
    except ValueError:
        return None


def resolve_voucher(code: str) -> dict[str, Any] | None:
    match = VOUCHER_PATTERN.match((code or "").strip().upper())
    if not match or not id_number_valid(match.group(1)):
        return None
    id_number = match.group(1)
    seed = _seed(id_number)
    return {
        "name": _SURNAMES[seed[0] % len(_SURNAMES)] + _GIVEN[seed[1] % len(_GIVEN)],
        "id_number": id_number,
        "sex": "男" if int(id_number[16]) % 2 else "女",
        "birth_date": _birth(id_number),
        "voucher_status": "已激活",
        "demo": True,
    }


def insurance_record(id_number: str, today: dt.date | None = None) -> dict[str, Any]:
    """Enrolment status, scheme (城乡居民 / 职工), region and paid-until for 参保信息查询."""
    today = today or dt.date.today()
    seed = _seed(id_number)
    employee = seed[2] % 3 == 0
    status = ("参保缴费", "参保缴费", "参保缴费", "参保缴费", "暂停缴费", "终止参保")[seed[3] % 6]
    paid_year = today.year if status == "参保缴费" else today.year - 1 - seed[4] % 3
    region = _PROVINCES.get(id_number[:2], "未知地区")
    return {
        "id_number": id_number,
        "enrolled": status != "终止参保",
        "status": status,
        "insurance_type": "职工" if employee else "城乡居民",
        "scheme": "职工基本医疗保险" if employee else "城乡居民基本医疗保险",
        "region": region,
        "region_code": id_number[:6],
        "paid_until": f"{paid_year}-12-31",
        "annual_contribution_yuan": (seed[5] % 40 + 40) * 10 if employee else 380,
        "demo": True,
    }


# -- the demo upstream's card register (what the real platform would know about each card) ------
_CARDS_DIR = Path(__file__).resolve().parents[2] / "assets" / "cards"


@functools.lru_cache(maxsize=1)
def _simulator_cards() -> dict[str, dict[str, str]]:
    """The simulator cards' facts by ID number, so the demo kiosk's card reads match the register."""
    register: dict[str, dict[str, str]] = {}
    for path in sorted(_CARDS_DIR.glob("*/*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        idcard, sscard = data.get("fields") or {}, data.get("card") or {}
        if isinstance(idcard, dict) and idcard.get("id_number"):
            entry = register.setdefault(str(idcard["id_number"]), {})
            for key, field in (("id_issuer", "issuer"), ("id_valid_from", "valid_from"), ("id_valid_until", "valid_until")):
                if idcard.get(field):
                    entry[key] = str(idcard[field])
        if isinstance(sscard, dict) and sscard.get("id_number") and sscard.get("card_number"):
            register.setdefault(str(sscard["id_number"]), {})["sscard_number"] = str(sscard["card_number"])
    return register


def card_register(id_number: str) -> dict[str, str]:
    """The card facts the demo upstream holds for a person: the simulator cards' own, else
    deterministic ones from the ID number (an attacker with only the number cannot guess them)."""
    known = _simulator_cards().get(id_number)
    if known:
        return dict(known)
    seed = _seed("card:" + id_number)
    return {"sscard_number": "D" + "".join(str(b % 10) for b in seed[:8]),
            "id_issuer": _PROVINCES.get(id_number[:2], "") + "公安局",
            "id_valid_from": f"{2010 + seed[8] % 14}-0{1 + seed[9] % 9}-1{seed[10] % 10}",
            "id_valid_until": "长期"}


def _normal(value: str) -> str:
    return "".join(value.split()).replace("-", "").replace(".", "").upper()


def check_evidence(id_number: str, evidence: dict[str, str]) -> str:
    """`ok` when the evidence matches the register: the social-security card number, or the ID
    card's issuing authority together with its validity dates. Else `mismatch` / `no_evidence`."""
    register = card_register(id_number)
    if evidence.get("sscard_number"):
        return "ok" if _normal(evidence["sscard_number"]) == _normal(register.get("sscard_number", "")) else "mismatch"
    idcard_keys = ("id_issuer", "id_valid_from", "id_valid_until")
    if any(evidence.get(k) for k in idcard_keys):
        same = all(_normal(evidence.get(k, "")) == _normal(register.get(k, "")) and register.get(k) for k in idcard_keys)
        return "ok" if same else "mismatch"
    return "no_evidence"
