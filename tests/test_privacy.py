"""Personal data never leaves in clear: masks on screen, and a log filter as a safety net."""
from __future__ import annotations

import logging

from kiosk.privacy import MaskingLogFilter, mask_id_number, mask_name, mask_phone, scrub


def test_masks() -> None:
    assert mask_id_number("11010519491231002X") == "110105********002X"
    assert mask_id_number("11010519491231002X", 3, 2) == "110*************2X"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧***"
    assert mask_phone("13812345678") == "138****5678"


def test_scrub_hides_id_and_phone_inside_text() -> None:
    text = scrub("read 360426199101010071 ok; call 13812345678")
    assert "360426199101010071" not in text and "13812345678" not in text
    assert "360426********0071" in text


def test_log_filter_masks_arguments_and_tracebacks(caplog) -> None:
    logger = logging.getLogger("test.privacy")
    handler = caplog.handler
    handler.addFilter(MaskingLogFilter())
    try:
        logger.warning("card %s read", "11010519491231002X")
        try:
            raise ValueError("bad id 11010519491231002X")
        except ValueError:
            logger.exception("failed")
    finally:
        handler.removeFilter(handler.filters[-1])
    assert "11010519491231002X" not in caplog.text
    assert "110105********002X" in caplog.text


# --- one module decides what is personal, and masked means not derivable ---------------------------

import datetime as dt  # noqa: E402

import pytest  # noqa: E402

from kiosk.privacy import (  # noqa: E402
    CARD_FIELD_KINDS, FIELD_KINDS, Kind, MaskPolicy, id_candidates, mask_date_to_year, mask_fields, scrub_strict,
)


@pytest.mark.parametrize("number, policy, masked", [
    ("110105195003070019", MaskPolicy(), "110105********0019"),
    ("110105195003070019", MaskPolicy(10, 4), "110105********0019"),  # a config showing the year still hides the date
    ("110105195003070019", MaskPolicy(12, 4), "110105********0019"),
    ("110105195003070019", MaskPolicy(3, 2), "110*************19"),
    ("810000199408230013", MaskPolicy(), "810000********0013"),  # HK/Macao/Taiwan residence permit
    ("911100198001010014", MaskPolicy(), "911100********0014"),  # 2023 foreigner card
    ("USA110080010101", MaskPolicy(), "USA110*******01"),  # 2017 foreigner card: YYMMDD at 7..12
    ("110105500307001", MaskPolicy(), "110105******001"),  # first-generation 15-digit number
])
def test_id_masks_always_hide_the_birth_date_digits(number, policy, masked):
    assert mask_fields({"id_number": number}, policy) == {"id_number": masked}


def test_dates_that_would_fill_the_gap_show_the_year_only():
    assert mask_date_to_year("1950-03-07") == mask_date_to_year("19500307") == mask_date_to_year(dt.date(1950, 3, 7)) == "1950-**-**"
    assert mask_date_to_year("长期") == "长期" and mask_date_to_year("") == ""
    card = {"birth_date": "1950-03-07", "valid_from": "2015-06-01", "valid_until": "2035-06-01", "issue_date": "2023-06-01"}
    assert mask_fields(card, kinds=CARD_FIELD_KINDS) == {
        "birth_date": "1950-**-**", "valid_from": "2015-**-**", "valid_until": "2035-**-**", "issue_date": "2023-**-**"}
    assert mask_fields({"issue_date": "2024-05-06"})["issue_date"] == "2024-05-06"  # a receipt's date is no card evidence


def test_candidates_left_after_masking():
    """What an attacker holding one masked output must still choose between."""
    assert id_candidates("110105195003070019") == 1
    with_year = id_candidates("110105********0019", birth_year=1950)
    assert 20 <= with_year <= 50  # ≈ 365 / 11
    assert id_candidates("110105********0019") > 1000
    assert id_candidates("110*************19", birth_year=1950, limit=1000) == 1000
    assert id_candidates("11010519500307**19") < 10  # two hidden serial digits are not enough


def test_mask_fields_walks_any_object_and_keeps_what_is_not_personal():
    payload = {
        "id": "5f0c6a8e-1b2c-4d5e-8f90-0123456789ab", "service": "newborn", "amount": 12.5,
        "answers": {"phone": "13812345678", "baby_name": "张小宝", "baby_birth_date": "2025-01-02",
                    "relationship": "father", "disease": "高血压", "hospitals": ["南京市第一人民医院"]},
        "note": "call 13912345678 about 11010519491231002X",
        "items": [{"name": "胰岛素注射液", "amount": "88.00"}],
    }
    out = mask_fields(payload)
    assert out["id"] == payload["id"] and out["service"] == "newborn" and out["amount"] == 12.5
    a = out["answers"]
    assert (a["phone"], a["baby_name"], a["baby_birth_date"], a["relationship"]) == ("138****5678", "张**", "2025-**-**", "father")
    assert "高血压" not in str(out) and "人民医院" not in str(out) and "胰" not in str(out)
    assert out["items"] == [{"name": "******", "amount": "88.00"}]
    assert "13912345678" not in out["note"] and "110105********002X" in out["note"]
    assert payload["answers"]["phone"] == "13812345678"  # a copy: the original is untouched


def test_every_kind_has_a_mask_and_the_table_names_the_usual_fields():
    for name in ("id_number", "name", "payer", "phone", "address", "birth_date", "card_number", "pass_number",
                 "hospital", "diagnosis", "items", "check_code"):
        assert name in FIELD_KINDS
    assert set(FIELD_KINDS.values()) == set(Kind)


def test_strict_scrub_for_text_people_read():
    line = scrub_strict("read 110105195003070019 张三 born 1950-03-07 / 19500307 / 1950年3月7日 at 12:01:02")
    for secret in ("195003070019", "张三", "03-07", "0307", "3月7日"):
        assert secret not in line
    assert "12:01:02" in line and "1950" in line


def test_device_trace_masks_what_a_driver_might_log():
    from kiosk.services.trace import DeviceTrace

    trace = DeviceTrace()
    logger = logging.getLogger("drivers.idcard.test")
    trace.start()
    try:
        logger.debug("card %s %s born %s", "张三", "110105195003070019", "1950-03-07")
    finally:
        trace.stop()
    text = "\n".join(trace.recent())
    assert "drivers.idcard.test" in text and "110105********0019" in text
    assert "张三" not in text and "1950-03-07" not in text and "195003070019" not in text
