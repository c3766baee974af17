"""Queue ticket → ESC/POS bytes: a pure, deterministic encoder (exact-byte tested).

Chinese text is encoded to GB18030 here and sent in Chinese mode (`FS &`): python-escpos's
code-page path garbles `¥` and full-width punctuation on Chinese printers.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import datetime

ESC, GS, FS, DLE = b"\x1b", b"\x1d", b"\x1c", b"\x10"
LF = b"\n"
INIT = ESC + b"@"
CHINESE_ON = FS + b"&"
ALIGN_LEFT, ALIGN_CENTER = ESC + b"a\x00", ESC + b"a\x01"
BOLD_ON, BOLD_OFF = ESC + b"E\x01", ESC + b"E\x00"
SIZE_NORMAL = GS + b"!\x00"
SIZE_DOUBLE = GS + b"!\x11"  # double width + double height (applies to ASCII and Hanzi)
SIZE_TALL = GS + b"!\x01"  # double height only: keeps long service names on one line
CUT = GS + b"V\x00"

PRIORITY_MARK = "★ 绿色通道 优先"  # words, not only a symbol: colour/shape is never the only cue
QR_MODULE_DOTS = 6
QR_ERROR_LEVEL = b"1"  # GS ( k error level M (0x31)
FEED_BEFORE_CUT = 4


@dataclass(frozen=True)
class TicketContent:
    service_point: str
    service_name: str
    number: str  # e.g. "A012"
    people_ahead: int
    estimated_wait_min: int
    issued_at: datetime
    priority: bool
    ticket_id: str  # QR payload
    counter_hint: str = ""
    footer: str = ""
    checklist: tuple[str, ...] = ()  # 一次性告知: the materials to bring, one per line (issue 19)
    signage: tuple[str, ...] = ()  # lines: the service point's slogan, the public consultation/complaint phone
    reference: str = ""  # 业务编号: with no number (the hall was down) the ticket is a slip for the counter


CHECKLIST_TITLE = "请带齐以下材料："
CHECK_BOX = "□ "
SLIP_CAPTION = "业务编号"
SLIP_LINES = ("申请已保存，暂时无法取号", "请到窗口出示此凭条", "Show this slip at the counter")


def encode_ticket(content: TicketContent, width_chars: int = 32) -> bytes:
    """The complete ESC/POS byte stream for one ticket, ending with feed + cut."""
    out = bytearray(INIT + CHINESE_ON)
    out += ALIGN_CENTER + BOLD_ON
    out += _lines(content.service_point, width_chars)
    out += BOLD_OFF + SIZE_TALL
    out += _lines(content.service_name, width_chars)
    out += SIZE_NORMAL + _text("-" * width_chars) + LF
    slip = not content.number and bool(content.reference)
    if slip:  # no number: the 业务编号 big, for the clerk to find the stored application by
        out += _lines(SLIP_CAPTION, width_chars) + SIZE_DOUBLE + BOLD_ON + _text(_clean(content.reference)) + LF + SIZE_NORMAL
    else:
        out += SIZE_DOUBLE + BOLD_ON + _text(_clean(content.number)) + LF + SIZE_NORMAL
    if content.priority:
        out += _text(PRIORITY_MARK) + LF
    out += BOLD_OFF + SIZE_NORMAL + _text("-" * width_chars) + LF
    if slip:
        out += BOLD_ON + b"".join(_lines(line, width_chars) for line in SLIP_LINES) + BOLD_OFF
    out += ALIGN_LEFT
    if not slip:
        out += _lines(f"前面等候：{max(0, int(content.people_ahead))} 人", width_chars)
        out += _lines(f"预计等候：约 {max(0, int(content.estimated_wait_min))} 分钟", width_chars)
    out += _lines(f"{'提交' if slip else '取号'}时间：{content.issued_at:%Y-%m-%d %H:%M}", width_chars)
    if content.counter_hint:
        out += _lines(content.counter_hint, width_chars)
    if content.checklist:
        out += _text("-" * width_chars) + LF + BOLD_ON + _lines(CHECKLIST_TITLE, width_chars) + BOLD_OFF
        for item in content.checklist:
            for i, line in enumerate(wrap(item, width_chars - display_width(CHECK_BOX))):
                out += _text((CHECK_BOX if i == 0 else " " * display_width(CHECK_BOX)) + line) + LF
    out += ALIGN_CENTER + LF
    out += qr_code(content.ticket_id)
    if content.footer:
        out += _lines(content.footer, width_chars)
    for line in content.signage:
        out += _lines(line, width_chars)
    out += ALIGN_LEFT + ESC + b"d" + bytes([FEED_BEFORE_CUT]) + CUT
    return bytes(out)


def qr_code(payload: str, module_dots: int = QR_MODULE_DOTS) -> bytes:
    """Native QR (GS ( k, model 2): select model, module size, error level, store, print."""
    data = payload.encode("utf-8")
    return (
        _gs_k(b"1A2\x00")
        + _gs_k(b"1C" + bytes([module_dots]))
        + _gs_k(b"1E" + QR_ERROR_LEVEL)
        + _gs_k(b"1P0" + data)
        + _gs_k(b"1Q0")
    )


def display_width(text: str) -> int:
    """Columns on the printer: Hanzi and full-width forms take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def wrap(text: str, width_chars: int) -> list[str]:
    lines: list[str] = []
    current, used = "", 0
    for ch in _clean(text):
        w = display_width(ch)
        if used + w > width_chars and current:
            lines.append(current)
            current, used = "", 0
        current += ch
        used += w
    if current or not lines:
        lines.append(current)
    return lines


def _gs_k(body: bytes) -> bytes:
    n = len(body)
    return GS + b"(k" + bytes([n & 0xFF, n >> 8]) + body


def _clean(text: str) -> str:
    # Control characters in a service name must never become printer commands.
    return "".join(ch for ch in text if ch >= " " and ch != "\x7f")


def _text(text: str) -> bytes:
    return text.encode("gb18030", errors="replace")


def _lines(text: str, width_chars: int) -> bytes:
    return b"".join(_text(line) + LF for line in wrap(text, width_chars))
