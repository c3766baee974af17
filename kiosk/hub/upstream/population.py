"""Who the platform simulator knows: the residents on the simulator cards (fixed, so a card
read in the demo or a test opens a record), and anyone else with a valid ID number generated
from the ID number and the seed (so any test number works, and `--seed` changes the crowd).

Named residents cover the cases a kiosk must handle: several insurance types, a retiree, a
paused insurance with an expired social-security card, a terminated insurance, filed chronic
diseases, an HK/Macao/Taiwan resident, and foreign cards the platform has no record of.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field

from kiosk.hub import demo

_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞")
_DISEASES = (("M03900", "高血压病"), ("M03300", "糖尿病"), ("M01600", "慢性阻塞性肺疾病"), ("M07800", "冠心病"))


@dataclass(frozen=True, repr=False)
class Insured:
    insutype: str
    psn_type: str
    stas: str
    since: str
    paused: str = ""
    balc: str = "0.00"
    admdvs: str = ""
    emp_name: str = ""


@dataclass(frozen=True, repr=False)
class SimPerson:
    certno: str
    name: str
    gend: str
    naty: str
    brdy: str
    psn_no: str
    insured: tuple[Insured, ...]
    sscard_number: str = ""
    card_valid: bool = True
    diseases: tuple[tuple[str, str, str, str], ...] = field(default_factory=tuple)  # code, name, begin, end

    def __repr__(self) -> str:
        return "SimPerson(<personal data>)"


def _psn_no(certno: str) -> str:
    return certno[:6] + str(int(hashlib.sha256(("psn:" + certno).encode()).hexdigest(), 16))[:14]


def _named() -> dict[str, SimPerson]:
    people = [
        SimPerson("110105195003070019", "张三", "1", "01", "1950-03-07", _psn_no("110105195003070019"),
                  (Insured("390", "1403", "1", "2008-01-01", admdvs="110105"),),
                  diseases=(("M03900", "高血压病", "2019-04-01", ""),)),
        SimPerson("320682199506120038", "李明", "1", "01", "1995-06-12", _psn_no("320682199506120038"),
                  (Insured("310", "1101", "1", "2017-07-01", balc="3268.40", admdvs="320682", emp_name="如皋市惠民电子有限公司"),)),
        SimPerson("810000199408230013", "陈大文", "1", "01", "1994-08-23", _psn_no("810000199408230013"),
                  (Insured("390", "1402", "1", "2022-01-01", admdvs="440304"),)),
        SimPerson("110105195306150024", "张秀英", "2", "01", "1953-06-15", _psn_no("110105195306150024"),
                  (Insured("310", "1201", "1", "1975-09-01", balc="12840.25", admdvs="110105", emp_name="北京第二纺织厂"),),
                  sscard_number="A01234567",
                  diseases=(("M03300", "糖尿病", "2016-03-10", ""), ("M03900", "高血压病", "2018-11-02", ""))),
        SimPerson("110102195603080043", "王淑兰", "2", "01", "1956-03-08", _psn_no("110102195603080043"),
                  (Insured("390", "1403", "2", "2009-01-01", paused="2024-01-01", admdvs="110102"),),
                  sscard_number="B00987654", card_valid=False),
        SimPerson("650102195201011235", "李建国", "1", "01", "1952-01-01", _psn_no("650102195201011235"),
                  (Insured("390", "1403", "1", "2015-01-01", admdvs="650102"),
                   Insured("310", "1101", "4", "1980-03-01", paused="2012-01-01", admdvs="650102", emp_name="乌鲁木齐市机械厂")),
                  sscard_number="C12345678", diseases=(("M07800", "冠心病", "2020-06-18", "2025-06-17"),)),
        SimPerson("650104195807150013", "阿卜杜热合曼·买买提艾力·阿不都克热木", "1", "05", "1958-07-15",
                  _psn_no("650104195807150013"),
                  (Insured("390", "1403", "4", "2010-01-01", paused="2023-01-01", admdvs="650104"),), sscard_number="D23456789"),
    ]
    return {p.certno: p for p in people}


NAMED = _named()
NOT_INSURED = frozenset({"911100198001010014", "USA110080010101"})  # foreign cards: no insurance here


class Population:
    def __init__(self, seed: int = 0, today: dt.date | None = None) -> None:
        self.seed = seed
        self.today = today or dt.date.today()

    def find(self, certno: str) -> SimPerson | None:
        certno = (certno or "").strip().upper()
        if certno in NOT_INSURED:
            return None
        if certno in NAMED:
            return NAMED[certno]
        if not demo.id_number_valid(certno):
            return None
        return self._generated(certno)

    def find_card(self, card_number: str) -> SimPerson | None:
        for person in NAMED.values():
            if person.sscard_number and person.sscard_number == card_number:
                return person
        return None

    def _generated(self, certno: str) -> SimPerson:
        seed = hashlib.sha256(f"sim:{self.seed}:{certno}".encode()).digest()
        employee = seed[2] % 3 == 0
        stas = ("1", "1", "1", "1", "2", "4")[seed[3] % 6]
        paused = "" if stas == "1" else f"{self.today.year - seed[4] % 3}-01-01"
        try:
            brdy = dt.date(int(certno[6:10]), int(certno[10:12]), int(certno[12:14])).isoformat()
        except ValueError:
            brdy = ""
        insured = Insured("310" if employee else "390", "1101" if employee else "1402", stas,
                          f"{2000 + seed[5] % 20}-01-01", paused, f"{seed[6] * 37 % 9000}.{seed[7] % 100:02d}" if employee else "0.00",
                          certno[:6], "示范单位" if employee else "")
        diseases = (_DISEASES[seed[8] % len(_DISEASES)][0], _DISEASES[seed[8] % len(_DISEASES)][1],
                    f"{2015 + seed[9] % 8}-0{1 + seed[10] % 9}-01", "")
        return SimPerson(certno, _SURNAMES[seed[0] % len(_SURNAMES)] + _GIVEN[seed[1] % len(_GIVEN)],
                         "1" if int(certno[16]) % 2 else "2", "01", brdy, _psn_no(certno), (insured,),
                         sscard_number=demo.card_register(certno)["sscard_number"],
                         diseases=(diseases,) if seed[11] % 4 == 0 else ())
