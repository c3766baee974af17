"""Envelope, 1101/5301 and 电子凭证 messages against fixtures written from the published
《医疗保障信息平台定点医药机构接口规范》 (tests/fixtures/upstream): field names, lengths, codes;
the msgid sequence (unique over 100,000 calls and across restarts and processes); signing;
the code table."""
from __future__ import annotations

import datetime as dt
import json
import multiprocessing
import os
from pathlib import Path

import pytest

from kiosk.hub.upstream import codes, signing
from kiosk.hub.upstream.envelope import (EnvelopeError, Institution, MalformedReply, MsgIdSequence, build_reply,
                                         build_request, msgid_valid, parse_reply)
from kiosk.hub.upstream.transactions import (chronic_filings_input, ec_query_request, parse_chronic_filings,
                                             parse_ec_query, parse_person_info, person_info_input)

FIXTURES = Path(__file__).parent / "fixtures" / "upstream"
CODE = "H11010500001"
INSTITUTION = Institution(CODE, "示范镇医保服务站", "110105", signtype="HMACSHA256")


def fixture(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_request_envelope_has_exactly_the_specified_fields_within_their_lengths(tmp_path):
    spec = fixture("envelope.json")["request"]
    msgid = MsgIdSequence(CODE, tmp_path / "msgid.state").next()
    message = build_request(INSTITUTION, "1101", msgid, person_info_input("02", "110105195003070019", "110105195003070019"),
                            now=dt.datetime(2025, 3, 1, 9, 30, 5))
    assert list(message) == list(spec)  # names and order as the specification lists them
    for name, rule in spec.items():
        if "max" in rule:
            assert isinstance(message[name], str) and len(message[name]) <= rule["max"], name
        if rule.get("required") and name != "input":
            assert message[name], name
    assert len(message["msgid"]) == spec["msgid"]["exact"] and message["msgid"].startswith(CODE)
    assert message["opter_type"] in spec["opter_type"]["codes"] and message["opter_type"] == "2"  # 自助终端
    assert message["inf_time"] == "2025-03-01 09:30:05"
    json.dumps(message, ensure_ascii=False)  # all plain JSON


@pytest.mark.parametrize("field,value", [("fixmedins_name", "名" * 51), ("opter", "x" * 31), ("mdtrtarea_admvs", "1101")])
def test_a_field_over_its_length_is_refused_before_sending(tmp_path, field, value):
    institution = Institution(**{**INSTITUTION.__dict__, field: value})
    with pytest.raises(EnvelopeError, match=field):
        build_request(institution, "1101", MsgIdSequence(CODE, tmp_path / "s").next(), {"data": {}})


def test_reply_envelope_round_trip_and_malformed_replies():
    spec = fixture("envelope.json")["response"]
    reply = build_reply("x", 0, {"baseinfo": {}}, admdvs="110000", serial=42)
    assert set(reply) == set(spec)
    assert len(reply["inf_refmsgid"]) == spec["inf_refmsgid"]["max"] and reply["inf_refmsgid"].startswith("110000")
    assert len(reply["refmsg_time"]) == len(reply["respond_time"]) == 17
    parsed = parse_reply(json.dumps(reply))
    assert parsed.ok and parsed.infcode == 0 and "baseinfo" not in repr(parsed)
    assert parse_reply(json.dumps({**reply, "infcode": "-1", "err_msg": "未查询到人员", "output": None})).infcode == -1
    for bad in (b"<html>", b"[]", b'{"output": {}}', b'{"infcode": "x"}', b'{"infcode": true}', b'{"infcode": 0}',
                b'{"infcode": 0, "output": "text"}', b"\xff\xfe", b"[" * 100_000):
        with pytest.raises(MalformedReply):
            parse_reply(bad)


def test_1101_messages_follow_the_fixture():
    spec = fixture("1101.json")
    for cert_type in spec["input"]["mdtrt_cert_type"]["codes"]:
        data = person_info_input(cert_type, "X" * 10, "110105195003070019")[spec["input_node"]]
        assert list(data) == list(spec["input"])
        assert all(len(data[k]) <= rule["max"] for k, rule in spec["input"].items())
    with pytest.raises(ValueError):
        person_info_input("04", "x")
    with pytest.raises(ValueError):
        person_info_input("02", "1" * 51)
    info = parse_person_info(spec["sample_output"])
    assert info.certno == "110105195306150024" and info.brdy == dt.date(1953, 6, 15)
    assert [i.insutype for i in info.insurances] == ["310", "390"] and str(info.insurances[0].balc) == "12840.25"
    assert "张秀英" not in repr(info) and "110105195306150024" not in repr(info)
    for broken in ({}, {"baseinfo": []}, {"baseinfo": {"certno": "1"}}, {"baseinfo": {"psn_no": "1", "certno": "1"}, "insuinfo": "x"},
                   {"baseinfo": {"psn_no": "1", "certno": "1", "brdy": "not a date"}},
                   {"baseinfo": {"psn_no": "1", "certno": "1"}, "insuinfo": [{"insutype": "310", "psn_insu_stas": "1", "balc": "NaN"}]}):
        with pytest.raises(MalformedReply):
            parse_person_info(broken)


def test_5301_messages_follow_the_fixture():
    spec = fixture("5301.json")
    assert list(chronic_filings_input("P1")[spec["input_node"]]) == list(spec["input"])
    with pytest.raises(ValueError):
        chronic_filings_input("1" * 31)
    diseases = parse_chronic_filings(spec["sample_output"])
    assert [(d.code, d.name, d.enddate) for d in diseases] == [("M03300", "糖尿病", None), ("M03900", "高血压病", dt.date(2030, 11, 1))]
    assert "糖尿病" not in repr(diseases)
    with pytest.raises(MalformedReply):
        parse_chronic_filings({"feedetail": [{"opsp_dise_name": "x"}]})


def test_ec_query_messages_follow_the_fixture():
    spec = fixture("ec_query.json")
    request = ec_query_request(CODE, "KIOSK-HUB", "医保自助终端", "YBPZ-DEMO-X")
    assert request["transType"] == spec["transType"] and list(request["data"]) == spec["request_data"]
    code, _, holder = parse_ec_query({"code": 0, "data": {"idNo": "110105195003070019", "idType": "01", "userName": "张三",
                                                         "ecToken": "t" * 32, "insuOrg": "110105"}})
    assert code == 0 and holder is not None and holder.ec_token == "t" * 32 and "张三" not in repr(holder)
    assert parse_ec_query({"code": 1, "message": "无效", "data": None})[2] is None
    with pytest.raises(MalformedReply):
        parse_ec_query({"code": 0, "data": {"idNo": "1"}})


def test_code_table_names_every_published_code_and_never_shows_a_raw_code():
    for table, names in fixture("codes.json").items():
        for code, expected in names.items():
            assert codes.name(table, code) == expected, (table, code)
    for table in codes.TABLES:
        assert not any(ch.isdigit() for ch in codes.name(table, "99999")), table
    assert codes.insutype_short("310") == "职工" and codes.insutype_short("390") == "城乡居民"
    assert codes.region_name("360102") == "江西省"


# -- msgid -------------------------------------------------------------------------------------------
def test_msgid_is_unique_over_100000_calls_and_across_a_restart(tmp_path):
    state = tmp_path / "msgid.state"
    frozen = 1_740_000_000.0  # a stopped clock: 100,000 calls must still never repeat
    first = MsgIdSequence(CODE, state, clock=lambda: frozen)
    ids = [first.next() for _ in range(100_000)]
    assert len(set(ids)) == 100_000 and all(len(i) == 30 and msgid_valid(i, CODE) for i in ids)
    restarted = MsgIdSequence(CODE, state, clock=lambda: frozen - 3600)  # and the clock stepped back an hour
    after = [restarted.next() for _ in range(20_000)]
    assert not set(after) & set(ids) and len(set(after)) == 20_000
    assert oct(state.stat().st_mode & 0o777) == "0o600"


def _claim_many(state: str, n: int, queue) -> None:
    sequence = MsgIdSequence(CODE, Path(state))
    queue.put([sequence.next() for _ in range(n)])


def test_msgid_is_unique_across_processes_sharing_the_state_file(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_claim_many, args=(str(tmp_path / "msgid.state"), 15_000, queue)) for _ in range(3)]
    for w in workers:
        w.start()
    batches = [queue.get(timeout=120) for _ in workers]
    for w in workers:
        w.join(30)
    ids = [i for batch in batches for i in batch]
    assert len(ids) == 45_000 and len(set(ids)) == 45_000


