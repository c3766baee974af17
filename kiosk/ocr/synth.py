"""Synthetic medical receipts with ground truth, for tests, the benchmark and the demo camera.

`make_receipt(seed)` draws one receipt (layout, province, items, payments all picked by the seed)
and returns the image (BGR numpy array, as a camera delivers) with the exact field values. The
image is degraded the way real ones are: a red stamp over text, rotation, a phone photo's
perspective and shadow, noise, blur and JPEG artefacts. Same seed → same image and truth.
"""
from __future__ import annotations

import datetime as _dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kiosk.ocr.amount_words import to_words

FONT_DIR = Path("/usr/share/fonts/opentype/noto")
_SC = 2  # index of Simplified Chinese in the Noto CJK collections
LAYOUTS = ("outpatient_electronic", "inpatient_electronic", "outpatient_paper")
STYLES = ("scan", "photo", "tilt")
PROVINCES = {"江苏省": ("南京市", "苏州市", "无锡市"), "浙江省": ("杭州市", "宁波市", "温州市"),
             "安徽省": ("合肥市", "芜湖市"), "山东省": ("济南市", "青岛市"), "河南省": ("郑州市", "洛阳市")}
_PROVINCE_CODE = {"江苏省": "32", "浙江省": "33", "安徽省": "34", "山东省": "37", "河南省": "41"}
_HOSPITALS = ("第一人民医院", "中医院", "妇幼保健院", "人民医院", "第二人民医院")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉兰建国志红"
_OUT_ITEMS = ("西药费", "中成药费", "中草药费", "检查费", "化验费", "治疗费", "诊察费", "卫生材料费", "挂号费")
_IN_ITEMS = ("床位费", "护理费", "西药费", "检查费", "化验费", "治疗费", "手术费", "卫生材料费", "诊察费")
_INSURANCE = ("职工基本医疗保险", "城乡居民基本医疗保险")
_HEX = "0123456789abcdef"
REFERENCE_DATE = _dt.date(2025, 6, 30)  # receipts are dated up to two years before this


@dataclass
class SyntheticReceipt:
    seed: int
    layout: str
    style: str
    image: np.ndarray  # BGR
    fields: dict[str, str | None]
    items: list[dict] = field(default_factory=list)

    def truth(self) -> dict:
        return {"fields": dict(self.fields), "items": [dict(i) for i in self.items]}


@lru_cache(maxsize=16)
def _font(size: int, bold: bool = False, serif: bool = False) -> ImageFont.FreeTypeFont:
    name = "NotoSerifCJK" if serif else "NotoSansCJK"
    return ImageFont.truetype(str(FONT_DIR / f"{name}-{'Bold' if bold else 'Regular'}.ttc"), size, index=_SC)


def _money(rng: random.Random, low: float, high: float) -> Decimal:
    return Decimal(rng.randint(int(low * 100), int(high * 100))) / 100


def make_fields(rng: random.Random, layout: str) -> tuple[dict, list[dict], dict]:
    province = rng.choice(sorted(PROVINCES))
    city = rng.choice(PROVINCES[province])
    names = _IN_ITEMS if layout == "inpatient_electronic" else _OUT_ITEMS
    count = rng.randint(3, 6) if layout == "inpatient_electronic" else rng.randint(2, 5)
    items: list[dict[str, Any]] = [{"name": n, "amount": _money(rng, 3, 1800 if layout == "inpatient_electronic" else 400)}
             for n in rng.sample(names, count)]
    total = sum((i["amount"] for i in items), Decimal("0.00"))
    fund = (total * Decimal(rng.choice(("0.5", "0.6", "0.7", "0.75")))).quantize(Decimal("0.01"))
    account = min(total - fund, _money(rng, 0, 200)) if rng.random() < 0.7 else Decimal("0.00")
    cash = total - fund - account
    date = REFERENCE_DATE - _dt.timedelta(days=rng.randint(1, 700))
    fields = {
        "bill_code": _PROVINCE_CODE[province] + f"{rng.randint(0, 999999):06d}",
        "bill_number": f"{rng.randint(0, 9_999_999_999):010d}",
        "check_code": None if layout == "outpatient_paper" else "".join(rng.choice(_HEX) for _ in range(6)),
        "issue_date": date.isoformat(),
        "payer": rng.choice(_SURNAMES) + "".join(rng.sample(_GIVEN, rng.randint(1, 2))),
        "hospital": city + rng.choice(_HOSPITALS),
        "insurance": rng.choice(_INSURANCE),
        "total": f"{total:.2f}",
        "total_in_words": to_words(total),
        "fund_paid": f"{fund:.2f}",
        "personal_account_paid": f"{account:.2f}",
        "personal_cash_paid": f"{cash:.2f}",
    }
    extra = {"province": province, "date": date, "cashier": rng.choice(_SURNAMES) + rng.choice(_GIVEN),
             "reviewer": rng.choice(_SURNAMES) + rng.choice(_GIVEN), "serial": f"{rng.randint(0, 10**12):012d}",
             "visit": f"{rng.randint(0, 10**8):08d}", "stay_days": rng.randint(3, 15)}
    return fields, [{"name": i["name"], "amount": f"{i['amount']:.2f}"} for i in items], extra


