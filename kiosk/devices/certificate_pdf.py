"""The 参保证明 as an A4 PDF, drawn with Qt's PDF writer (QtGui only; runs on the printer lane).

The content (rows, wording) is `kiosk.services.certificate`'s; this module only draws it. The
PDF writer embeds the Chinese font.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from kiosk.services.certificate import CertificateContent


def render_certificate(path: Path, content: CertificateContent, font_family: str = "Noto Sans CJK SC") -> Path:
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
        painter.drawText(QRectF(0, 0, width, 18 * mm), Qt.AlignmentFlag.AlignCenter, content.title)
        painter.setFont(font(11))
        y = 28 * mm
        painter.drawText(QRectF(0, y, width, 10 * mm), Qt.AlignmentFlag.AlignLeft, content.intro)
        y += 14 * mm
        painter.setPen(QPen(Qt.GlobalColor.black, 0.3 * mm))
        row_h = 12 * mm
        for caption, value in content.rows:
            painter.drawRect(QRectF(0, y, width * 0.35, row_h))
            painter.drawRect(QRectF(width * 0.35, y, width * 0.65, row_h))
            painter.drawText(QRectF(3 * mm, y, width * 0.35 - 6 * mm, row_h), Qt.AlignmentFlag.AlignVCenter, caption)
            painter.drawText(QRectF(width * 0.35 + 3 * mm, y, width * 0.65 - 6 * mm, row_h), Qt.AlignmentFlag.AlignVCenter, value)
            y += row_h
        y += 12 * mm
        painter.drawText(QRectF(0, y, width, 10 * mm), Qt.AlignmentFlag.AlignLeft, content.validity)
        y += 20 * mm
        painter.drawText(QRectF(0, y, width, 10 * mm), Qt.AlignmentFlag.AlignRight, content.issuer)
        painter.drawText(QRectF(0, y + 10 * mm, width, 10 * mm), Qt.AlignmentFlag.AlignRight, content.date)
    finally:
        painter.end()
    return path