def test_msgid_refuses_a_wrong_institution_code(tmp_path):
    with pytest.raises(EnvelopeError):
        MsgIdSequence("H110", tmp_path / "s")


# -- signing -----------------------------------------------------------------------------------------
def test_hmac_signature_verifies_and_any_change_is_refused():
    signer = signing.HmacSha256Signer("ak-1", "secret-1", clock=lambda: 1_740_000_000.0)
    body = '{"infno":"1101"}'.encode()
    headers = signer.headers(body)
    assert set(headers) == {signing.HEADER_KEY, signing.HEADER_TIME, signing.HEADER_NONCE, signing.HEADER_SIGNATURE}
    keys = {"ak-1": "secret-1"}
    assert signing.verify(headers, body, keys, now=1_740_000_010.0) is None
    assert signing.verify(headers, body + b" ", keys, now=1_740_000_010.0) == "bad signature"
    assert signing.verify(headers, body, {"ak-1": "other"}, now=1_740_000_010.0) == "bad signature"
    assert signing.verify(headers, body, {"ak-2": "secret-1"}, now=1_740_000_010.0) == "unknown access key"
    assert signing.verify(headers, body, keys, now=1_740_001_000.0) == "timestamp outside the allowed window"
    assert signing.verify({}, body, keys) == "unsigned request"
    assert "secret-1" not in repr(signer)
    # the documented construction, recomputed independently
    import base64
    import hashlib
    import hmac
    text = f"{headers['x-ca-timestamp']}\n{headers['x-ca-nonce']}\n{hashlib.sha256(body).hexdigest()}".encode()
    assert headers["x-ca-signature"] == base64.b64encode(hmac.new(b"secret-1", text, hashlib.sha256).digest()).decode()


def test_key_file_must_be_private_and_complete(tmp_path):
    path = signing.write_keys(tmp_path / "k", "ak", "sk")
    assert oct(path.stat().st_mode & 0o777) == "0o600" and signing.load_keys(path) == ("ak", "sk")
    os.chmod(path, 0o640)
    with pytest.raises(signing.SigningKeyError, match="chmod 600"):
        signing.load_keys(path)
    os.chmod(path, 0o600)
    path.write_text('access_key = "ak"\n')
    with pytest.raises(signing.SigningKeyError, match="secret_key"):
        signing.load_keys(path)
    with pytest.raises(signing.SigningKeyError, match="not found"):
        signing.load_keys(tmp_path / "missing")
