"""The hub against the platform simulator over HTTP: the record query, its diseases, the
e-voucher, card evidence checked by the platform, and every fault (timeouts, infcode errors,
malformed replies, gateway errors, a bad signature) — the kiosk always gets a clear answer in
bounded time, and no personal data reaches a log line."""
from __future__ import annotations

import logging
import time

import httpx
import pytest

from kiosk.hub.server import start_hub_in_thread
from kiosk.hub.upstream.setup import open_platform
from kiosk.hub.upstream.signing import HmacSha256Signer
from kiosk.hub.upstream.simulator import start_platform_sim
from kiosk.hub import demo
from tests.hub_fixtures import KIOSK, TOKEN

AUTH = {"Authorization": f"Bearer {TOKEN}"}
ZHANG_XIUYING, WANG_SHULAN, LI_JIANGUO, ABDU, ZHANG_SAN = (
    "110105195306150024", "110102195603080043", "650102195201011235", "650104195807150013", "110105195003070019")
FOREIGN = "911100198001010014"  # a valid check digit, but no insurance here
PERSONAL = [ZHANG_XIUYING, WANG_SHULAN, LI_JIANGUO, ABDU, ZHANG_SAN, FOREIGN, "张秀英", "王淑兰", "李建国", "张三",
            "A01234567", "B00987654", "C12345678", "糖尿病", "高血压", "冠心病"]
TIMEOUT_S = 1.0


@pytest.fixture
def platform(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)  # everything any logger says is checked for personal data
    keys = {"ak-test": "sk-test"}
    sim = start_platform_sim(keys=keys)
    service = open_platform(sim.settings(timeout_s=TIMEOUT_S, retries=1), tmp_path / "msgid.state",
                            HmacSha256Signer("ak-test", "sk-test"), idcard_register=demo.card_register)
    hub = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {TOKEN: KIOSK}, platform=service)
    yield hub, sim
    hub.stop()
    sim.stop()
    service.close()
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    leaked = [p for p in PERSONAL if p in text]
    assert not leaked, f"personal data in logs: {leaked}"


def card_evidence(id_number):
    """What the kiosk sends after reading this person's ID card (the hub requires evidence)."""
    from kiosk.hub import demo

    register = demo.card_register(id_number)
    keys = ("id_issuer", "id_valid_from", "id_valid_until")
    if all(register.get(k) for k in keys):
        return {k: register[k] for k in keys}
    return {"id_name": "名字"}  # a permit without an issuer: the kiosk sends the name read from the card


def record(hub, id_number, evidence=None, **extra):
    evidence = card_evidence(id_number) if evidence is None else evidence
    body = {"id_number": id_number, **({"evidence": evidence} if evidence else {}), **extra}
    return httpx.post(hub.url + "/v1/persons/record", json=body, headers=AUTH, timeout=30)


def voucher(hub, code):
    return httpx.post(hub.url + "/v1/vouchers/resolve", json={"code": code}, headers=AUTH, timeout=30)


def resident_texts(body: dict) -> list[str]:
    texts = [body["status"], body["insurance_type"], body["scheme"], body["region"]]
    for i in body.get("insurances", []):
        texts += [i["insutype_name"], i["psn_type_name"], i["status_name"], i["region"]]
    return texts


def test_record_from_1101_with_names_not_codes_and_filed_diseases_from_5301(platform, caplog):
    hub, sim = platform
    r = record(hub, ZHANG_XIUYING, {"sscard_number": "A01234567"}, diseases=True)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["enrolled"], body["status"], body["insurance_type"], body["scheme"], body["region"]) == (
        True, "正常参保", "职工", "职工基本医疗保险", "北京市")
    assert body["insurances"][0]["psn_type_name"] == "退休人员" and body["paid_until"].endswith("-12-31")
    assert not any(ch.isdigit() for text in resident_texts(body) for ch in text)  # residents never see a raw code
    assert [d["name"] for d in body["filed_diseases"]] == ["糖尿病", "高血压病"] and body["demo"] is True
    assert "annual_contribution_yuan" not in body  # 1101 does not carry it: absent, not invented
    assert [infno for infno, _ in sim.sim.calls] == ["1101", "5301"]
    audit = [r.getMessage() for r in caplog.records if r.name == "kiosk.hub.upstream.audit"]
    assert len(audit) == 2 and all("outcome=ok" in line and "person=110105********0024" in line for line in audit)


