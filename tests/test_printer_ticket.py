"""Ticket encoder: exact bytes a Chinese ESC/POS printer receives."""
from datetime import datetime

from escpos.printer import Dummy
from hypothesis import given, strategies as st

from drivers.printer.simulator import Cut, QrCode, parse_escpos, split_tickets
from drivers.printer.ticket import TicketContent, display_width, encode_ticket, qr_code, wrap

CONTENT = TicketContent(
    service_point="示范站", service_name="参保登记", number="A012", people_ahead=3, estimated_wait_min=15,
    issued_at=datetime(2024, 5, 1, 9, 30, 59), priority=True, ticket_id="T1",
)


def gb(text: str) -> bytes:
    return text.encode("gb18030")


def test_ticket_bytes_exact():
    expected = (
        b"\x1b@" b"\x1c&"                      # init, Chinese mode
        b"\x1ba\x01" b"\x1bE\x01"              # centre, bold
        + gb("示范站") + b"\n"
        + b"\x1bE\x00" b"\x1d!\x01" + gb("参保登记") + b"\n"
        + b"\x1d!\x00" + b"-" * 32 + b"\n"
        + b"\x1d!\x11\x1bE\x01" b"A012\n" b"\x1d!\x00"
        + gb("★ 绿色通道 优先") + b"\n"
        + b"\x1bE\x00\x1d!\x00" + b"-" * 32 + b"\n"
        + b"\x1ba\x00"
        + gb("前面等候：3 人") + b"\n"
        + gb("预计等候：约 15 分钟") + b"\n"
        + gb("取号时间：2024-05-01 09:30") + b"\n"
        + b"\x1ba\x01\n"
        + b"\x1d(k\x04\x001A2\x00" b"\x1d(k\x03\x001C\x06" b"\x1d(k\x03\x001E1"
        + b"\x1d(k\x05\x001P0T1" b"\x1d(k\x03\x001Q0"
        + b"\x1ba\x00" b"\x1bd\x04" b"\x1dV\x00"
    )
    assert encode_ticket(CONTENT) == expected


def test_chinese_is_gb18030_not_a_code_page():
    data = encode_ticket(CONTENT)
    assert "医保".encode("gb18030") == b"\xd2\xbd\xb1\xa3"
    assert gb("参保登记") in data and "参保登记".encode("utf-8") not in data
    assert gb("：") == b"\xa3\xba"  # full-width colon survives (python-escpos code pages garble it)


def test_no_priority_mark_for_normal_ticket():
    from dataclasses import replace

    normal = encode_ticket(replace(CONTENT, priority=False))
    assert gb("绿色通道") not in normal
    assert gb("绿色通道") in encode_ticket(CONTENT)


def test_qr_bytes_match_python_escpos_native_qr():
    printer = Dummy(profile="TM-T88V")
    printer.qr("T1-0b6f", native=True, size=6, ec=1)  # ec=1: level M
    assert qr_code("T1-0b6f") == printer.output


def test_control_characters_in_names_cannot_inject_commands():
    from dataclasses import replace

    evil = replace(CONTENT, service_name="参保\x1dV\x00登记\n", priority=False)
    tickets = split_tickets(parse_escpos(encode_ticket(evil)))
    assert len(tickets) == 1 and sum(isinstance(e, Cut) for e in tickets[0].elements) == 1
    assert "参保V登记" in tickets[0].lines


def test_long_text_wraps_at_paper_width():
    lines = wrap("城乡居民基本医疗保险参保登记与信息变更及跨省异地就医备案", 32)
    assert len(lines) == 2 and all(display_width(line) <= 32 for line in lines)


@given(
    name=st.text(min_size=0, max_size=60),
    ahead=st.integers(-5, 10_000),
    ticket_id=st.text(min_size=1, max_size=80).filter(lambda s: "\x00" not in s),
    width=st.sampled_from([32, 42, 48]),
)
def test_any_content_round_trips_number_and_qr(name, ahead, ticket_id, width):
    from dataclasses import replace

    content = replace(CONTENT, service_name=name, people_ahead=ahead, ticket_id=ticket_id)
    data = encode_ticket(content, width)
    assert data == encode_ticket(content, width)  # deterministic
    (ticket,) = split_tickets(parse_escpos(data))
    assert "A012" in ticket.lines
    assert [e.payload for e in ticket.elements if isinstance(e, QrCode)] == [
        ticket_id.encode("utf-8", "surrogatepass").decode("utf-8", "replace")]
    assert ticket.cut


def test_checklist_and_signage_print_and_parse_back():
    """一次性告知 on the ticket (issue 19): the materials as a checklist, a long item wrapped and
    indented, and the signage lines; the simulator's parser reads them back from the bytes."""
    from dataclasses import replace

    from drivers.printer.ticket import CHECK_BOX, CHECKLIST_TITLE

    items = ("身份证或社保卡", "二级以上医院诊断证明和近一年的病历、检查报告（复印件即可）")
    content = replace(CONTENT, checklist=items, signage=("医保服务 贴心为民", "咨询投诉电话：12393"))
    (ticket,) = split_tickets(parse_escpos(encode_ticket(content)))
    lines = ticket.lines
    at = lines.index(CHECKLIST_TITLE)
    assert lines[at + 1] == CHECK_BOX + items[0]
    assert lines[at + 2].startswith(CHECK_BOX) and lines[at + 3].startswith("  ")
    assert (lines[at + 2] + lines[at + 3]).replace(CHECK_BOX, "").replace(" ", "") == items[1]
    assert all(display_width(line) <= 32 for line in lines)
    assert lines[-2:] == ["医保服务 贴心为民", "咨询投诉电话：12393"]
    assert encode_ticket(replace(content, checklist=(), signage=())) == encode_ticket(CONTENT)  # nothing when empty