class _Page:
    """A white page with PIL text drawing; remembers where the stamp should go."""

    W, H = 1500, 980

    def __init__(self, rng: random.Random) -> None:
        self.img = Image.new("RGB", (self.W, self.H), (252, 252, 250))
        self.draw = ImageDraw.Draw(self.img)
        self.rng = rng
        self.serif_values = rng.random() < 0.4
        self.stamp_at = (1000, 860)

    def text(self, x: int, y: int, label: str, value: str = "", size: int = 28) -> None:
        ink = (25, 25, 30)
        self.draw.text((x, y), label, font=_font(size), fill=ink)
        if value:
            lx = x + self.draw.textlength(label, font=_font(size))
            self.draw.text((lx + 4, y), value, font=_font(size, serif=self.serif_values), fill=ink)

    def center(self, y: int, text: str, size: int) -> None:
        width = self.draw.textlength(text, font=_font(size, bold=True))
        self.draw.text(((self.W - width) / 2, y), text, font=_font(size, bold=True), fill=(20, 20, 20))

    def hline(self, y: int, x0: int = 50, x1: int | None = None) -> None:
        self.draw.line((x0, y, x1 or self.W - 50, y), fill=(90, 90, 90), width=2)

    def right(self, x_right: int, y: int, text: str, size: int = 28) -> None:
        width = self.draw.textlength(text, font=_font(size, serif=self.serif_values))
        self.draw.text((x_right - width, y), text, font=_font(size, serif=self.serif_values), fill=(25, 25, 30))


def _draw_electronic(page: _Page, f: dict, items: list[dict], extra: dict, inpatient: bool) -> None:
    kind = "住院" if inpatient else "门诊"
    page.center(40, f"{extra['province']}医疗{kind}收费票据(电子)", 44)
    page.draw.rectangle((40, 120, page.W - 40, page.H - 40), outline=(120, 60, 60), width=3)
    page.text(70, 140, "票据代码：", f["bill_code"])
    page.text(540, 140, "交款人统一社会信用代码：")
    page.text(1050, 140, "票据号码：", f["bill_number"])
    page.text(70, 190, "交款人：", f["payer"])
    page.text(540, 190, "校验码：", f["check_code"])
    page.text(1050, 190, "开票日期：", f["issue_date"])
    y = 240
    if inpatient:
        start = extra["date"] - _dt.timedelta(days=extra["stay_days"] + 1)
        end = extra["date"] - _dt.timedelta(days=1)
        page.text(70, y, "住院号：", extra["visit"])
        page.text(540, y, "住院时间：", f"{start:%Y%m%d}-{end:%Y%m%d}")
        y += 50
    page.hline(y)
    page.text(90, y + 10, "项目名称")
    if inpatient:
        page.text(420, y + 10, "数量")
    page.text(620, y + 10, "金额(元)")
    page.text(900, y + 10, "备注")
    page.hline(y + 55)
    y += 70
    for item in items:
        page.text(90, y, item["name"])
        if inpatient:
            page.right(470, y, str(page.rng.randint(1, 12)))
        page.right(760, y, item["amount"])
        y += 44
    y = max(y, 600 if inpatient else 560)
    page.hline(y)
    page.text(70, y + 12, "合计(大写)：", f["total_in_words"])
    page.text(1050, y + 12, "(小写)：", f["total"])
    page.hline(y + 60)
    y += 75
    if inpatient:
        page.text(70, y, "预缴金额：", f"{Decimal(f['total']) + 500:.2f}")
        page.text(540, y, "补缴金额：", "0.00")
        page.text(1050, y, "退费金额：", "500.00")
        y += 46
    else:
        page.text(70, y, "业务流水号：", extra["serial"])
        page.text(540, y, "门诊号：", extra["visit"])
        page.text(1050, y, "就诊日期：", extra["date"].strftime("%Y%m%d"))
        y += 46
    page.text(70, y, "医疗机构类型：", "综合医院")
    page.text(540, y, "医保类型：", f["insurance"])
    page.text(1050, y, "医保编号：", extra["serial"][:10])
    y += 46
    page.text(70, y, "医保统筹基金支付：", f["fund_paid"])
    page.text(540, y, "其他支付：", "0.00")
    page.text(1050, y, "个人账户支付：", f["personal_account_paid"])
    y += 46
    page.text(70, y, "个人现金支付：", f["personal_cash_paid"])
    y = page.H - 95
    page.text(70, y, "收款单位(章)：", f["hospital"])
    page.text(760, y, "复核人：", extra["reviewer"])
    page.text(1050, y, "收款人：", extra["cashier"])
    page.stamp_at = (330, y - 40)


