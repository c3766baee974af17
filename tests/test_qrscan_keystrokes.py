"""KeystrokeBurstDetector: a scanner's fast burst + Enter is a code, a person typing is not."""
from __future__ import annotations

from hypothesis import given, strategies as st

from drivers.qrscan import KeystrokeBurstDetector


def type_text(detector, text, gap, start=0.0):
    t = start
    for ch in text:
        detector.feed(ch, t)
        t += gap
    return detector.enter(t)


def test_fast_burst_ending_in_enter_is_a_code():
    assert type_text(KeystrokeBurstDetector(), "EC12345678AB", 0.005) == "EC12345678AB"


def test_person_typing_is_not_a_code():
    assert type_text(KeystrokeBurstDetector(), "EC12345678AB", 0.15) is None


def test_short_burst_is_not_a_code():
    assert type_text(KeystrokeBurstDetector(), "1234567", 0.005) is None


def test_slow_start_then_burst_keeps_only_the_burst():
    d = KeystrokeBurstDetector()
    d.feed("x", 0.0)
    assert type_text(d, "ABCDEFGHIJ", 0.01, start=1.0) == "ABCDEFGHIJ"


def test_a_pause_in_the_middle_breaks_the_code():
    d = KeystrokeBurstDetector()
    for i, ch in enumerate("ABCDE"):
        d.feed(ch, i * 0.01)
    for i, ch in enumerate("FGHIJ"):
        d.feed(ch, 0.5 + i * 0.01)
    assert d.enter(0.55) is None


@given(st.lists(st.tuples(st.characters(), st.floats(0, 1, allow_nan=False)), max_size=40))
def test_codes_only_come_from_fast_bursts(keys):
    d = KeystrokeBurstDetector()
    t = 0.0
    for ch, gap in keys:
        t += gap
        d.feed(ch, t)
    code = d.enter(t + 0.01)
    assert code is None or len(code) >= 8
