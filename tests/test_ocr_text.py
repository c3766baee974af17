"""Pure text layers of the OCR engine: 大写 amounts, normalisation, line grouping, templates,
extraction and checks — no OCR engine involved."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kiosk.ocr.amount_words import AmountWordsError, parse_words, to_words
from kiosk.ocr.checks import InMemoryClaimedReceipts, SqliteClaimedReceipts, fields_to_review, run_checks
from kiosk.ocr.extract import FIELD_NAMES, choose_template, extract, load_templates
from kiosk.ocr.lines import TextBox, group_lines
from kiosk.ocr.normalize import parse_hex, parse_amount, parse_date, parse_digits, to_halfwidth

TEMPLATES = load_templates()


@pytest.mark.parametrize("words, value", [
    ("壹佰贰拾叁元肆角伍分", "123.45"), ("零元整", "0.00"), ("壹佰元整", "100.00"), ("壹佰元正", "100.00"),
    ("壹仟零伍元整", "1005.00"), ("壹拾元零伍分", "10.05"), ("拾元整", "10.00"), ("伍角", "0.50"),
    ("壹万零壹元整", "10001.00"), ("壹拾壹万元整", "110000.00"), ("壹亿零壹万元整", "100010000.00"),
    ("人民币叁仟圆整", "3000.00"), ("陆仟零陆拾柒元零肆分", "6067.04"),
])
def test_parse_words_reads_financial_numerals(words, value):
    assert parse_words(words) == Decimal(value)


@pytest.mark.parametrize("value, words", [
    ("123.45", "壹佰贰拾叁元肆角伍分"), ("0", "零元整"), ("1005", "壹仟零伍元整"), ("10.05", "壹拾元零伍分"),
    ("100010000", "壹亿零壹万元整"), ("20.30", "贰拾元叁角"), ("0.07", "柒分"),
])
def test_to_words_writes_financial_numerals(value, words):
    assert to_words(Decimal(value)) == words


@pytest.mark.parametrize("garbled", ["壹佰贰拾叁元肆角伍", "壹贰元整", "佰元整", "壹佰贰拾叁", "壹佰页元整", ""])
def test_parse_words_rejects_garbled_text(garbled):
    with pytest.raises(AmountWordsError):
        parse_words(garbled)


@given(st.integers(min_value=0, max_value=10**12 - 1))
def test_words_round_trip(cents_or_yuan):
    amount = (Decimal(cents_or_yuan) / 100).quantize(Decimal("0.01"))
    assert parse_words(to_words(amount)) == amount


@given(st.text(alphabet="零壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整x", max_size=12))
def test_parse_words_never_crashes_on_random_text(text):
    try:
        assert parse_words(text) >= 0
    except AmountWordsError:
        pass


@pytest.mark.parametrize("raw, value", [
    ("¥1,234.50", "1234.50"), ("￥１２３．４５", "123.45"), ("12O.5O", "120.50"), ("l23.4S", "123.45"),
    ("B8.00元", "88.00"), ("12,50", "12.50"), ("746.2", "746.20"), ("无", None),
])
def test_parse_amount_fixes_misreads(raw, value):
    result = parse_amount(raw)
    assert (None if result is None else f"{result:.2f}") == value


def test_dates_and_codes_normalise():
    assert parse_date("2024年5月12日") == "2024-05-12"
    assert parse_date("2O24-O5-12") == "2024-05-12"
    assert parse_date("20240512") == "2024-05-12"
    assert parse_date("2024-02-30") is None
    assert parse_digits("32O6Ol25") == "32060125"
    assert to_halfwidth("（小写）：１２") == "(小写):12"
    assert parse_hex("b920cl") == "b920c1" and parse_hex("Ｏ5e82e") == "05e82e"


def box(text, x, y, w=None, h=30, conf=0.99):
    w = w or 30 * len(text)
    return TextBox(text, ((x, y), (x + w, y), (x + w, y + h), (x, y + h)), conf)


def test_group_lines_orders_by_row_then_x():
    boxes = [box("B", 400, 102), box("A", 10, 100), box("C", 10, 150), box("D", 300, 148, h=34)]
    lines = group_lines(boxes)
    assert [[b.text for b in line.boxes] for line in lines] == [["A", "B"], ["C", "D"]]


def test_group_lines_keeps_a_slightly_tilted_row_together():
    boxes = [box("左", 0, 100), box("中", 300, 108), box("右", 600, 116), box("下", 0, 160)]
    assert [line.text for line in group_lines(boxes)] == ["左 中 右", "下"]


def electronic_lines(total="123.45", words="壹佰贰拾叁元肆角伍分", items=(("西药费", "100.00"), ("检查费", "23.45"))):
    rows = [
        [box("江苏省医疗门诊收费票据（电子）", 400, 20)],
        [box("票据代码：32060125", 50, 100), box("交款人统一社会信用代码：", 500, 100), box("票据号码：", 1000, 100), box("0012345678", 1150, 100)],
        [box("交款人：张三", 50, 150), box("校验码：a1b2c3", 500, 150), box("开票日期：2024-05-12", 1000, 150)],
        [box("项目名称", 60, 200), box("金额(元)", 600, 200), box("备注", 900, 200)],
        *[[box(name, 60, 250 + 45 * k), box(amount, 640, 250 + 45 * k)] for k, (name, amount) in enumerate(items)],
        [box(f"合计（大写）：{words}", 50, 400), box(f"（小写）：{total}", 1000, 400)],
        [box("医保类型：职工基本医疗保险", 500, 450), box("医保编号：1234567890", 1000, 450)],
        [box("医保统筹基金支付：", 50, 500), box("80.00", 330, 500), box("其他支付：0.00", 500, 500), box("个人账户支付：20.00", 1000, 500)],
        [box("个人现金支付：23.45", 50, 550)],
        [box("收款单位(章)：南京市第一人民医院", 50, 600), box("复核人：李四", 700, 600), box("收款人：王五", 1000, 600)],
    ]
    return group_lines([b for row in rows for b in row])


def test_template_chosen_by_keywords():
    assert choose_template(electronic_lines(), TEMPLATES).name == "outpatient_electronic"
    paper = group_lines([box("安徽省医疗门诊收费票据", 0, 0), box("姓名：张三", 0, 50)])
    assert choose_template(paper, TEMPLATES).name == "outpatient_paper"
    inpatient = group_lines([box("浙江省医疗住院收费票据(电子)", 0, 0), box("住院号：123", 0, 50)])
    assert choose_template(inpatient, TEMPLATES).name == "inpatient_electronic"


def test_every_template_names_only_known_fields_and_has_items():
    assert len(TEMPLATES) >= 3
    for template in TEMPLATES:
        assert {f.name for f in template.fields} <= set(FIELD_NAMES)
        assert template.item_header and template.item_amount_header


def test_extract_anchors_on_labels_and_stops_at_next_label():
    lines = electronic_lines()
    ex = extract(lines, choose_template(lines, TEMPLATES))
    values = {k: v.value for k, v in ex.fields.items()}
    assert values == {
        "bill_code": "32060125", "bill_number": "0012345678", "check_code": "a1b2c3", "issue_date": "2024-05-12",
        "payer": "张三", "hospital": "南京市第一人民医院", "insurance": "职工基本医疗保险", "total": "123.45",
        "total_in_words": "壹佰贰拾叁元肆角伍分", "fund_paid": "80.00", "personal_account_paid": "20.00",
        "personal_cash_paid": "23.45"}
    assert [(i["name"], i["amount"]) for i in ex.items] == [("西药费", "100.00"), ("检查费", "23.45")]


def test_value_printed_under_its_label_is_found():
    lines = group_lines([box("住院收费票据", 0, 0), box("票据代码", 50, 100), box("票据号码", 600, 100),
                         box("32060125", 50, 150), box("0012345678", 600, 150)])
    ex = extract(lines, TEMPLATES[0])
    assert ex.fields["bill_code"].value == "32060125"
    assert ex.fields["bill_number"].value == "0012345678"


def checks_for(lines, claimed=None):
    ex = extract(lines, choose_template(lines, TEMPLATES))
    fields = {k: v.value for k, v in ex.fields.items()}
    return run_checks(fields, ex.items, claimed, today=dt.date(2025, 1, 1))


def test_checks_pass_on_a_consistent_receipt():
    assert checks_for(electronic_lines()) == {
        "words_match": True, "items_sum": True, "payments_sum": True, "date_valid": True,
        "bill_code_format": True, "bill_number_format": True, "check_code_format": True, "not_duplicate": None}


def test_checks_catch_altered_receipts():
    changed_total = checks_for(electronic_lines(total="128.45"))
    assert changed_total["words_match"] is False and changed_total["items_sum"] is False
    assert changed_total["payments_sum"] is False
    wrong_words = checks_for(electronic_lines(words="壹佰贰拾捌元肆角伍分"))
    assert wrong_words["words_match"] is False and wrong_words["items_sum"] is True
    item_mismatch = checks_for(electronic_lines(items=(("西药费", "100.00"), ("检查费", "33.45"))))
    assert item_mismatch["items_sum"] is False and item_mismatch["words_match"] is True
    assert fields_to_review(item_mismatch) == {"total", "items"}


def test_future_date_and_bad_codes_fail():
    fields = {"issue_date": "2030-01-01", "bill_code": "3206012", "bill_number": "00123456789"}
    checks = run_checks(fields, [], today=dt.date(2025, 1, 1))
    assert checks["date_valid"] is False
    assert checks["bill_code_format"] is False and checks["bill_number_format"] is False
    assert {"issue_date", "bill_code", "bill_number"} <= fields_to_review(checks)


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_duplicate_receipt_is_detected(kind, tmp_path):
    claimed = InMemoryClaimedReceipts() if kind == "memory" else SqliteClaimedReceipts(tmp_path / "claimed.sqlite3")
    assert checks_for(electronic_lines(), claimed)["not_duplicate"] is True
    assert claimed.claim("32060125", "0012345678", "claim-1") is True
    assert claimed.claim("32060125", "0012345678", "claim-2") is False
    assert checks_for(electronic_lines(), claimed)["not_duplicate"] is False


def test_sqlite_claims_survive_reopening(tmp_path):
    path = tmp_path / "claimed.sqlite3"
    first = SqliteClaimedReceipts(path)
    first.claim("32060125", "0012345678")
    first.close()
    assert SqliteClaimedReceipts(path).is_claimed("32060125", "0012345678")


def test_rotated_page_rows_do_not_merge():
    # 2° tilt: across 1200 px a row drifts 42 px, more than the 44 px row pitch minus a glyph
    import math
    slope = math.tan(math.radians(2))
    boxes = []
    for row in range(3):
        for col, x in enumerate((0, 600, 1100)):
            y = 100 + 44 * row + slope * x
            boxes.append(TextBox(f"r{row}c{col}", ((x, y), (x + 100, y + slope * 100), (x + 100, y + 30 + slope * 100), (x, y + 30)), 0.99))
    assert [line.text for line in group_lines(boxes)] == ["r0c0 r0c1 r0c2", "r1c0 r1c1 r1c2", "r2c0 r2c1 r2c2"]


# -- issue 23: repairs a blurred reading's own arithmetic forces, and only those ---------------
_RECEIPT = {"total": "2916.22", "total_in_words": "贰仟玖佰壹拾陆元贰角贰分", "fund_paid": "2041.35",
            "personal_account_paid": "0.00", "personal_cash_paid": "874.87"}
_ITEMS = [{"name": "床位费", "amount": "916.22"}, {"name": "手术费", "amount": "2000.00"}]


def test_reconcile_restores_a_lost_point_and_dropped_words():
    from kiosk.ocr.checks import reconcile

    read = {**_RECEIPT, "fund_paid": "204135.00", "total_in_words": "贰仟玖佰壹陆元贰角贰分"}
    fixed, review = reconcile(read, _ITEMS)
    assert fixed == _RECEIPT and review == set()
    checks = run_checks(fixed, _ITEMS, today=dt.date(2025, 1, 1))
    assert checks["words_match"] and checks["items_sum"] and checks["payments_sum"]


def test_reconcile_marks_a_one_digit_repair_for_review_and_leaves_ambiguity_alone():
    from kiosk.ocr.checks import reconcile

    fixed, review = reconcile({**_RECEIPT, "fund_paid": "2049.35"}, _ITEMS)  # cash would need 2 digits
    assert fixed["fund_paid"] == "2041.35" and review == {"fund_paid"}
    # 2041.95: either the fund (→ 2041.35) or the cash (→ 874.27) is one digit off — left alone
    assert reconcile({**_RECEIPT, "fund_paid": "2041.95"}, _ITEMS)[0]["fund_paid"] == "2041.95"
    # two payments wrong: nothing is forced, nothing changes
    two = {**_RECEIPT, "fund_paid": "204135.00", "personal_cash_paid": "874.80"}
    assert reconcile(two, _ITEMS) == (two, set())
    # words that are not the total's words with glyphs missing stay as read
    other = {**_RECEIPT, "total_in_words": "叁仟元整"}
    assert reconcile(other, _ITEMS)[0]["total_in_words"] == "叁仟元整"
    # a total nothing corroborates is not a basis for any repair
    lone = {**_RECEIPT, "personal_cash_paid": "87.487", "total_in_words": "贰仟玖佰"}
    assert reconcile(lone, [])[0] == lone


def test_a_misread_label_is_cut_off_a_name():
    from kiosk.ocr.extract import cut_misread_label

    templates = {t.name: t for t in load_templates()}
    electronic = templates["outpatient_electronic"].all_labels()
    paper = templates["outpatient_paper"].all_labels()
    assert cut_misread_label("马强模轴码:fladia开票目期:2023-12-21", electronic) == "马强"
    assert cut_misread_label("郭玉性制:女", paper) == "郭玉"
    assert cut_misread_label("张三", paper) == "张三"  # no colon: nothing to cut