def test_population_cases(platform):
    hub, _sim = platform
    paused = record(hub, WANG_SHULAN, {"id_name": "王淑兰"}).json()  # her ID card: the name checked by 1101
    assert (paused["enrolled"], paused["status"], paused["paid_until"]) == (True, "暂停参保", "2023-12-31")
    ended = record(hub, ABDU, {"sscard_number": "D23456789"}).json()
    assert (ended["enrolled"], ended["status"]) == (False, "终止参保")
    several = record(hub, LI_JIANGUO, {"sscard_number": "C12345678"}).json()
    assert [(i["insutype_name"], i["status_name"]) for i in several["insurances"]] == [
        ("城乡居民基本医疗保险", "正常参保"), ("职工基本医疗保险", "终止参保")]
    assert several["insurance_type"] == "城乡居民" and several["region"] == "新疆维吾尔自治区"
    missing = record(hub, FOREIGN)
    assert missing.status_code == 404 and missing.json()["error"] == "person_not_found"
    assert "窗口" in missing.json()["detail"]["message_zh"] and missing.json()["detail"]["message_en"]


def test_card_evidence_is_checked_by_the_platform(platform):
    hub, sim = platform
    expired = record(hub, WANG_SHULAN, {"sscard_number": "B00987654"})  # the platform refuses an expired card
    assert (expired.status_code, expired.json()["error"]) == (403, "evidence_mismatch")
    other = record(hub, ZHANG_XIUYING, {"sscard_number": "C12345678"})  # someone else's card
    assert (other.status_code, other.json()["error"]) == (403, "evidence_mismatch")
    sent = [c for c in sim.sim.calls if c[0] == "1101"]
    assert len(sent) == 2  # both asked the platform (mdtrt_cert_type 03), and were told no
    assert [a["outcome"] for a in hub.store.lookups()] == ["mismatch", "mismatch"]


def test_e_voucher_decoded_then_1101_with_the_token(platform):
    hub, sim = platform
    r = voucher(hub, "ybpz-demo-" + ZHANG_SAN)
    assert r.status_code == 200, r.text
    assert {k: r.json()[k] for k in ("name", "id_number", "sex", "birth_date")} == {
        "name": "张三", "id_number": ZHANG_SAN, "sex": "男", "birth_date": "1950-03-07"}
    assert [infno for infno, _ in sim.sim.calls] == ["ec.query", "1101"]
    for code in ("YBPZ-DEMO-" + FOREIGN, "hello", "YBPZ-DEMO-110105194912310021"):
        refused = voucher(hub, code)
        assert refused.status_code == 404 and refused.json()["error"] in ("unknown_voucher", "person_not_found"), code


@pytest.mark.parametrize("fault,status,error", [
    ({"delay_s": 3.0}, 504, "upstream_timeout"),
    ({"infcode": -2, "err_msg": "系统繁忙 张秀英 110105195306150024"}, 502, "upstream_error"),
    ({"infcode": -1, "err_msg": "未查询到人员信息"}, 404, "person_not_found"),
    ({"malformed": True}, 502, "upstream_bad_reply"),
    ({"http_status": 503}, 502, "upstream_unavailable"),
    ({"http_status": 403}, 502, "upstream_auth"),
])
def test_each_fault_gets_a_clear_answer_in_bounded_time(platform, fault, status, error):
    hub, sim = platform
    for name, value in fault.items():
        setattr(sim.faults, name, value)
    for call in (lambda: record(hub, ZHANG_SAN), lambda: voucher(hub, "YBPZ-DEMO-" + ZHANG_SAN)):
        started = time.monotonic()
        r = call()
        elapsed = time.monotonic() - started
        expected_error = "unknown_voucher" if error == "person_not_found" and "/vouchers/" in str(r.url) else error
        assert (r.status_code, r.json()["error"]) == (404 if expected_error == "unknown_voucher" else status, expected_error), r.text
        detail = r.json()["detail"]
        assert detail["message_zh"] and detail["message_en"] and "infcode" not in detail["message_zh"]
        assert elapsed < 2 * TIMEOUT_S + 2.5  # two attempts at most, never a hang
        assert ZHANG_SAN not in r.text
    if error in ("upstream_timeout", "upstream_unavailable", "upstream_bad_reply"):
        lines = [l for l in hub.store.lookups()]
        assert lines[-1]["outcome"] == error  # the failed lookup is audited too
    sim.faults.clear()
    assert record(hub, ZHANG_SAN).status_code == 200  # and the platform's recovery is the hub's


