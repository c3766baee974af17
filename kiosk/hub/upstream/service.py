"""What the hub asks the platform for, in the hub's own terms: a resident's insurance record
(参保信息查询, 参保证明), their filed chronic/special diseases, and an e-voucher's holder.

Card-read evidence: a social-security card number is checked by the platform itself (1101 with
`mdtrt_cert_type = 03`, the card number and the ID number: a refusal or another person's record
means the card does not open this record). An ID card's issuing authority and validity dates are
not part of any platform transaction; they are checked against `idcard_register` (a callable
ID number → the card facts on file) when the hub has one. The name read from the card (`id_name`)
is checked against 1101's `psn_name` always, so without a register an ID card still proves more
than a bare ID number. A voucher grant (`kiosk.hub.grants`, screened to "ok"/"bad" by the hub
before this module sees it) proves the holder's e-voucher was scanned at this kiosk.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable

from kiosk.hub.upstream import codes
from kiosk.hub.upstream.client import PlatformClient
from kiosk.hub.upstream.errors import UpstreamError
from kiosk.hub.upstream.transactions import (CERT_ID_CARD, CERT_SS_CARD, CERT_VOUCHER, CHRONIC_FILINGS, PERSON_INFO,
                                             FiledDisease, Insurance, PersonInfo, chronic_filings_input,
                                             parse_chronic_filings, parse_person_info, person_info_input)
from kiosk.hub.upstream.envelope import MalformedReply

IDCARD_KEYS = ("id_issuer", "id_valid_from", "id_valid_until")
_STATUS_ORDER = {"1": 0, "2": 1}  # the record shows the active insurance first, then a paused one


def _normal(value: str) -> str:
    return "".join(value.split()).replace("-", "").replace(".", "").upper()


@dataclass
class Lookup:
    verdict: str  # ok | mismatch | no_evidence (what the lookup audit records)
    record: dict[str, Any] | None = None


class PlatformService:
    def __init__(self, client: PlatformClient, idcard_register: Callable[[str], dict[str, str]] | None = None,
                 today: Callable[[], dt.date] = dt.date.today) -> None:
        self.client = client
        self.idcard_register = idcard_register
        self.today = today

    def close(self) -> None:
        self.client.close()

    # -- evidence -------------------------------------------------------------------------------
    def idcard_verdict(self, id_number: str, evidence: dict[str, str]) -> str:
        if not any(evidence.get(k) for k in IDCARD_KEYS) or self.idcard_register is None:
            return "ok" if evidence.get("id_name") else "no_evidence"  # the name is checked against 1101
        register = self.idcard_register(id_number)
        same = all(register.get(k) and _normal(evidence.get(k, "")) == _normal(register[k]) for k in IDCARD_KEYS)
        return "ok" if same else "mismatch"

    # -- 1101 / 5301 ------------------------------------------------------------------------------
    def person_info(self, cert_type: str, cert_no: str, certno: str, psn_name: str = "", insuplc_admdvs: str = "",
                    refusal: str = "person_not_found") -> PersonInfo:
        reply = self.client.call(PERSON_INFO, person_info_input(cert_type, cert_no, certno, psn_name=psn_name),
                                 refusal=refusal, who=certno, insuplc_admdvs=insuplc_admdvs)
        try:
            return parse_person_info(reply.output)
        except MalformedReply as exc:
            raise UpstreamError("upstream_bad_reply", str(exc)) from None

    def filed_diseases(self, psn_no: str, who: str = "", insuplc_admdvs: str = "") -> tuple[FiledDisease, ...]:
        reply = self.client.call(CHRONIC_FILINGS, chronic_filings_input(psn_no), refusal="person_not_found", who=who,
                                 insuplc_admdvs=insuplc_admdvs)
        try:
            return parse_chronic_filings(reply.output)
        except MalformedReply as exc:
            raise UpstreamError("upstream_bad_reply", str(exc)) from None

    def lookup(self, id_number: str, evidence: dict[str, str], require_evidence: bool, diseases: bool = False) -> Lookup:
        """The record for 参保信息查询 with the evidence verdict. `UpstreamError` when the platform
        fails (the caller audits `exc.code`)."""
        if evidence.get("sscard_number"):
            try:
                info = self.person_info(CERT_SS_CARD, evidence["sscard_number"], id_number, refusal="card_refused")
            except UpstreamError as exc:
                if exc.code == "card_refused":
                    return Lookup("mismatch")
                raise
            if info.certno.upper() != id_number.upper():
                return Lookup("mismatch")
            return Lookup("ok", self._record(info, diseases))
        if evidence.get("voucher_grant"):
            verdict = "ok" if evidence["voucher_grant"] == "ok" else "mismatch"
        else:
            verdict = self.idcard_verdict(id_number, evidence)
        if verdict == "mismatch" or (verdict == "no_evidence" and require_evidence):
            return Lookup(verdict)
        info = self.person_info(CERT_ID_CARD, id_number, id_number)
        if info.certno.upper() != id_number.upper():
            raise UpstreamError("upstream_bad_reply", "1101 answered for another person")
        if evidence.get("id_name") and not evidence.get("voucher_grant") and _normal(evidence["id_name"]) != _normal(info.psn_name):
            return Lookup("mismatch")
        return Lookup(verdict, self._record(info, diseases))

    def resolve_voucher(self, qr_code: str) -> dict[str, Any]:
        holder = self.client.decode_voucher(qr_code)
        info = self.person_info(CERT_VOUCHER, holder.ec_token, holder.id_number, holder.name, holder.insu_org)
        if info.certno.upper() != holder.id_number.upper():
            raise UpstreamError("upstream_bad_reply", "1101 answered for another person than the voucher's")
        return {"name": info.psn_name or holder.name, "id_number": info.certno, "sex": codes.name("gend", info.gend),
                "birth_date": info.brdy.isoformat() if info.brdy else None, "voucher_status": "已激活",
                "demo": self.client.simulated}

    # -- the record the kiosk shows -----------------------------------------------------------------
    def _record(self, info: PersonInfo, diseases: bool) -> dict[str, Any]:
        record = record_from_person_info(info, self.today(), self.client.simulated)
        if diseases:
            try:
                record["filed_diseases"] = [
                    {"code": d.code, "name": d.name, "begin": d.begndate.isoformat() if d.begndate else None,
                     "end": d.enddate.isoformat() if d.enddate else None}
                    for d in self.filed_diseases(info.psn_no, info.certno, record["region_code"])]
            except UpstreamError as exc:  # the record stands; the kiosk learns the list is missing
                record["filed_diseases_error"] = exc.code
        return record


def _paid_until(insurance: Insurance, today: dt.date) -> str:
    """1101 carries no paid-until date. An active insurance is taken as paid for the current year
    (城乡居民 contributions are annual); a paused or ended one up to the day before it paused."""
    if insurance.psn_insu_stas == "1":
        return f"{today.year}-12-31"
    if insurance.paus_insu_date:
        return (insurance.paus_insu_date - dt.timedelta(days=1)).isoformat()
    return ""


def record_from_person_info(info: PersonInfo, today: dt.date, simulated: bool) -> dict[str, Any]:
    """The hub's record JSON (the keys the kiosk has always read, plus `insurances`): names from
    the code table, never raw codes, for anything a resident reads."""
    ordered = sorted(info.insurances, key=lambda i: _STATUS_ORDER.get(i.psn_insu_stas, 9))
    main = ordered[0] if ordered else None
    region_code = (main.insuplc_admdvs if main and main.insuplc_admdvs else info.certno[:6])
    return {
        "id_number": info.certno,
        "enrolled": bool(main and main.psn_insu_stas in codes.ENROLLED_STATES),
        "status": codes.name("psn_insu_stas", main.psn_insu_stas) if main else codes.PSN_INSU_STAS["0"],
        "insurance_type": codes.insutype_short(main.insutype) if main else "",
        "scheme": codes.name("insutype", main.insutype) if main else "",
        "region": codes.region_name(region_code),
        "region_code": region_code,
        "paid_until": _paid_until(main, today) if main else "",
        "demo": simulated,
        "insurances": [{
            "insutype": i.insutype, "insutype_name": codes.name("insutype", i.insutype),
            "psn_type": i.psn_type, "psn_type_name": codes.name("psn_type", i.psn_type),
            "status": i.psn_insu_stas, "status_name": codes.name("psn_insu_stas", i.psn_insu_stas),
            "since": i.psn_insu_date.isoformat() if i.psn_insu_date else None,
            "paused_since": i.paus_insu_date.isoformat() if i.paus_insu_date else None,
            "region": codes.region_name(i.insuplc_admdvs or region_code), "region_code": i.insuplc_admdvs or region_code,
        } for i in ordered],
    }
