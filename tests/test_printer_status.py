"""DLE EOT replies → PrinterStatus; silence is unknown, never ok."""
from hypothesis import given, strategies as st

from drivers.printer.status import PrinterStatus, parse_online, parse_paper, parse_status


def test_documented_vectors():
    assert parse_status(0x12, 0x12) == PrinterStatus(True, "ok")
    assert parse_status(0x1A, 0x12) == PrinterStatus(False, "ok")
    assert parse_paper(0x1E) == "near_end"
    assert parse_paper(0x72) == "out"
    assert parse_paper(0x7E) == "out"


def test_silence_and_noise_are_unknown_never_ok():
    assert parse_status(None, None) == PrinterStatus.unknown()
    assert parse_paper(0x00) == "unknown"
    assert parse_paper(0xFF) == "unknown"
    assert parse_online(0x80) is None
    assert not PrinterStatus.unknown().refuses_print
    assert not PrinterStatus.unknown().answered


def test_refuses_when_offline_or_out():
    assert PrinterStatus(False, "ok").refuses_print
    assert PrinterStatus(True, "out").refuses_print
    assert not PrinterStatus(True, "near_end").refuses_print


@given(st.one_of(st.none(), st.integers(0, 255)), st.one_of(st.none(), st.integers(0, 255)))
def test_any_reply_parses_without_error(a, b):
    status = parse_status(a, b)
    assert status.online in (True, False, None)
    assert status.paper in ("ok", "near_end", "out", "unknown")
    if b is None:
        assert status.paper == "unknown"