def test_queries_are_retried_once_with_a_new_msgid(platform, caplog):
    hub, sim = platform
    sim.faults.http_status, sim.faults.times = 503, 1
    assert record(hub, ZHANG_SAN).status_code == 200
    audit = [r.getMessage() for r in caplog.records if r.name == "kiosk.hub.upstream.audit" and " 1101 " in r.getMessage()]
    assert [("attempt=1" in a and "outcome=unavailable" in a, "attempt=2" in a and "outcome=ok" in a) for a in audit] == [
        (True, False), (False, True)]
    msgids = [a.split("msgid=")[1].split()[0] for a in audit]
    assert len(set(msgids)) == 2


def test_a_write_transaction_is_never_retried(platform, caplog):
    _hub, sim = platform
    from kiosk.hub.upstream.errors import UpstreamError

    client = _hub.platform.client
    sim.faults.http_status = 503
    with pytest.raises(UpstreamError):
        client.call("2201", {"data": {}}, refusal="upstream_error")  # not a query: one attempt only
    attempts = [r for r in caplog.records if r.name == "kiosk.hub.upstream.audit" and " 2201 " in r.getMessage()]
    assert len(attempts) == 1


def test_a_wrong_signing_key_is_a_clear_configuration_answer(tmp_path):
    sim = start_platform_sim(keys={"ak-test": "sk-test"})
    service = open_platform(sim.settings(timeout_s=TIMEOUT_S), tmp_path / "msgid.state", HmacSha256Signer("ak-test", "wrong"))
    hub = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {TOKEN: KIOSK}, platform=service)
    try:
        r = record(hub, ZHANG_SAN, {"id_name": "张三"})  # no card register here: the name is the ID card's evidence
        assert (r.status_code, r.json()["error"]) == (502, "upstream_auth")
        assert sim.sim.calls == []  # refused at the gateway: nothing reached a transaction
    finally:
        hub.stop()
        sim.stop()
        service.close()


def test_no_platform_configured_is_503(tmp_path):
    with start_hub_in_thread(str(tmp_path / "hub.sqlite3"), {TOKEN: KIOSK}, platform=None) as hub:
        r = record(hub, ZHANG_SAN)
        assert (r.status_code, r.json()["error"]) == (503, "upstream_not_configured")
        assert voucher(hub, "YBPZ-DEMO-" + ZHANG_SAN).status_code == 503


def test_msgids_the_platform_saw_are_unique_and_well_formed(platform):
    hub, sim = platform
    for _ in range(20):
        assert record(hub, ZHANG_SAN).status_code == 200
    msgids = [m for infno, m in sim.sim.calls if infno == "1101"]
    assert len(msgids) == len(set(msgids)) == 20 and all(m.startswith("H11010500001") and len(m) == 30 for m in msgids)


# -- the kiosk's journeys with a faulty platform ------------------------------------------------------
def _identified(kiosk_shell):
    from pathlib import Path

    from drivers.idcard.simulator import load_profile
    from kiosk.ui.journey import Journey, click

    shell, hub = kiosk_shell()
    j = Journey(shell.window, log=lambda _: None)
    shell.runtime.sims.idcard.insert(load_profile(Path(__file__).resolve().parent.parent / "assets/cards/idcard/young_parent.json"))
    j.on_screen("identify")
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("home")
    return shell, hub, j


