"""What the service point shows and prints (config [signage]), as the UI and the ticket use it.

No Qt here: the home screen, the guide screen and the ticket read the same values.
"""
from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kiosk.services.forms import Text, fill_placeholders

PROJECT_ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass(frozen=True)
class Signage:
    name: str = "示范镇医保服务站"
    slogan: Text = Text("医保服务 贴心为民", "Medical insurance, close to you")
    phone: str = "12393"
    logo: Path | None = PROJECT_ROOT / "assets" / "chs_logo.png"
    policy_qr_url: str = "https://www.nhsa.gov.cn/"
    contribution_year: int = 2027
    contribution_yuan: int = 400
    qr: dict[str, str] = field(default_factory=lambda: {
        "voucher_app": "https://fuwu.nhsa.gov.cn/", "pay_wechat": "https://fuwu.nhsa.gov.cn/",
        "pay_alipay": "https://fuwu.nhsa.gov.cn/", "pay_app": "https://fuwu.nhsa.gov.cn/"})

    @classmethod
    def from_config(cls, config: Any) -> Signage:
        s = config.signage
        return cls(name=s.name or config.kiosk.service_point, slogan=Text(s.slogan, s.slogan_en), phone=s.phone,
                   logo=config.resolve(s.logo), policy_qr_url=s.policy_qr_url, contribution_year=s.contribution_year,
                   contribution_yuan=s.contribution_yuan, qr=dict(s.qr))

    def placeholders(self) -> dict[str, Any]:
        """The values a guide's text may name in braces (kiosk.services.forms.GUIDE_PLACEHOLDERS)."""
        return {"phone": self.phone, "service_point": self.name, "contribution_year": self.contribution_year,
                "contribution_yuan": self.contribution_yuan}

    def fill(self, text: str) -> str:
        return fill_placeholders(text, self.placeholders())

    def ticket_footer(self) -> tuple[str, ...]:
        """The ticket's signage lines: the slogan and the public consultation/complaint phone."""
        return tuple(line for line in (self.slogan.zh_CN, f"咨询投诉电话：{self.phone}") if line)


def ticket_checklist(form: Any, signage: Signage | None = None) -> tuple[str, ...]:
    """A service's 办事指南 materials as the ticket prints them (zh), placeholders filled: the
    resident goes to the counter with everything (no second trip)."""
    guide = getattr(form, "guide", None)
    if guide is None:
        return ()
    fill = (signage or Signage()).fill
    return tuple(fill(m.zh_CN) for m in guide.materials)


def qr_data_uri(payload: str) -> str:
    """A QR code as a data: URI for a web page (the hall's lobby; its CSP allows data: images)."""
    import base64

    return "data:image/png;base64," + base64.b64encode(qr_png(payload)).decode("ascii")


def qr_png(payload: str, box_px: int = 8, border: int = 2) -> bytes:
    """A QR code as PNG bytes (pure computation: safe on the GUI thread for a short URL)."""
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_px, border=border)
    code.add_data(payload)
    code.make(fit=True)
    buffer = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buffer, format="PNG")
    return buffer.getvalue()
