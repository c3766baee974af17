"""Signage (issue 19): config [signage] is validated with one clear error per broken value; the
home screen shows the service point's name, the CHS logo, the slogan, the public phone and the
policy-publicity QR; the hall's lobby page shows the policy QR and the phone."""
from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from kiosk.errors import ConfigError
from test_hall_support import clock, hall  # noqa: F401  (fixtures)

PROJECT = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(("text", "key", "expected"), [
    ('[signage]\nphone = "call us"', "signage.phone", "digits and dashes"),
    ('[signage]\nphone = 12393', "signage.phone", "a string"),
    ('[signage]\nlogo = "assets/no_such_logo.png"', "signage.logo", "PNG or SVG"),
    ('[signage]\nlogo = "config.toml"', "signage.logo", "PNG or SVG"),
    ('[signage]\npolicy_qr_url = "www.nhsa.gov.cn"', "signage.policy_qr_url", "http"),
    ('[signage.qr]\npay_wechat = "weixin://pay"', "signage.qr.pay_wechat", "http"),
    ('[signage.qr]\n"Pay Now" = "https://example.org/"', "signage.qr.Pay Now", "lowercase"),
    ('[signage]\ncontribution_year = 27', "signage.contribution_year", "a year"),
    ('[signage]\ncontribution_yuan = -5', "signage.contribution_yuan", "between 0 and 100000"),
    ('[signage]\nslogan = "' + "医" * 41 + '"', "signage.slogan", "at most 40"),
    ('[signage]\ncolour = "red"', "signage.colour", "unknown key"),
])
def test_a_broken_signage_value_is_one_clear_error(tmp_path: Path, text: str, key: str, expected: str) -> None:
    from kiosk.config import load_config

    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, text), environ={"KIOSK_DATA_DIR": str(tmp_path / "data")})
    assert caught.value.key == key and expected in caught.value.expected


def test_shipped_guides_name_only_qr_codes_the_config_has() -> None:
    from kiosk.config import load_config
    from kiosk.services.forms import load_forms

    config = load_config(PROJECT / "config.toml", environ={})
    keys = {ref.key for form in load_forms(PROJECT / "forms").forms if form.guide for ref in form.guide.qr}
    assert keys and keys <= set(config.signage.qr)
    assert config.resolve(config.signage.logo).is_file()


def test_home_shows_the_signage_from_config(qtbot) -> None:
    from kiosk.services.forms import Text, load_forms
    from kiosk.services.signage import Signage
    from kiosk.ui.main_window import MainWindow

    w = MainWindow(load_forms(PROJECT / "forms").forms, 96, "Noto Sans CJK SC")
    qtbot.addWidget(w)
    w.set_signage(Signage(name="城东街道医保服务点", slogan=Text("医保为民", "Insurance for all"), phone="0513-12393",
                          policy_qr_url="https://example.org/policy"))
    home = w.home
    assert home.point_name.text() == "城东街道医保服务点" and home.slogan.text() == "医保为民"
    assert "0513-12393" in home.phone.text() and not home.logo.pixmap().isNull()
    qtbot.waitUntil(lambda: not home.policy_qr.pixmap().isNull())  # made off the GUI thread (issue 20)
    assert home.policy_caption.text() == "扫码看医保政策"


def test_the_lobby_shows_the_policy_qr_and_the_phone(hall) -> None:  # noqa: F811
    page = httpx.get(f"{hall.url}/lobby").text
    assert 'id="policy-qr" src="data:image/png;base64,' in page and "咨询投诉电话 12393" in page


def test_kiosk_ticket_prints_the_guide_checklist_and_signage(tmp_path: Path) -> None:
    import os
    import subprocess

    from drivers.printer.simulator import parse_escpos, split_tickets
    from kiosk.services.forms import load_forms

    out = tmp_path / "t.bin"
    done = subprocess.run([str(PROJECT / ".venv/bin/python"), "-m", "kiosk", "ticket", "--service", "special_drug", "--out", str(out)],
                          cwd=PROJECT, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")})
    assert done.returncode == 0, done.stderr
    (ticket,) = split_tickets(parse_escpos(out.read_bytes()))
    materials = [m.zh_CN for m in load_forms(PROJECT / "forms").by_code("special_drug").guide.materials]
    at = ticket.lines.index("请带齐以下材料：")
    printed = "".join(ticket.lines[at + 1:at + 1 + 2 * len(materials)]).replace(" ", "")
    assert all(m.replace(" ", "") in printed for m in materials)
    assert ticket.lines[-1] == "咨询投诉电话：12393"
