"""ESC/POS bytes → a PNG ticket preview (tests, the demo, the technician screen).

Paper is `width_chars` × 12 dots wide (203 dpi thermal head: 32 chars = 384 dots = 58 mm),
drawn at `scale` pixels per dot. Hanzi use Noto Sans CJK; without it PIL's default font is
used (Chinese then shows as boxes, but the preview still renders).
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

from drivers.printer.simulator import Cut, Feed, QrCode, TextLine, parse_escpos

FONT_CANDIDATES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)
FONT_BOLD_CANDIDATES = ("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc",) + FONT_CANDIDATES
DOTS_PER_CHAR = 12
LINE_DOTS = 30  # 24-dot glyph + default line spacing
MARGIN_DOTS = 12
SC_INDEX = 2  # in the Noto CJK collection: JP, KR, SC, TC, HK — take Simplified Chinese


@dataclass(frozen=True)
class _Gap:
    """Blank paper: a feed, or a cut (drawn as a dashed line across its middle)."""

    height: int
    cut: bool = False


Block = TextLine | Image.Image | _Gap


@functools.lru_cache(maxsize=32)
def _font(px: int, bold: bool) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for path in FONT_BOLD_CANDIDATES if bold else FONT_CANDIDATES:
        if Path(path).exists():
            try:
                return ImageFont.truetype(path, px, index=SC_INDEX if path.endswith(".ttc") and "Noto" in path else 0)
            except OSError:
                continue
    try:
        return ImageFont.load_default(size=px)
    except TypeError:  # Pillow < 10.1
        return ImageFont.load_default()


def render_preview(stream: bytes, width_chars: int = 32, scale: int = 2) -> Image.Image:
    """The whole stream as one white strip of paper; cuts drawn as dashed lines."""
    width = (width_chars * DOTS_PER_CHAR + 2 * MARGIN_DOTS) * scale
    margin = MARGIN_DOTS * scale
    blocks: list[Block] = []
    for element in parse_escpos(stream):
        if isinstance(element, TextLine):
            blocks.append(element)
        elif isinstance(element, QrCode):
            blocks.append(_qr_image(element, scale))
        elif isinstance(element, Feed):
            blocks.append(_Gap(element.lines * LINE_DOTS * scale))
        elif isinstance(element, Cut):
            blocks.append(_Gap(16 * scale, cut=True))
    height = margin + sum(_block_height(block, scale) for block in blocks)
    image = Image.new("L", (width, height + margin), 255)
    draw = ImageDraw.Draw(image)
    y = margin
    for block in blocks:
        h = _block_height(block, scale)
        if isinstance(block, TextLine):
            _draw_text(image, block, y, width, margin, scale)
        elif isinstance(block, Image.Image):
            image.paste(block, (_aligned_x(block.width, width, margin, "center"), y))
        elif block.cut:
            mid = y + h // 2
            for x in range(0, width, 12 * scale):
                draw.line([(x, mid), (x + 6 * scale, mid)], fill=0, width=max(1, scale))
        y += h
    return image.convert("RGB")


def save_preview(stream: bytes, path: str | Path, width_chars: int = 32, scale: int = 2) -> Path:
    path = Path(path)
    render_preview(stream, width_chars, scale).save(path, format="PNG")
    return path


def _block_height(block: Block, scale: int) -> int:
    if isinstance(block, TextLine):
        return LINE_DOTS * block.height * scale
    if isinstance(block, Image.Image):
        return block.height + 8 * scale
    return block.height


def _draw_text(image: Image.Image, line: TextLine, y: int, width: int, margin: int, scale: int) -> None:
    if not line.text:
        return
    font = _font(24 * scale * line.width, line.bold)
    left, top, right, bottom = font.getbbox(line.text)
    strip = Image.new("L", (max(1, int(right)), 24 * scale * line.width + 8 * scale), 255)
    ImageDraw.Draw(strip).text((0, 0), line.text, font=font, fill=0)
    if line.height != line.width:  # e.g. double height only: stretch like the print head does
        strip = strip.resize((strip.width, strip.height * line.height // line.width))
    x = _aligned_x(strip.width, width, margin, line.align)
    image.paste(strip, (x, y + 2 * scale), ImageOps.invert(strip))


def _aligned_x(item_w: int, width: int, margin: int, align: str) -> int:
    if align == "center":
        return max(margin, (width - item_w) // 2)
    if align == "right":
        return max(margin, width - margin - item_w)
    return margin


def _qr_image(qr: QrCode, scale: int) -> Image.Image:
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=max(1, qr.module_dots) * scale, border=2)
    code.add_data(qr.payload.encode("utf-8"))
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("L")
