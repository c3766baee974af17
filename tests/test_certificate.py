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


def test_the_kiosk_draws_it_in_a_child_process_with_the_data_on_stdin_only(tmp_path: Path, monkeypatch) -> None:
    """The font's first embedding held the GIL ~190 ms: the kiosk's certificate is drawn apart.
    The person's name and ID number reach the child through its stdin, never its command line."""
    import subprocess

    from kiosk.devices import certificate_pdf

    commands: list[list[str]] = []
    real_run = subprocess.run

    def spying_run(command, **kwargs):
        commands.append(command)
        return real_run(command, **kwargs)

    monkeypatch.setattr(certificate_pdf.subprocess, "run", spying_run)
    pdf = certificate_pdf.render_certificate_apart(tmp_path / "c.pdf", certificate_content(PERSON, RECORD, "示范镇医保服务站"))
    assert pdf.read_bytes().startswith(b"%PDF") and len(pdf.read_bytes()) > 2000
    assert commands and not any("张三" in part or PERSON.id_number in part for part in commands[0])


def test_a_child_that_fails_is_one_clear_error(tmp_path: Path) -> None:
    import pytest

    from kiosk.devices.certificate_pdf import CertificateRenderError, render_certificate_apart

    with pytest.raises(CertificateRenderError) as failed:  # a folder that is not there: the child cannot write
        render_certificate_apart(tmp_path / "missing" / "c.pdf", certificate_content(PERSON, RECORD, "站"))
    assert failed.value.code == "CERT_RENDER" and "窗口" in failed.value.message("zh")
