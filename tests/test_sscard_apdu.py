"""APDU builders, the status-word checker and exchange() against a fake connection."""
from __future__ import annotations

import logging

import pytest
from hypothesis import given, strategies as st

from drivers.sscard import apdu
from drivers.sscard.errors import (
    CardMute, CardRemovedError, FileNotFound, RecordNotFound, SecurityNotSatisfied, SsCardError,
    UnexpectedStatus, WrongLength, WrongParameters,
)


class Scripted:
    """A fake pyscard connection answering from a script and recording what it was sent."""

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = []

    def transmit(self, command):
        self.sent.append(list(command))
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_select_application_by_gbk_name_matches_the_design_bytes():
    assert apdu.select_by_name() == [0x00, 0xA4, 0x04, 0x00, 0x0F, 0x73, 0x78, 0x31, 0x2E, 0x73, 0x68, 0x2E,
                                     0xC9, 0xE7, 0xBB, 0xE1, 0xB1, 0xA3, 0xD5, 0xCF]


def test_select_ef_and_read_record_in_both_addressing_styles():
    assert apdu.select_ef(apdu.EF05) == [0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x05]
    assert apdu.select_ef(apdu.EF06) == [0x00, 0xA4, 0x02, 0x00, 0x02, 0xEF, 0x06]
    assert apdu.read_record_by_tag(0x08, 0x14) == [0x00, 0xB2, 0x08, 0x00, 0x14]
    assert apdu.read_record_by_number(3, 0) == [0x00, 0xB2, 0x03, 0x04, 0x00]


@pytest.mark.parametrize("sw, error", [
    (0x6A82, FileNotFound), (0x6A83, RecordNotFound), (0x6982, SecurityNotSatisfied),
    (0x6700, WrongLength), (0x6A86, WrongParameters), (0x6F00, UnexpectedStatus),
])
def test_status_words_map_to_typed_errors_with_stable_codes(sw, error):
    with pytest.raises(error) as info:
        apdu.check_sw(sw >> 8, sw & 0xFF)
    assert info.value.sw == sw
    assert info.value.code.startswith("SSCARD")
    assert info.value.message_zh and info.value.message_en


def test_9000_passes():
    apdu.check_sw(0x90, 0x00)


def test_61xx_is_followed_by_get_response_and_data_is_joined():
    conn = Scripted(([], 0x61, 0x04), ([1, 2], 0x61, 0x02), ([3, 4], 0x90, 0x00))
    assert apdu.exchange(conn, [0x00, 0xB2, 0x01, 0x00, 0x00]) == [1, 2, 3, 4]
    assert conn.sent[1] == [0x00, 0xC0, 0x00, 0x00, 0x04]
    assert conn.sent[2] == [0x00, 0xC0, 0x00, 0x00, 0x02]


def test_6cxx_resends_with_the_length_the_card_asked_for():
    conn = Scripted(([], 0x6C, 0x14), ([0x08] * 0x14, 0x90, 0x00))
    assert len(apdu.exchange(conn, [0x00, 0xB2, 0x08, 0x00, 0x10])) == 0x14
    assert conn.sent[1] == [0x00, 0xB2, 0x08, 0x00, 0x14]


def test_endless_61xx_is_an_error_not_a_hang():
    conn = Scripted(*[([], 0x61, 0x01)] * 40)
    with pytest.raises(UnexpectedStatus):
        apdu.exchange(conn, [0x00, 0xB2, 0x01, 0x00, 0x00])


class FakePcscError(Exception):
    def __init__(self, message, hresult):
        super().__init__(message)
        self.hresult = hresult


@pytest.mark.parametrize("exc, error", [
    (FakePcscError("Card was removed", 0x80100069), CardRemovedError),
    (FakePcscError("Card was reset.", 0x80100068), CardRemovedError),
    (FakePcscError("Card is unresponsive", 0x80100066), CardMute),
    (OSError("broken pipe"), CardRemovedError),
])
def test_transport_failures_become_typed_card_errors(exc, error):
    with pytest.raises(error):
        apdu.exchange(Scripted(exc), apdu.select_by_name())


def test_trace_log_shows_headers_and_status_never_record_contents(caplog):
    secret = list(b"\x08\x12110105195306150024")
    with caplog.at_level(logging.DEBUG, logger="drivers.sscard.apdu"):
        apdu.exchange(Scripted((secret, 0x90, 0x00)), apdu.read_record_by_tag(0x08, 0x14))
    text = caplog.text
    assert "00 B2 08 00" in text and "9000" in text
    assert "110105195306150024" not in text and "3131303130" not in text.replace(" ", "")


@given(st.lists(st.tuples(st.lists(st.integers(0, 255), max_size=40), st.integers(0, 255), st.integers(0, 255)),
                min_size=1, max_size=30))
def test_random_answers_give_data_or_a_typed_error(answers):
    conn = Scripted(*answers, *[([], 0x6F, 0x00)] * 40)
    try:
        assert isinstance(apdu.exchange(conn, [0x00, 0xB2, 0x01, 0x00, 0x00]), list)
    except SsCardError:
        pass
