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
        assert form.title.zh_CN and form.title.en and (form.fields or form.ticket_only or form.progress or form.info)
        assert form.guide is not None and form.guide.materials  # 一次性告知 for every service (issue 19)


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


# -- answers given by field name (kiosk submit) pass the same rules and the same builder ---------
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

import pytest  # noqa: E402

from kiosk.services.forms import AnswersInvalid, collect_answers, load_form, submission_payload  # noqa: E402

ALL_TYPES = '''
code = "every_type"
title = { zh_CN = "全部类型", en = "Every type" }
[[fields]]
name = "name"
type = "text"
max_length = 8
[[fields]]
name = "id_number"
type = "id_number"
[[fields]]
name = "phone"
type = "phone"
[[fields]]
name = "visit_date"
type = "date"
[[fields]]
name = "amount"
type = "amount"
min = 0.01
max = 1000
[[fields]]
name = "children"
type = "integer"
min = 0
max = 9
required = false
[[fields]]
name = "kind"
type = "choice"
options = [{ value = "a" }, { value = "b" }]
[[fields]]
name = "hospitals"
type = "multichoice"
max_choices = 2
options = [{ value = "h1" }, { value = "h2" }, { value = "h3" }]
[[fields]]
name = "agree"
type = "consent"
[guide]
who = "anyone"
materials = ["ID card"]
days = 0
result = "on screen"
'''
GOOD = {"name": " 张三 ", "id_number": "11010519491231002X", "phone": "13812345678", "visit_date": "2026-11-01",
        "amount": "128.50", "kind": "a", "hospitals": ["h1", "h3"], "agree": True}
TODAY = dt.date(2026, 11, 25)


@pytest.fixture(scope="module")
def every_type(tmp_path_factory) -> "FormSpec":  # noqa: F821
    path = tmp_path_factory.mktemp("forms") / "every_type.toml"
    path.write_text(ALL_TYPES, encoding="utf-8")
    return load_form(path)


def test_good_answers_make_the_payload_the_screen_makes(every_type) -> None:
    payload = submission_payload(every_type, None, GOOD, TODAY)
    collected, errors = collect_answers(every_type, GOOD)
    assert errors == {} and collected["name"] == "张三"  # stripped, as the text editor hands it over
    assert payload == build_payload(every_type, None, collected)
    assert payload["service"] == "every_type" and payload["answers"]["hospitals"] == ["h1", "h3"]
    assert "children" not in payload["answers"]  # an optional field left out stays out


@pytest.mark.parametrize(
    ("field", "value", "zh", "en"),
    [
        ("name", None, "请填写此项", "This is required"),
        ("name", "", "请填写此项", "This is required"),
        ("name", "一二三四五六七八九", "最多 8 个字", "At most 8 characters"),
        ("name", 42, "应为文字", "expected text"),
        ("id_number", "110105194912310021", "身份证号码不正确", "ID number is not valid"),
        ("phone", "1234", "手机号码", "11-digit mobile"),
        ("visit_date", "2027-01-01", "不能晚于今天", "cannot be in the future"),
        ("visit_date", "01/11/2026", "年-月-日", "YYYY-MM-DD"),
        ("amount", "12.345", "两位小数", "two decimals"),
        ("amount", "NaN", "整数", "whole number"),
        ("amount", "abc", "请输入数字", "Enter a number"),
        ("amount", "0", "不能小于", "at least"),
        ("amount", 12.5, "应为文字", "expected text"),
        ("children", "1.5", "整数", "whole number"),
        ("children", "10", "不能大于", "at most"),
        ("kind", "c", "请选择一项", "Choose one option"),
        ("kind", ["a"], "选项值", "one option value"),
        ("hospitals", ["h1", "h2", "h3"], "最多选择 2 项", "at most 2"),
        ("hospitals", ["h9"], "请从列表中选择", "Choose from the list"),
        ("hospitals", "h1", "选项值列表", "list of option values"),
        ("agree", False, "请阅读并勾选同意", "Please read and agree"),
        ("agree", "yes", "true 或 false", "true or false"),
        ("surname", "x", "本表单没有此项", "not a field of this form"),
    ],
)
def test_each_rule_refuses_with_a_zh_and_en_message(every_type, field, value, zh, en) -> None:
    data = {**GOOD, field: value}
    with pytest.raises(AnswersInvalid) as caught:
        submission_payload(every_type, None, data, TODAY)
    assert list(caught.value.errors) == [field]  # exactly the broken field, nothing else
    message = caught.value.errors[field]
    assert zh in message.zh_CN and en in message.en


