"""Card text block parsing for every card type, the nation table, garbage tolerance, ID numbers."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.idcard.idnumber import check_char, id_number_is_valid
from drivers.idcard.simulator import load_profile
from drivers.idcard.text import LONG_TERM, NATION_BY_CODE, TEXT_LENGTH, IdCardText, build_text, parse_text

CARDS = Path(__file__).resolve().parent.parent / "assets" / "cards" / "idcard"

RESIDENT = dict(
    name="张三", sex="男", nation="汉", birth_date="1950-03-07", address="北京市朝阳区建国路88号院3号楼2单元501室",
    id_number="110105195003070019", issuer="北京市公安局朝阳分局", valid_from="2015-06-01", valid_until="长期",
)


def test_resident_card_parses_every_field():
    card = parse_text(build_text("resident", **RESIDENT))
    assert card.card_type == "resident" and card.type_flag == ""
    assert (card.name, card.sex, card.nation, card.nation_code) == ("张三", "男", "汉", "01")
    assert card.birth_date == dt.date(1950, 3, 7)
    assert card.address == RESIDENT["address"]
    assert card.id_number == "110105195003070019"
    assert card.issuer == "北京市公安局朝阳分局"
    assert card.valid_from == dt.date(2015, 6, 1)
    assert card.valid_until == LONG_TERM
    assert card.age_on(dt.date(2026, 3, 6)) == 75 and card.age_on(dt.date(2026, 3, 7)) == 76
    assert not card.is_expired(dt.date(2099, 1, 1))


def test_text_block_layout_offsets_are_the_published_ones():
    raw = build_text("resident", **RESIDENT)
    assert len(raw) == TEXT_LENGTH
    assert raw[0:4] == "张三".encode("utf-16-le") and raw[4:30] == b" \x00" * 13
    assert raw[30:32] == "1".encode("utf-16-le")
    assert raw[32:36] == "01".encode("utf-16-le")
    assert raw[36:52] == "19500307".encode("utf-16-le")
    assert raw[122:158] == "110105195003070019".encode("utf-16-le")
    assert raw[204:208] == "长期".encode("utf-16-le")
    assert raw[248:250] == b" \x00"


def test_to_dict_has_the_cli_keys_with_iso_dates():
    assert parse_text(build_text("resident", **RESIDENT)).to_dict() == {
        "name": "张三", "sex": "男", "nation": "汉", "birth_date": "1950-03-07", "address": RESIDENT["address"],
        "id_number": "110105195003070019", "issuer": "北京市公安局朝阳分局", "valid_from": "2015-06-01",
        "valid_until": "长期", "card_type": "resident",
    }


def test_fixed_term_validity_is_a_date():
    card = parse_text(build_text("resident", **{**RESIDENT, "valid_until": "2035-06-01"}))
    assert card.valid_until == dt.date(2035, 6, 1)
    assert card.to_dict()["valid_until"] == "2035-06-01"
    assert card.is_expired(dt.date(2035, 6, 2)) and not card.is_expired(dt.date(2035, 6, 1))


def test_hk_mo_tw_residence_permit():
    card = parse_text(build_text(
        "hk_mo_tw", name="陈大文", sex="男", birth_date="1994-08-23", address="广东省深圳市福田区福华三路100号",
        id_number="810000199408230013", issuer="深圳市公安局", valid_from="2021-05-10", valid_until="2026-05-10",
        pass_number="H01234567", issue_count="01",
    ))
    assert card.card_type == "hk_mo_tw" and card.type_flag == "J"
    assert (card.pass_number, card.issue_count) == ("H01234567", "01")
    assert card.id_number == "810000199408230013" and card.nation == ""
    assert card.extras() == {"pass_number": "H01234567", "issue_count": "01"}


def test_foreigner_2017_card():
    raw = build_text(
        "foreign", english_name="SMITH, JOHN ALEXANDER", sex="男", id_number="USA110080010101", nationality="USA",
        chinese_name="史密斯", valid_from="2019-01-15", valid_until="2029-01-15", birth_date="1980-01-01",
        version="17", authority_code="1100",
    )
    assert raw[248:250] == "I".encode("utf-16-le")
    card = parse_text(raw)
    assert card.card_type == "foreign" and card.name == "史密斯"
    assert (card.english_name, card.nationality, card.chinese_name) == ("SMITH, JOHN ALEXANDER", "USA", "史密斯")
    assert card.id_number == "USA110080010101" and card.birth_date == dt.date(1980, 1, 1)
    assert (card.version, card.authority_code) == ("17", "1100")
    assert card.valid_until == dt.date(2029, 1, 15) and card.sex == "男"


def test_foreigner_without_chinese_name_uses_english_name():
    card = parse_text(build_text("foreign", english_name="DOE, JANE", sex="女"))
    assert card.name == "DOE, JANE"


def test_2023_card_is_read_tolerantly_with_raw_fields():
    card = parse_text(load_profile(CARDS / "y2023.json").text)
    assert card.type_flag == "Y" and card.card_type == "foreign"
    assert card.id_number == "911100198001010014" and id_number_is_valid(card.id_number)
    assert card.english_name == "MUELLER, ANNA" and card.raw_fields


def test_2023_card_with_unexpected_layout_does_not_crash():
    raw = bytearray("乱码".encode("utf-16-le") * 64)
    raw[248:250] = "Y".encode("utf-16-le")
    card = parse_text(bytes(raw))
    assert card.card_type == "foreign" and card.birth_date is None and card.valid_until is None


def test_unknown_flag_gives_unknown_type_and_raw_fields_only():
    raw = bytearray(build_text("resident", **RESIDENT))
    raw[248:250] = "Z".encode("utf-16-le")
    card = parse_text(bytes(raw))
    assert card.card_type == "unknown" and card.type_flag == "Z"
    assert card.name == "" and card.id_number == ""
    assert card.raw_fields["name"] == "张三" and card.raw_fields["flag"] == "Z"


@pytest.mark.parametrize("code, nation", [("01", "汉"), ("02", "蒙古"), ("10", "朝鲜"), ("29", "柯尔克孜"), ("56", "基诺"), ("97", "其他"), ("98", "外国血统中国籍人士")])
def test_nation_table_edges(code, nation):
    card = parse_text(build_text("resident", **{**RESIDENT, "nation": code}))
    assert (card.nation, card.nation_code) == (nation, code)


def test_nation_table_is_complete():
    assert [f"{i:02d}" for i in range(1, 57)] + ["97", "98"] == list(NATION_BY_CODE)
    assert len(set(NATION_BY_CODE.values())) == 58


@pytest.mark.parametrize("code", ["00", "57", "99", "1"])
def test_unknown_nation_code_is_kept_raw_without_a_name(code):
    card = parse_text(build_text("resident", **{**RESIDENT, "nation": code}))
    assert card.nation == "" and card.nation_code == code


@pytest.mark.parametrize("code, sex", [("0", "未知"), ("1", "男"), ("2", "女"), ("9", "未说明"), ("7", "未知"), ("", "未知")])
def test_sex_codes(code, sex):
    assert parse_text(build_text("resident", **{**RESIDENT, "sex": code})).sex == sex


@pytest.mark.parametrize("value", ["19500230", "2015", "abcdefgh", ""])
def test_impossible_dates_become_none(value):
    raw = bytearray(build_text("resident", **RESIDENT))
    raw[36:52] = value.encode("utf-16-le").ljust(16, b"\x00")
    assert parse_text(bytes(raw)).birth_date is None


def test_short_odd_and_empty_text_does_not_crash():
    assert parse_text(b"").card_type == "resident"
    short = build_text("resident", **RESIDENT)[:45]  # name, sex, nation and half a date (odd length too)
    card = parse_text(short)
    assert card.name == "张三" and card.birth_date is None
    assert parse_text(build_text("resident", **RESIDENT) + b"extra").id_number == "110105195003070019"


def test_nul_padding_is_stripped_like_space_padding():
    raw = build_text("resident", **RESIDENT).replace(b" \x00", b"\x00\x00")
    card = parse_text(raw)
    assert card.name == "张三" and card.card_type == "resident"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_text_never_raises(raw):
    card = parse_text(raw)
    assert isinstance(card, IdCardText)
    assert card.card_type in ("resident", "hk_mo_tw", "foreign", "unknown")
    card.to_dict()


def test_repr_hides_personal_data():
    card = parse_text(build_text("resident", **RESIDENT))
    text = repr(card) + str(card)
    assert "张三" not in text and "110105195003070019" not in text and "建国路" not in text


def test_build_text_rejects_overlong_fields_and_bad_values():
    with pytest.raises(ValueError, match="name"):
        build_text("resident", name="张" * 16)
    with pytest.raises(ValueError, match="birth_date"):
        build_text("resident", birth_date="7 March 1950")
    with pytest.raises(ValueError, match="nation"):
        build_text("resident", nation="火星")
    with pytest.raises(ValueError, match="card_type"):
        build_text("passport")


@pytest.mark.parametrize("name", ["resident", "hk_mo_tw", "foreign", "y2023"])
def test_shipped_profiles_parse(name):
    card = parse_text(load_profile(CARDS / f"{name}.json").text)
    assert card.card_type in ("resident", "hk_mo_tw", "foreign")
    assert card.birth_date is not None and card.valid_from is not None


def test_resident_profile_is_an_elderly_resident_with_a_valid_number():
    card = parse_text(load_profile(CARDS / "resident.json").text)
    assert card.name == "张三" and card.age_on(dt.date.today()) >= 70
    assert id_number_is_valid(card.id_number)
    assert card.id_number[6:14] == card.birth_date.strftime("%Y%m%d")


# --- ID numbers -------------------------------------------------------------------------------


@pytest.mark.parametrize("number", ["11010519491231002X", "360426199101010071", "11010519491231002x", "810000199408230013", "911100198001010014"])
def test_valid_id_numbers(number):
    assert id_number_is_valid(number)


@pytest.mark.parametrize("number", ["110105194912310021", "360426199101010072", "11010519491231002", "1101051949123100XX", "", "１１０１０５１９４９１２３１００２Ｘ", "11010519491231002X0"])
def test_invalid_id_numbers(number):
    assert not id_number_is_valid(number)


def test_unknown_area_codes_are_not_rejected():
    body = "99999919800101001"
    assert id_number_is_valid(body + check_char(body))


@settings(max_examples=200)
@given(st.text(alphabet="0123456789", min_size=17, max_size=17), st.integers(0, 16), st.integers(1, 9))
def test_any_single_digit_change_is_caught(body, pos, delta):
    number = body + check_char(body)
    changed = body[:pos] + str((int(body[pos]) + delta) % 10) + body[pos + 1 :]
    assert id_number_is_valid(number)
    assert not id_number_is_valid(changed + number[17])