def _draw_paper(page: _Page, f: dict, items: list[dict], extra: dict) -> None:
    page.center(40, f"{extra['province']}医疗门诊收费票据", 44)
    d = extra["date"]
    page.text(70, 125, "票据代码：", f["bill_code"])
    page.text(1000, 125, "票据号码：", f["bill_number"])
    page.draw.rectangle((40, 175, page.W - 40, page.H - 90), outline=(60, 60, 120), width=3)
    page.text(70, 195, "姓名：", f["payer"])
    page.text(420, 195, "性别：", page.rng.choice("男女"))
    page.text(620, 195, "科室：", page.rng.choice(("内科", "外科", "儿科", "中医科")))
    page.text(1000, 195, "日期：", f"{d.year}年{d.month:02d}月{d.day:02d}日")
    page.text(70, 245, "医保类型：", f["insurance"])
    page.text(620, 245, "社会保障号码：", extra["serial"][:9] + "***")
    page.hline(295)
    page.text(110, 305, "项目")
    page.text(560, 305, "金额")
    page.text(860, 305, "备注")
    page.hline(350)
    y = 365
    for item in items:
        page.text(110, y, item["name"])
        page.right(660, y, item["amount"])
        y += 44
    y = max(y, 600)
    page.hline(y)
    page.text(70, y + 12, "金额合计(大写)：", f["total_in_words"])
    page.text(1000, y + 12, "(小写)：", "¥" + f["total"])
    page.hline(y + 60)
    y += 75
    page.text(70, y, "统筹支付：", f["fund_paid"])
    page.text(540, y, "个人账户：", f["personal_account_paid"])
    page.text(1000, y, "个人现金：", f["personal_cash_paid"])
    y = page.H - 75
    page.text(70, y, "医疗机构：", f["hospital"])
    page.text(1000, y, "收款员：", extra["cashier"])
    page.stamp_at = (300, y - 50)


def _stamp(page: _Page, text: str) -> None:
    """A red round 收费专用章 multiplied over the page (black ink under it stays black)."""
    rng = page.rng
    r = 120
    size = 2 * r + 20
    layer = Image.new("L", (size, size), 0)
    d = ImageDraw.Draw(layer)
    c = size // 2
    d.ellipse((c - r, c - r, c + r, c + r), outline=255, width=7)
    star = [(c + 34 * np.cos(np.pi / 2 + k * 4 * np.pi / 5), c - 34 * np.sin(np.pi / 2 + k * 4 * np.pi / 5)) for k in range(5)]
    d.polygon(star, fill=255)
    d.text((c, c + 62), "收费专用章", font=_font(24, bold=True), fill=255, anchor="mm")
    font = _font(26, bold=True)
    span = np.radians(220)
    for k, ch in enumerate(text):
        a = np.pi / 2 + span / 2 - span * (k + 0.5) / len(text)
        glyph = Image.new("L", (36, 36), 0)
        ImageDraw.Draw(glyph).text((18, 18), ch, font=font, fill=255, anchor="mm")
        glyph = glyph.rotate(np.degrees(a) - 90, resample=Image.Resampling.BICUBIC)
        gx, gy = c + (r - 32) * np.cos(a), c - (r - 32) * np.sin(a)
        layer.paste(255, (int(gx - 18), int(gy - 18)), glyph)
    layer = layer.rotate(rng.uniform(-25, 25), resample=Image.Resampling.BICUBIC)
    alpha = np.asarray(layer, dtype=np.float32)[..., None] / 255.0 * rng.uniform(0.75, 0.95)
    red = np.array([rng.randint(200, 235), rng.randint(20, 60), rng.randint(30, 70)], np.float32) / 255.0
    arr = np.asarray(page.img, dtype=np.float32)
    x0 = int(page.stamp_at[0] + rng.randint(-40, 40) - c)
    y0 = int(page.stamp_at[1] + rng.randint(-20, 20) - c)
    x0, y0 = max(0, min(page.W - size, x0)), max(0, min(page.H - size, y0))
    region = arr[y0:y0 + size, x0:x0 + size]
    arr[y0:y0 + size, x0:x0 + size] = region * (1 - alpha + alpha * red)
    page.img = Image.fromarray(arr.clip(0, 255).astype(np.uint8))


