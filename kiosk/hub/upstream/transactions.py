"""The transactions the kiosk needs, as pure functions: input builders and output parsers.

1101 人员信息获取 — input `data`: `mdtrt_cert_type` (3; 01 电子凭证令牌, 02 居民身份证,
03 社会保障卡), `mdtrt_cert_no` (50; the ecToken, the ID number or the card number),
`card_sn` (32; 卡识别码, social-security card only), `begntime` (19), `psn_cert_type` (6),
`certno` (50), `psn_name` (50). Output: `baseinfo` {psn_no, psn_cert_type, certno, psn_name,
gend, naty, brdy, age}, `insuinfo[]` {balc, insutype, psn_type, psn_insu_stas, psn_insu_date,
paus_insu_date, cvlserv_flag, insuplc_admdvs, emp_name}, `idetinfo[]`.

5301 人员慢特病备案查询 — input `data`: `psn_no` (30). Output `feedetail[]`:
{opsp_dise_code (30), opsp_dise_name (300), begndate, enddate}.

电子凭证 decode (`ec.query` of the 电子凭证 service, a separate endpoint from the envelope):
input {transType: "ec.query", orgId, data: {orgId, businessType, operatorId, operatorName,
officeId, officeName, ecQrCode}}; output {code (0 ok, -1 refused, other: failure), message, data: {idNo, idType, userName, ecToken,
insuOrg, ecIndexNo, …}}.

Parsers raise `MalformedReply` for anything they cannot trust; `repr` of the results never
shows personal data.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from kiosk.hub.upstream.envelope import MalformedReply

PERSON_INFO, CHRONIC_FILINGS = "1101", "5301"
# infno → (name, is a query). Only queries are retried: a retried write could be done twice.
TRANSACTIONS: dict[str, tuple[str, bool]] = {PERSON_INFO: ("人员信息获取", True), CHRONIC_FILINGS: ("人员慢特病备案查询", True)}
EC_QUERY = "ec.query"
EC_BUSINESS_TYPE = "01101"  # 用码业务类型: 挂号/身份核验 in the published table; the kiosk only identifies

CERT_VOUCHER, CERT_ID_CARD, CERT_SS_CARD = "01", "02", "03"
PSN_CERT_RESIDENT_ID = "01"

INPUT_1101_FIELDS = {"mdtrt_cert_type": 3, "mdtrt_cert_no": 50, "card_sn": 32, "begntime": 19,
                     "psn_cert_type": 6, "certno": 50, "psn_name": 50}
INPUT_5301_FIELDS = {"psn_no": 30}


def person_info_input(cert_type: str, cert_no: str, certno: str = "", card_sn: str = "", psn_name: str = "",
                      psn_cert_type: str = PSN_CERT_RESIDENT_ID) -> dict[str, Any]:
    if cert_type not in (CERT_VOUCHER, CERT_ID_CARD, CERT_SS_CARD):
        raise ValueError(f"mdtrt_cert_type {cert_type!r}: expected 01, 02 or 03")
    data = {"mdtrt_cert_type": cert_type, "mdtrt_cert_no": cert_no, "card_sn": card_sn, "begntime": "",
            "psn_cert_type": psn_cert_type if certno else "", "certno": certno, "psn_name": psn_name}
    for name, limit in INPUT_1101_FIELDS.items():
        if len(data[name]) > limit:
            raise ValueError(f"1101 {name}: at most {limit} characters")
    return {"data": data}


def chronic_filings_input(psn_no: str) -> dict[str, Any]:
    if not psn_no or len(psn_no) > 30:
        raise ValueError("5301 psn_no: 1 to 30 characters")
    return {"data": {"psn_no": psn_no}}


@dataclass(frozen=True, repr=False)
class Insurance:
    insutype: str
    psn_type: str
    psn_insu_stas: str
    psn_insu_date: dt.date | None
    paus_insu_date: dt.date | None
    balc: Decimal | None
    insuplc_admdvs: str
    emp_name: str

    def __repr__(self) -> str:
        return f"Insurance(insutype={self.insutype!r}, psn_insu_stas={self.psn_insu_stas!r})"


@dataclass(frozen=True, repr=False)
class PersonInfo:
    psn_no: str
    certno: str
    psn_name: str
    gend: str
    naty: str
    brdy: dt.date | None
    insurances: tuple[Insurance, ...] = field(default_factory=tuple)

    def __repr__(self) -> str:
        return f"PersonInfo(<{len(self.insurances)} insurances>)"


@dataclass(frozen=True, repr=False)
class FiledDisease:
    code: str
    name: str
    begndate: dt.date | None
    enddate: dt.date | None

    def __repr__(self) -> str:
        return "FiledDisease(<health data>)"


@dataclass(frozen=True, repr=False)
class VoucherHolder:
    id_number: str
    id_type: str
    name: str
    ec_token: str
    insu_org: str

    def __repr__(self) -> str:
        return "VoucherHolder(<personal data>)"


def _text(obj: dict[str, Any], name: str, required: bool = False, limit: int = 300) -> str:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            raise MalformedReply(f"{name} missing")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise MalformedReply(f"{name} is not text")
    text = str(value).strip()
    if len(text) > limit:
        raise MalformedReply(f"{name} too long")
    return text


def _date(obj: dict[str, Any], name: str) -> dt.date | None:
    text = _text(obj, name, limit=30)
    if not text:
        return None
    try:
        return dt.date.fromisoformat(text.replace(" ", "")[:10])
    except ValueError:
        raise MalformedReply(f"{name} is not a date") from None


def _decimal(obj: dict[str, Any], name: str) -> Decimal | None:
    value = obj.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise MalformedReply(f"{name} is not a number")
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise MalformedReply(f"{name} is not a number") from None
    if not number.is_finite():
        raise MalformedReply(f"{name} is not a number")
    return number


def parse_person_info(output: Any) -> PersonInfo:
    if not isinstance(output, dict) or not isinstance(output.get("baseinfo"), dict):
        raise MalformedReply("1101 output has no baseinfo")
    base = output["baseinfo"]
    raw_insu = output.get("insuinfo") or []
    if isinstance(raw_insu, dict):  # some provinces send a lone object instead of a list of one
        raw_insu = [raw_insu]
    if not isinstance(raw_insu, list) or not all(isinstance(i, dict) for i in raw_insu):
        raise MalformedReply("1101 insuinfo is not a list of objects")
    insurances = tuple(Insurance(
        insutype=_text(i, "insutype", True, 6), psn_type=_text(i, "psn_type", limit=6),
        psn_insu_stas=_text(i, "psn_insu_stas", True, 6), psn_insu_date=_date(i, "psn_insu_date"),
        paus_insu_date=_date(i, "paus_insu_date"), balc=_decimal(i, "balc"),
        insuplc_admdvs=_text(i, "insuplc_admdvs", limit=6), emp_name=_text(i, "emp_name", limit=200)) for i in raw_insu)
    return PersonInfo(psn_no=_text(base, "psn_no", True, 30), certno=_text(base, "certno", True, 50),
                      psn_name=_text(base, "psn_name", limit=50), gend=_text(base, "gend", limit=6),
                      naty=_text(base, "naty", limit=3), brdy=_date(base, "brdy"), insurances=insurances)


def parse_chronic_filings(output: Any) -> tuple[FiledDisease, ...]:
    if not isinstance(output, dict):
        raise MalformedReply("5301 output is not an object")
    rows = output.get("feedetail") or []
    if isinstance(rows, dict):
        rows = [rows]
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MalformedReply("5301 feedetail is not a list of objects")
    return tuple(FiledDisease(_text(r, "opsp_dise_code", True, 30), _text(r, "opsp_dise_name", True, 300),
                              _date(r, "begndate"), _date(r, "enddate")) for r in rows)


def ec_query_request(org_id: str, operator_id: str, operator_name: str, qr_code: str) -> dict[str, Any]:
    return {"transType": EC_QUERY, "orgId": org_id,
            "data": {"orgId": org_id, "businessType": EC_BUSINESS_TYPE, "operatorId": operator_id,
                     "operatorName": operator_name, "officeId": "", "officeName": "", "ecQrCode": qr_code}}


def parse_ec_query(body: Any) -> tuple[int, str, VoucherHolder | None]:
    """(code, message, holder): code 0 with the holder, else the service's refusal."""
    if not isinstance(body, dict):
        raise MalformedReply("ec.query reply is not an object")
    raw = body.get("code")
    try:
        code = int(str(raw))
    except ValueError:
        raise MalformedReply("ec.query code missing") from None
    message = _text(body, "message", limit=500)
    if code != 0:
        return code, message, None
    data = body.get("data")
    if not isinstance(data, dict):
        raise MalformedReply("ec.query data missing")
    return 0, message, VoucherHolder(_text(data, "idNo", True, 50), _text(data, "idType", limit=6),
                                     _text(data, "userName", limit=50), _text(data, "ecToken", True, 100),
                                     _text(data, "insuOrg", limit=6))
