"""参保证明 (insurance certificate): what it says, as plain data (no Qt here).

`certificate_content` decides the title, the rows and the closing lines from the person and
their record; `kiosk.devices.certificate_pdf.render_certificate` draws it as an A4 PDF. A
certificate must identify the person, so it carries the full ID number; the PDF lives in a
private temp folder only until the printer has it.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kiosk.services.identity import Person

ROWS = (
    ("姓名", "name"), ("公民身份号码", "id_number"), ("参保状态", "status"), ("险种", "insurance_type"),
    ("参保地", "region"), ("缴费至", "paid_until"), ("年度缴费（元）", "annual_contribution_yuan"),
)


@dataclass(frozen=True, repr=False)
class CertificateContent:
    title: str
    intro: str
    rows: tuple[tuple[str, str], ...]  # (caption, value)
    validity: str
    issuer: str
    date: str

    def __repr__(self) -> str:  # never the person's data in a log line
        return f"CertificateContent({len(self.rows)} rows)"


def certificate_content(person: Person, record: dict[str, Any], service_point: str,
                        today: dt.date | None = None) -> CertificateContent:
    today = today or dt.date.today()
    values = {"name": person.name, "id_number": person.id_number, **{k: str(v) for k, v in record.items()}}
    values["status"] = "正常参保" if record.get("enrolled") else "未参保"
    return CertificateContent(
        title="基本医疗保险参保证明",
        intro=f"兹证明以下人员参加基本医疗保险，信息如下（数据截至 {today:%Y年%m月%d日}）：",
        rows=tuple((caption, values.get(key, "—")) for caption, key in ROWS),
        validity="本证明仅用于证明参保状态，自打印之日起 30 日内有效。",
        issuer=f"{service_point}（自助打印）",
        date=f"{today:%Y年%m月%d日}",
    )
