"""参保证明: the content is plain data from kiosk/services (no Qt); kiosk/devices draws the PDF."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from kiosk.services.certificate import certificate_content
from kiosk.services.identity import Person

PERSON = Person(name="张三", id_number="11010519491231002X", source="idcard")
RECORD = {"enrolled": True, "insurance_type": "城乡居民基本医疗保险", "region": "北京市东城区", "paid_until": "2026-12"}


def test_content_names_the_person_and_the_record() -> None:
    content = certificate_content(PERSON, RECORD, "示范镇医保服务站", today=dt.date(2026, 1, 5))
    rows = dict(content.rows)
    assert rows["姓名"] == "张三" and rows["公民身份号码"] == "11010519491231002X"
    assert rows["参保状态"] == "正常参保" and rows["险种"] == "城乡居民基本医疗保险"
    assert rows["年度缴费（元）"] == "—"  # not in the record: a dash, never "None"
    assert "2026年01月05日" in content.intro and content.issuer == "示范镇医保服务站（自助打印）"
    assert "张三" not in repr(content) and "1101" not in repr(content)
    assert dict(certificate_content(PERSON, {"enrolled": False}, "站").rows)["参保状态"] == "未参保"


def test_the_pdf_is_drawn(qapp, tmp_path: Path) -> None:
    from kiosk.devices.certificate_pdf import render_certificate

    pdf = render_certificate(tmp_path / "c.pdf", certificate_content(PERSON, RECORD, "示范镇医保服务站"))
    data = pdf.read_bytes()
    assert data.startswith(b"%PDF") and b"/Title" in data and len(data) > 2000