def _degrade(rgb: np.ndarray, style: str, rng: random.Random) -> np.ndarray:
    img = cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    h, w = img.shape[:2]
    nrng = np.random.default_rng(rng.randint(0, 2**31))
    if style == "scan":
        angle = rng.uniform(-2, 2)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        img = cv2.warpAffine(img, m, (w, h), borderValue=(250, 250, 250))
    elif style == "tilt":
        # a flatbed scan with the page laid in crooked: large rotation on a light bed
        angle = rng.choice((-1, 1)) * rng.uniform(8, 20)
        bw, bh = int(w * 1.25), int(h * 1.4)
        bed = np.full((bh, bw, 3), 236, np.uint8)
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[:, 2] += ((bw - w) / 2, (bh - h) / 2)
        img = cv2.warpAffine(img, m, (bw, bh), dst=bed, borderMode=cv2.BORDER_TRANSPARENT)
    else:  # photo: page on a desk, perspective, uneven light
        bw, bh = int(w * 1.2), int(h * 1.3)
        desk = np.zeros((bh, bw, 3), np.uint8)
        desk[:] = (rng.randint(40, 90), rng.randint(50, 100), rng.randint(60, 110))
        desk = (desk + nrng.normal(0, 6, desk.shape)).clip(0, 255).astype(np.uint8)

        def j(spread: float) -> float:
            return rng.uniform(-spread, spread)

        mx, my = (bw - w) / 2, (bh - h) / 2
        dst = np.array([[mx + j(60), my + j(50)], [mx + w + j(60), my + j(50)],
                          [mx + w + j(60), my + h + j(50)], [mx + j(60), my + h + j(50)]], dtype=np.float32)
        m = cv2.getPerspectiveTransform(np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32), dst)
        img = cv2.warpPerspective(img, m, (bw, bh), dst=desk, borderMode=cv2.BORDER_TRANSPARENT)
        yy, xx = np.mgrid[0:bh, 0:bw].astype(np.float32)
        ang = rng.uniform(0, 2 * np.pi)
        ramp = (np.cos(ang) * xx / bw + np.sin(ang) * yy / bh)
        ramp = (ramp - ramp.min()) / (ramp.max() - ramp.min())
        shade = 1.0 - rng.uniform(0.2, 0.4) * ramp
        img = (img.astype(np.float32) * shade[..., None]).clip(0, 255).astype(np.uint8)
        img = cv2.GaussianBlur(img, (3, 3), rng.uniform(0.4, 0.9))
    noise = nrng.normal(0, rng.uniform(3, 7), img.shape)
    img = (img.astype(np.float32) + noise).clip(0, 255).astype(np.uint8)
    quality = rng.randint(55, 85)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise ValueError("JPEG round trip failed")
    return decoded


def make_receipt(seed: int, layout: str | None = None, style: str | None = None) -> SyntheticReceipt:
    rng = random.Random(seed)
    layout = layout or LAYOUTS[seed % len(LAYOUTS)]
    style = style or STYLES[(seed // len(LAYOUTS)) % len(STYLES)]
    fields, items, extra = make_fields(rng, layout)
    page = _Page(rng)
    if layout == "outpatient_paper":
        _draw_paper(page, fields, items, extra)
    else:
        _draw_electronic(page, fields, items, extra, inpatient=layout == "inpatient_electronic")
    _stamp(page, fields["hospital"])
    image = _degrade(np.asarray(page.img), style, rng)
    return SyntheticReceipt(seed, layout, style, image, fields, items)


def receipt_set(count: int, first_seed: int = 1000) -> list[SyntheticReceipt]:
    """`count` receipts covering every layout × style combination in turn."""
    return [make_receipt(first_seed + k) for k in range(count)]


def write_samples(folder: Path, count: int = 4, first_seed: int = 2000, max_side: int = 1280) -> list[Path]:
    """Small JPEGs for the demo camera (assets/receipts)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for k in range(count):
        r = make_receipt(first_seed + k)
        scale = max_side / max(r.image.shape[:2])
        img = cv2.resize(r.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA) if scale < 1 else r.image
        path = folder / f"receipt_{k + 1:02d}_{r.layout}_{r.style}.jpg"
        cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, 82])
        paths.append(path)
    return paths