@pytest.mark.parametrize("fault", [{"malformed": True}, {"infcode": -2}])
def test_record_query_journey_with_a_faulty_platform_tells_the_resident(kiosk_shell, fault):
    from kiosk.ui.journey import click, wait_until

    shell, hub, j = _identified(kiosk_shell)
    for name, value in fault.items():
        setattr(hub.platform_sim.faults, name, value)
    j.choose_service("record_query")
    j.on_screen("form")
    j.fill_form({"purpose": "query"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.record_error, 30, "the resident's message")
    assert "稍后再试" in shell.controller.done_view.record_error or "窗口" in shell.controller.done_view.record_error
    assert shell.controller.done_view.record is None


def test_e_voucher_journey_with_a_slow_platform_does_not_hang(kiosk_shell):
    from kiosk.ui.journey import Journey, wait_until

    shell, hub = kiosk_shell()
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service("record_query")
    j.on_screen("identify")
    hub.platform_sim.faults.delay_s = 30.0  # far beyond the hub's platform timeout
    hub.platform_sim.faults.only = frozenset({"ec.query"})
    started = time.monotonic()
    shell.runtime.sims.qrscan.scan("YBPZ-DEMO-" + ZHANG_SAN)
    wait_until(lambda: "电子凭证" in shell.window.identify.state.text(), 30, "the e-voucher message")
    assert time.monotonic() - started < 15 and shell.controller.session.person is None
    assert not shell.window.identify.continue_button.isEnabled()


def test_record_query_for_a_person_the_platform_does_not_know_says_so_not_network(kiosk_shell):
    """The platform's refusal reaches the resident as its own message (check at a counter),
    not as "the network is down"."""
    from kiosk.ui.journey import click, wait_until

    shell, hub, j = _identified(kiosk_shell)
    hub.platform_sim.faults.infcode = -1
    hub.platform_sim.faults.only = frozenset({"1101"})
    j.choose_service("record_query")
    j.on_screen("form")
    j.fill_form({"purpose": "query"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.record_error, 30, "the resident's message")
    assert "未查到您的参保信息" in shell.controller.done_view.record_error
    assert "网络" not in shell.controller.done_view.record_error


def test_hub_resident_message_is_taken_only_as_short_plain_text():
    from kiosk.services.sync import _resident_message

    assert _resident_message({"detail": {"message_zh": "请到窗口核实", "message_en": "Check at a counter"}}) == (
        "请到窗口核实", "Check at a counter")
    assert _resident_message({"detail": {"message_zh": "<b>x</b>", "message_en": "x"}}) == ("", "")
    assert _resident_message({"detail": {"message_zh": "x" * 201, "message_en": "x"}}) == ("", "")
    assert _resident_message({"detail": {"message_zh": "a\nb", "message_en": "x"}}) == ("", "")
    assert _resident_message({"detail": "text"}) == ("", "") and _resident_message(None) == ("", "")


def test_lookups_need_evidence_and_a_voucher_grant_is_bound_to_its_kiosk_and_person(platform):
    """A bare ID number opens nothing; the grant from a voucher resolution opens that person's
    record from that kiosk only; without a card register the ID card's name is checked by 1101."""
    hub, _sim = platform
    bare = record(hub, ZHANG_SAN, {})
    assert (bare.status_code, bare.json()["error"]) == (403, "evidence_required")
    holder = httpx.post(hub.url + "/v1/vouchers/resolve", json={"code": "YBPZ-DEMO-" + ZHANG_SAN}, headers=AUTH, timeout=30).json()
    grant = holder["lookup_grant"]
    assert record(hub, ZHANG_SAN, {"voucher_grant": grant}).status_code == 200
    assert record(hub, WANG_SHULAN, {"voucher_grant": grant}).json()["error"] == "evidence_mismatch"  # another person
    assert record(hub, ZHANG_SAN, {"voucher_grant": grant[:-1] + "0"}).json()["error"] == "evidence_mismatch"
    assert record(hub, ZHANG_SAN, {"id_name": "李四"}).json()["error"] == "evidence_mismatch"  # 1101 says 张三
    assert record(hub, ZHANG_SAN, {"id_name": "张三"}).status_code == 200


def test_a_voucher_grant_from_another_kiosk_opens_nothing(tmp_path):
    from kiosk.hub.grants import LookupGrants
    from kiosk.hub.keys import HubKeyring

    grants = LookupGrants(HubKeyring.create(tmp_path / "hub.key"), clock=lambda: 1_000_000.0)
    grant = grants.issue("kiosk-a", ZHANG_SAN)
    assert grants.valid("kiosk-a", ZHANG_SAN, grant) and not grants.valid("kiosk-b", ZHANG_SAN, grant)
    later = LookupGrants(HubKeyring.load(tmp_path / "hub.key"), clock=lambda: 1_000_000.0 + 16 * 60)
    assert not later.valid("kiosk-a", ZHANG_SAN, grant)  # expired after the visit
    assert grants.screen("kiosk-b", ZHANG_SAN, {"voucher_grant": grant}) == {"voucher_grant": "bad"}


def test_a_resident_identified_by_e_voucher_gets_their_record(kiosk_shell):
    """The voucher's lookup grant travels with the person, so the hub (which requires evidence)
    answers the record query of a resident who only showed their phone."""
    from kiosk.ui.journey import Journey, click, wait_until

    shell, hub = kiosk_shell()
    j = Journey(shell.window, log=lambda _: None)
    j.choose_service("record_query")
    j.on_screen("identify")
    shell.runtime.sims.qrscan.scan("YBPZ-DEMO-" + ZHANG_SAN)
    j.wait_for_person()
    click(j.find("identify_continue"))
    j.on_screen("form")
    j.fill_form({"purpose": "query"})
    click(j.find("review_submit"))
    wait_until(lambda: shell.controller.done_view.record or shell.controller.done_view.record_error, 30, "the record")
    assert shell.controller.done_view.record is not None, shell.controller.done_view.record_error
    assert [a["outcome"] for a in hub.store.lookups()] == ["ok"]
