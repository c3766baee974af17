"""The 参保证明 as an A4 PDF, drawn with Qt's PDF writer (QtGui only).

The content (rows, wording) is `kiosk.services.certificate`'s; this module only draws it. The
PDF writer embeds the Chinese font.

The kiosk draws it in a child process (`render_certificate_apart`, `python -m
kiosk.devices.certificate_pdf OUT.pdf FONT` with the content as JSON on stdin, never in argv):
reading and subsetting the CJK font file for the PDF happens inside one Qt call that holds the
GIL — ~190 ms on a kiosk's first certificate, ~10 ms after — and the GUI thread waited for it
behind the printer lane (issue 20). The child costs ~0.5 s per certificate on an A4 print that
takes seconds; the GUI process no longer holds the font's data either.
"""
from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

from PySide6.QtCore import QMarginsF, QRectF, Qt
from PySide6.QtGui import QFont, QPageLayout, QPageSize, QPainter, QPdfWriter, QPen

from kiosk.config import PROJECT_ROOT
from kiosk.errors import UserFacingError
from kiosk.services.certificate import CertificateContent
from kiosk.services.child_python import child_env, module_command

RENDER_TIMEOUT_S = 60.0


class CertificateRenderError(UserFacingError):
    def __init__(self) -> None:
        super().__init__("CERT_RENDER", "参保证明生成失败，请重试或到窗口打印",
                         "The certificate could not be made; please try again or ask at a counter")


def render_certificate_apart(path: Path, content: CertificateContent, font_family: str = "Noto Sans CJK SC") -> Path:
    """`render_certificate` in a child process (see the module's note); `CertificateRenderError`
    when it fails. The person's data goes through the child's stdin only."""
    try:
        done = subprocess.run(module_command("kiosk.devices.certificate_pdf", str(path), font_family),
                              input=json.dumps(asdict(content)).encode(), capture_output=True,
                              env=child_env({"QT_QPA_PLATFORM": "offscreen"}), cwd=PROJECT_ROOT,
                              timeout=RENDER_TIMEOUT_S, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CertificateRenderError() from exc
    if done.returncode != 0 or not path.exists():
        last = done.stderr.decode(errors="replace").strip().splitlines()[-1:]  # the child never prints the content
        raise CertificateRenderError() from RuntimeError(f"exit {done.returncode}: {last[0] if last else ''}")
    return path


def content_from_json(text: str) -> CertificateContent:
    raw = json.loads(text)
    return CertificateContent(**{**raw, "rows": tuple((caption, value) for caption, value in raw["rows"])})


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


def main(argv: list[str]) -> int:
    """The child: OUT.pdf FONT, the content as JSON on stdin."""
    if len(argv) != 2:
        print("usage: python -m kiosk.devices.certificate_pdf OUT.pdf FONT < content.json", file=sys.stderr)
        return 2
    from PySide6.QtGui import QGuiApplication

    _app = QGuiApplication([sys.argv[0]])  # the PDF writer's fonts need one, alive while it draws
    try:
        content = content_from_json(sys.stdin.read())
    except (ValueError, KeyError, TypeError) as exc:
        print(f"certificate content unreadable: {type(exc).__name__}", file=sys.stderr)
        return 2
    render_certificate(Path(argv[0]), content, argv[1])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
