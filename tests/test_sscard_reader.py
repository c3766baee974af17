"""read_sscard() against the emulator's applet through a fake connection (no pcscd needed)."""
from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from drivers.sscard.emulator import CardFaults, CardProfile, SsCardApplet
from drivers.sscard.errors import CardRemovedError, FileNotFound, SecurityNotSatisfied, SsCardError
from drivers.sscard.reader import read_sscard
from drivers.sscard.records import SsCardData

CARDS = Path(__file__).resolve().parent.parent / "assets/cards/sscard"


class AppletConnection:
    """pyscard-like `transmit()` over the emulator applet; `pull_after` simulates a removed card."""

    def __init__(self, profile: str, faults: CardFaults | None = None, pull_after: int | None = None):
        self.applet = SsCardApplet(CardProfile.load(CARDS / profile), faults)
        self.pull_after = pull_after
        self.sent: list[list[int]] = []

    def transmit(self, apdu):
        if self.pull_after is not None and len(self.sent) >= self.pull_after:
            raise RuntimeError("Card was removed.")
        self.sent.append(list(apdu))
        answer = self.applet.process(bytes(apdu))
        return list(answer[:-2]), answer[-2], answer[-1]


@pytest.mark.parametrize("profile", ["standard.json", "expired.json", "record_style.json", "gbk_ext.json"])
def test_each_profile_reads_back_as_stored(profile):
    conn = AppletConnection(profile)
    assert read_sscard(conn) == CardProfile.load(CARDS / profile).data


def test_record_style_card_is_read_with_p2_04_after_tag_style_is_refused():
    conn = AppletConnection("record_style.json")
    read_sscard(conn)
    reads = [c for c in conn.sent if c[1] == 0xB2]
    assert reads[0][3] == 0x00 and all(c[3] == 0x04 for c in reads[1:])


def test_tag_style_card_reads_each_field_by_tag():
    conn = AppletConnection("standard.json")
    read_sscard(conn)
    assert [c[2] for c in conn.sent if c[1] == 0xB2] == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0x4E, 0x0A, 0x0B, 0x0C, 0x0D]


@pytest.mark.parametrize("faults", [CardFaults(use_61xx=True), CardFaults(use_6cxx=True)], ids=["61xx", "6Cxx"])
def test_get_response_and_wrong_le_are_handled(faults):
    assert read_sscard(AppletConnection("gbk_ext.json", faults)).name == "阿卜杜热合曼·买买提艾力·阿不都克热木"


def test_wrong_status_word_on_ef06_is_a_typed_error():
    with pytest.raises(FileNotFound):
        read_sscard(AppletConnection("standard.json", CardFaults(wrong_sw={"EF06": 0x6A82})))
    with pytest.raises(SecurityNotSatisfied):
        read_sscard(AppletConnection("standard.json", CardFaults(wrong_sw={"READ": 0x6982})))


def test_card_pulled_mid_read_is_card_removed():
    with pytest.raises(CardRemovedError) as info:
        read_sscard(AppletConnection("standard.json", pull_after=6))
    assert "拔出" in info.value.message("zh_CN")


class RandomCard:
    def __init__(self, answers):
        self.answers = answers
        self.i = 0

    def transmit(self, apdu):
        data, sw = self.answers[self.i % len(self.answers)]
        self.i += 1
        return list(data), sw >> 8, sw & 0xFF


@settings(max_examples=200)
@given(st.lists(st.tuples(st.binary(max_size=40), st.sampled_from([0x9000, 0x9000, 0x9000, 0x6A83, 0x6A82, 0x6C05, 0x6102, 0x6700, 0x6F00])),
                min_size=1, max_size=30))
def test_random_card_answers_give_a_card_or_a_typed_error(answers):
    try:
        card = read_sscard(RandomCard(answers))
    except SsCardError:
        return  # the typed refusal; anything else escapes and fails
    assert isinstance(card, SsCardData) and card.id_number