def test_every_missing_required_field_is_named_in_form_order(every_type) -> None:
    with pytest.raises(AnswersInvalid) as caught:
        submission_payload(every_type, None, {"zz": 1}, TODAY)
    assert list(caught.value.errors) == ["name", "id_number", "phone", "visit_date", "amount", "kind", "hospitals",
                                         "agree", "zz"]


ROOT = Path(__file__).resolve().parent.parent
ENROL = {"name": "张三", "id_number": "11010519491231002X", "insurance_type": "resident", "phone": "13812345678"}


def kiosk(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "KIOSK_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run([str(ROOT / ".venv" / "bin" / "kiosk"), *args], capture_output=True, text=True, timeout=60, env=env)


def test_cli_submit_validates_like_the_screen_and_stores_nothing_on_error(tmp_path: Path) -> None:
    bad = kiosk(tmp_path, "submit", "--service", "enrol", "--data",
                json.dumps({**ENROL, "phone": "1234", "insurance_type": "gold", "nickname": "x"}))
    assert bad.returncode == 2 and "Traceback" not in bad.stderr and not bad.stdout
    lines = bad.stderr.splitlines()
    assert [line.split(":")[1].strip() for line in lines] == ["insurance_type", "phone", "nickname"]
    assert "请输入 11 位手机号码" in lines[1] and "Enter an 11-digit mobile" in lines[1]  # zh and en
    missing = kiosk(tmp_path, "submit", "--service", "enrol", "--data", "{}")
    assert missing.returncode == 2 and len(missing.stderr.splitlines()) == 4 and "请填写此项 / This is required" in missing.stderr
    unknown = kiosk(tmp_path, "submit", "--service", "not_a_service", "--data", json.dumps(ENROL))
    assert unknown.returncode == 2 and len(unknown.stderr.splitlines()) == 1 and "is not a service" in unknown.stderr
    status = kiosk(tmp_path, "outbox", "status")
    assert json.loads(status.stdout)["pending"] == 0  # nothing was enqueued by the refused attempts

    good = kiosk(tmp_path, "submit", "--service", "enrol", "--data", json.dumps({**ENROL, "phone": " 13812345678 "}))
    assert good.returncode == 0, good.stderr
    sid = json.loads(good.stdout)["id"]
    listed = kiosk(tmp_path, "outbox", "list", "--reveal")
    (item,) = json.loads(listed.stdout)["items"]
    form = load_forms(PROJECT / "forms").by_code("enrol")
    assert item["id"] == sid and item["payload"] == build_payload(form, None, {**ENROL, "phone": "13812345678"})


def test_cli_rating_uses_the_screens_builder_and_rules(tmp_path: Path) -> None:
    from kiosk.services.ratings import rating_payload

    bad = kiosk(tmp_path, "submit", "--kind", "rating", "--service", "enrol", "--data", json.dumps({"reference": "r", "score": 7}))
    assert bad.returncode == 2 and len(bad.stderr.splitlines()) == 1 and "score" in bad.stderr and "1 到 5" in bad.stderr
    good = kiosk(tmp_path, "submit", "--kind", "rating", "--service", "enrol", "--data", json.dumps({"reference": "r-1", "score": 5}))
    assert good.returncode == 0, good.stderr
    (item,) = json.loads(kiosk(tmp_path, "outbox", "list", "--reveal").stdout)["items"]
    assert item["kind"] == "rating" and item["payload"] == rating_payload("enrol", "r-1", 5)
