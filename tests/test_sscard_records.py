"""EF05/EF06 parsing: exact vectors, round trips of the shipped profiles, garbage never crashes."""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from drivers.sscard.emulator import CardProfile
from drivers.sscard.errors import MalformedRecord
from drivers.sscard.records import (
    SsCardData, build_card_data, encode_fields, encode_tlv, parse_records, parse_tlvs, split_name,
)

PROFILES = sorted((Path(__file__).resolve().parent.parent / "assets/cards/sscard").glob("*.json"))
KEYS = ["card_id", "card_type", "spec_version", "issuer_org", "issue_date", "expiry_date", "card_number",
        "id_number", "name", "sex", "nation", "birthplace", "birth_date"]


def standard() -> SsCardData:
    return CardProfile.load(PROFILES[[p.name for p in PROFILES].index("standard.json")]).data


def test_profiles_are_shipped():
    assert {p.name for p in PROFILES} >= {"standard.json", "expired.json", "record_style.json", "gbk_ext.json"}


def test_exact_vector_decodes_fields():
    fields = encode_fields(standard())
    assert fields[0x05] == bytes.fromhex("20230601")
    assert fields[0x0C] == bytes.fromhex("110105")
    card = build_card_data(fields)
    assert card.name == "张秀英"
    assert card.id_number == "110105195306150024"
    assert card.birth_date == date(1953, 6, 15)
    assert card.region == "110105"


@pytest.mark.parametrize("path", PROFILES, ids=lambda p: p.name)
def test_every_profile_round_trips_through_tlv(path):
    data = CardProfile.load(path).data
    responses = [encode_tlv(tag, value) for tag, value in encode_fields(data).items()]
    assert parse_records(responses) == data


def test_to_dict_has_exactly_the_documented_keys_and_iso_dates():
    out = standard().to_dict()
    assert list(out) == KEYS
    assert out["expiry_date"] == "2033-06-01" and out["birth_date"] == "1953-06-15"
    json.dumps(out, ensure_ascii=False)


def test_expiry():
    card = standard()
    assert not card.is_expired(date(2033, 6, 1))
    assert card.is_expired(date(2033, 6, 2))


def test_long_name_is_split_into_09_and_4e_and_joined_back():
    name = "阿卜杜热合曼·买买提艾力·阿不都克热木"
    head, tail = split_name(name)
    assert len(head) <= 30 and tail
    assert (head + tail).decode("gbk") == name


@pytest.mark.parametrize("tag, value", [
    (0x05, bytes.fromhex("2023AB01")),  # not BCD
    (0x0D, bytes.fromhex("19531340")),  # month 13
    (0x08, b"11010519530615002"),  # 17 characters
    (0x08, b"1101051953061500AB"),
    (0x09, b"\xff\xfe\x81"),  # not GBK
    (0x0A, b"3"),
    (0x0C, bytes.fromhex("11AA05")),
])
def test_bad_fields_raise_malformed_record(tag, value):
    fields = encode_fields(standard())
    fields[tag] = value
    with pytest.raises(MalformedRecord):
        build_card_data(fields)


def test_missing_field_and_truncated_tlv_are_malformed():
    fields = encode_fields(standard())
    del fields[0x08]
    with pytest.raises(MalformedRecord):
        build_card_data(fields)
    with pytest.raises(MalformedRecord):
        parse_tlvs(bytes([0x08, 0x12, 0x31]))


@given(st.lists(st.binary(max_size=64), max_size=20))
def test_random_record_bytes_give_a_card_or_malformed_record(responses):
    try:
        assert isinstance(parse_records(responses), SsCardData)
    except MalformedRecord:
        pass


@given(st.dictionaries(st.sampled_from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 0x4E]), st.binary(max_size=40)))
def test_random_field_values_give_a_card_or_malformed_record(overrides):
    fields = {**encode_fields(standard()), **overrides}
    try:
        card = build_card_data(fields)
    except MalformedRecord:
        return  # the typed refusal
    assert isinstance(card, SsCardData) and card.id_number  # or a card with its number
