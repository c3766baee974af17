"""参保证明 (insurance certificate) as an A4 PDF, drawn with Qt's PDF writer (QtGui only).

The PDF writer embeds the Chinese font. A certificate must identify the person, so it carries
the full ID number; the file lives in a private temp folder only until the printer has it.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from kiosk.services.identity import Person

ROWS = (
    ("姓名", "name"), ("公民身份号码", "id_number"), ("参保状态", "status"), ("险种", "insurance_type"),
    ("参保地", "region"), ("缴费至", "paid_until"), ("年度缴费（元）", "annual_contribution_yuan"),
)


def render_certificate(path: Path, person: Person, record: dict[str, Any], service_point: str,
                       font_family: str = "Noto Sans CJK SC", today: dt.date | None = None) -> Path:
    today = today or dt.date.today()
    writer = QPdfWriter(str(path))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A4))
    writer.setPageMargins(QMarginsF(20, 20, 20, 20), QPageLayout.Unit.Millimeter)
    writer.setResolution(300)
    writer.setTitle("参保证明")
    writer.setCreator("医保自助 Kiosk")
    painter = QPainter(writer)
    try:
        width = writer.width()
        mm = writer.resolution() / 25.4

        def font(points: float, bold: bool = False) -> QFont:
            f = QFont(font_family)
            f.setPointSizeF(points)
            f.setBold(bold)
            return f

        painter.setFont(font(22, True))
        painter.drawText(QRectF(0, 0, width, 18 * mm), Qt.AlignmentFlag.AlignCenter, "基本医疗保险参保证明")
        painter.setFont(font(11))
        y = 28 * mm
        intro = f"兹证明以下人员参加基本医疗保险，信息如下（数据截至 {today:%Y年%m月%d日}）："
        painter.drawText(QRectF(0, y, width, 10 * mm), Qt.AlignmentFlag.AlignLeft, intro)
        y += 14 * mm
        values = {"name": person.name, "id_number": person.id_number, **{k: str(v) for k, v in record.items()}}
        values["status"] = "正常参保" if record.get("enrolled") else "未参保"
        painter.setPen(QPen(Qt.GlobalColor.black, 0.3 * mm))
        row_h = 12 * mm
        for caption, key in ROWS:
            painter.drawRect(QRectF(0, y, width * 0.35, row_h))
            painter.drawRect(QRectF(width * 0.35, y, width * 0.65, row_h))
            painter.drawText(QRectF(3 * mm, y, width * 0.35 - 6 * mm, row_h), Qt.AlignmentFlag.AlignVCenter, caption)
            painter.drawText(QRectF(width * 0.35 + 3 * mm, y, width * 0.65 - 6 * mm, row_h), Qt.AlignmentFlag.AlignVCenter, values.get(key, "—"))
            y += row_h
        y += 12 * mm
        painter.drawText(QRectF(0, y, width, 10 * mm), Qt.AlignmentFlag.AlignLeft, "本证明仅用于证明参保状态，自打印之日起 30 日内有效。")
        y += 20 * mm
        painter.drawText(QRectF(0, y, width, 10 * mm), Qt.AlignmentFlag.AlignRight, f"{service_point}（自助打印）")
        painter.drawText(QRectF(0, y + 10 * mm, width, 10 * mm), Qt.AlignmentFlag.AlignRight, f"{today:%Y年%m月%d日}")
    finally:
        painter.end()
    return path
