"""Forms as data: every file loads, a broken one is reported by name and hidden alone."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

from kiosk.services.forms import build_payload, load_forms, prefill, validate, validate_field
from kiosk.services.identity import Person

PROJECT = Path(__file__).resolve().parent.parent
REQUIRED_SERVICES = {"enrol", "record_query", "contribution", "out_of_town", "sporadic_reimburse",
                     "chronic_disease", "newborn", "transfer", "voucher_help"}
PERSON = Person(name="张三", id_number="11010519491231002X", source="idcard", birth_date=dt.date(1949, 12, 31))


def test_every_shipped_form_loads() -> None:
    catalog = load_forms(PROJECT / "forms")
    assert catalog.errors == []
    assert REQUIRED_SERVICES <= {f.code for f in catalog.forms}
    for form in catalog.forms:
        assert form.title.zh_CN and form.title.en and form.fields


def test_broken_form_is_reported_by_name_and_line_and_only_it_is_hidden(tmp_path: Path) -> None:
    (tmp_path / "good.toml").write_text((PROJECT / "forms" / "enrol.toml").read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "broken.toml").write_text('code = "broken"\ntitle = \n', encoding="utf-8")
    (tmp_path / "badtype.toml").write_text('code = "badtype"\ntitle = "x"\n[[fields]]\nname = "a"\ntype = "colour"\n', encoding="utf-8")
    catalog = load_forms(tmp_path)
    assert [f.code for f in catalog.forms] == ["enrol"]
    by_file = {e.file: e for e in catalog.errors}
    assert by_file["broken.toml"].line == 2
    assert "colour" in by_file["badtype.toml"].message


def test_prefill_from_card_and_payload() -> None:
    form = load_forms(PROJECT / "forms").by_code("enrol")
    answers = prefill(form, PERSON)
    assert answers == {"name": "张三", "id_number": "11010519491231002X"}
    answers.update(insurance_type="resident", phone="13812345678")
    assert validate(form, answers) == {}
    payload = build_payload(form, PERSON, answers)
    assert payload["service"] == "enrol" and payload["answers"]["phone"] == "13812345678"


def test_validation_messages_for_bad_input() -> None:
    catalog = load_forms(PROJECT / "forms")
    enrol, reimburse, chronic = catalog.by_code("enrol"), catalog.by_code("sporadic_reimburse"), catalog.by_code("chronic_disease")
    fields = {f.name: f for f in enrol.fields + reimburse.fields + chronic.fields}
    today = dt.date(2026, 11, 25)
    assert validate_field(fields["id_number"], "110105194912310021", today).zh_CN.startswith("身份证号码不正确")
    assert validate_field(fields["phone"], "1234", today) is not None
    assert validate_field(fields["visit_date"], "2027-01-01", today).en == "Date cannot be in the future"
    assert validate_field(fields["visit_date"], "not a date", today) is not None
    assert validate_field(fields["total_amount"], "12.345", today) is not None
    assert validate_field(fields["total_amount"], "abc", today) is not None
    assert validate_field(fields["total_amount"], "NaN", today) is not None
    assert validate_field(fields["total_amount"], "0", today) is not None
    assert validate_field(fields["total_amount"], "128.50", today) is None
    assert validate_field(fields["hospitals"], ["h_township", "h_county_tcm", "h_county_people", "h_city_first"], today) is not None
    assert validate_field(fields["hospitals"], ["h_township"], today) is None
    assert validate_field(fields["phone"], "", today).zh_CN == "请填写此项"
