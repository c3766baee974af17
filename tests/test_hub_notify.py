"""Issue 18, close the loop: 办结 / 退回补正 set in the console reach the resident as an SMS through a
pluggable sender — here the Aliyun-style SendSms client against its faithful simulator (signed
requests, real error codes): masked name and service title only, queued in the state change's
transaction, retried on throttling, final on a bad signature, skipped without a mobile number."""
from __future__ import annotations

import datetime as dt
import json
import logging
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest

from kiosk.config import load_config
from kiosk.hub.console.routes import ConsoleOptions
from kiosk.hub.console.store import ConsoleStore
from kiosk.hub.notify.sender import AliyunSmsSender, FileSender, SmsMessage, sign
from kiosk.hub.notify.setup import NotifyConfigError, notify_from_config
from kiosk.hub.notify.simulator import DEFAULT_TEMPLATES, SmsSimulator, start_sms_sim
from kiosk.hub.notify.worker import NotifyOptions
from kiosk.hub.server import start_hub_in_thread

from test_hub_console import CST, HASH, PASSWORD, Clock

TOKENS = {"tok-n-1": "N-1"}
KEYS = {"LTAI-test-key": "test-secret-0123456789"}
SIGN = "医保服务"


@pytest.fixture
def sms():
    handle = start_sms_sim(SmsSimulator(KEYS, frozenset({SIGN}), dict(DEFAULT_TEMPLATES)))
    yield handle
    handle.stop()


def make_hub(tmp_path: Path, clock: Clock, sender) -> object:
    options = ConsoleOptions(clock=clock, notify=NotifyOptions(sender, poll_s=0.2, backoff_s=30.0))
    hub = start_hub_in_thread(str(tmp_path / "hub.sqlite3"), TOKENS, console=options, platform=None)
    console = ConsoleStore(hub.store, clock)
    console.set_station("N-1", "north")
    console.put_staff("bureau", "bureau", None, HASH)
    return hub


def submit(hub, phone: str | None = "13912345678", name: str = "张三丰") -> str:
    sid = str(uuid.uuid4())
    answers = {"scheme": "resident", **({"phone": phone} if phone else {})}
    item = {"id": sid, "service": "enrol", "kind": "submission",
            "created_at": dt.datetime(2026, 11, 2, 9, tzinfo=CST).isoformat(),
            "payload": {"applicant": {"name": name, "id_number": "110101199003078515", "source": "idcard"}, "answers": answers}}
    r = httpx.post(hub.url + "/v1/submissions", json={"items": [item]}, headers={"Authorization": "Bearer tok-n-1"})
    assert r.json()["results"][0]["result"] == "accepted"
    return sid


def bureau(hub) -> httpx.Client:
    client = httpx.Client(base_url=hub.url)
    assert client.post("/console/login", json={"user": "bureau", "password": PASSWORD}).status_code == 200
    return client


def queue(hub) -> list[tuple]:
    with hub.store.transaction() as cur:
        cur.execute("SELECT id, state, status, attempts, last_error FROM notify_queue ORDER BY seq")
        return cur.fetchall()


def wait_status(hub, sid: str, status: str, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(r[0] == sid and r[2] == status for r in queue(hub)):
            return
        hub.app.state.notifier.wake()
        time.sleep(0.02)
    raise AssertionError(f"{sid} never {status}: {queue(hub)}")


def test_done_and_returned_reach_the_resident_by_sms_with_the_masked_name_only(tmp_path, sms, caplog):
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    sender = AliyunSmsSender(sms.url, "LTAI-test-key", KEYS["LTAI-test-key"], SIGN)
    hub = make_hub(tmp_path, clock, sender)
    try:
        done_id, returned_id, no_phone = submit(hub), submit(hub, "13700001111", "欧阳娜娜"), submit(hub, None)
        client = bureau(hub)
        assert client.post(f"/api/applications/{done_id}/state", json={"state": "done", "note": "已办结，卡已寄出"}).status_code == 200
        messages = sms.sim.wait_for(1)
        assert messages[0]["phone"] == "13912345678" and messages[0]["template"] == "SMS_KIOSK_DONE"
        assert messages[0]["params"] == {"name": "张**", "service": "参保登记"}
        assert "张三丰" not in messages[0]["text"] and "卡已寄出" not in messages[0]["text"] and "110101" not in messages[0]["text"]
        assert messages[0]["text"].startswith(f"【{SIGN}】张**您好")
        client.post(f"/api/applications/{returned_id}/state", json={"state": "accepted", "note": ""})  # no notice
        client.post(f"/api/applications/{returned_id}/state", json={"state": "returned", "note": "缺少户口本首页"})
        client.post(f"/api/applications/{no_phone}/state", json={"state": "done", "note": ""})
        messages = sms.sim.wait_for(2)
        assert messages[1]["template"] == "SMS_KIOSK_RETURNED" and messages[1]["params"]["name"] == "欧***"
        assert "户口本" not in messages[1]["text"]
        wait_status(hub, no_phone, "skipped")
        assert len(sms.sim.messages) == 2
        wait_status(hub, done_id, "sent")
        assert {r[0]: r[2] for r in queue(hub)} == {done_id: "sent", returned_id: "sent", no_phone: "skipped"}
        page = client.get(f"/console/applications/N-1/{done_id}")
        assert "短信通知" in page.text and "已发送" in page.text
        # the queue row holds no phone; the phone lives only in the sealed submission
        with sqlite3.connect(hub.store.path) as conn:
            dump = "\n".join(conn.iterdump())
        assert "13912345678" not in dump and "13700001111" not in dump
        assert "13912345678" not in caplog.text and "张三丰" not in caplog.text
    finally:
        hub.stop()


def test_throttling_is_retried_later_and_a_bad_signature_is_final(tmp_path, sms):
    clock = Clock()
    sms.sim.faults.throttle_next = 1
    hub = make_hub(tmp_path, clock, AliyunSmsSender(sms.url, "LTAI-test-key", KEYS["LTAI-test-key"], SIGN))
    try:
        sid = submit(hub)
        client = bureau(hub)
        client.post(f"/api/applications/{sid}/state", json={"state": "done", "note": ""})
        wait_status(hub, sid, "pending")
        import time

        deadline = time.monotonic() + 10
        while queue(hub)[0][4] != "isv.BUSINESS_LIMIT_CONTROL" and time.monotonic() < deadline:
            time.sleep(0.02)
        assert queue(hub)[0][3] == 1 and queue(hub)[0][4] == "isv.BUSINESS_LIMIT_CONTROL" and not sms.sim.messages
        clock.now += 31  # past the back-off
        wait_status(hub, sid, "sent")
        assert len(sms.sim.wait_for(1)) == 1 and queue(hub)[0][3] == 2
    finally:
        hub.stop()
    clock = Clock()
    hub = make_hub(tmp_path / "b", clock, AliyunSmsSender(sms.url, "LTAI-test-key", "wrong-secret", SIGN))
    try:
        sid = submit(hub)
        bureau(hub).post(f"/api/applications/{sid}/state", json={"state": "returned", "note": "缺材料"})
        wait_status(hub, sid, "failed")
        assert queue(hub)[0][4] == "SignatureDoesNotMatch" and queue(hub)[0][3] == 1
    finally:
        hub.stop()


def test_the_simulator_checks_what_the_gateway_checks(sms):
    sender = AliyunSmsSender(sms.url, "LTAI-test-key", KEYS["LTAI-test-key"], SIGN)
    ok = SmsMessage("13912345678", "SMS_KIOSK_DONE", {"name": "张*", "service": "参保登记"}, "r1")
    params = sender.request_params(ok)
    assert params["Signature"] == sign({k: v for k, v in params.items() if k != "Signature"}, KEYS["LTAI-test-key"])
    replay = httpx.post(sms.url, data=params)
    assert replay.json()["Code"] == "OK"
    assert httpx.post(sms.url, data=params).json()["Code"] == "SignatureNonceUsed"
    tampered = {**sender.request_params(ok), "PhoneNumbers": "13800000000"}
    assert httpx.post(sms.url, data=tampered).json()["Code"] == "SignatureDoesNotMatch"
    from kiosk.hub.notify.sender import SmsError

    for message, code in ((SmsMessage("12345", "SMS_KIOSK_DONE", ok.params, "r"), "isv.MOBILE_NUMBER_ILLEGAL"),
                          (SmsMessage("13912345678", "SMS_NOPE", ok.params, "r"), "isv.SMS_TEMPLATE_ILLEGAL"),
                          (SmsMessage("13912345678", "SMS_KIOSK_DONE", {"name": "张*"}, "r"), "isv.INVALID_JSON_PARAM"),
                          (SmsMessage("13912345678", "SMS_KIOSK_DONE", {"name": "张*", "service": "长" * 36}, "r"),
                           "isv.PARAM_LENGTH_LIMIT")):
        with pytest.raises(SmsError) as err:
            sender.send(message)
        assert err.value.code == code and not err.value.retryable
    sms.sim.faults.http_500_next = 1
    with pytest.raises(SmsError) as err:
        sender.send(ok)
    assert err.value.retryable
    assert sender.send(ok)  # BizId
    sender.close()


def test_config_chooses_the_sender_in_one_clear_line(tmp_path):
    import dataclasses

    base = load_config(Path(__file__).resolve().parent.parent / "config.toml")
    base = dataclasses.replace(base, data_dir=tmp_path)

    def with_sms(**kw):
        return dataclasses.replace(base, hub=dataclasses.replace(base.hub, sms=dataclasses.replace(base.hub.sms, **kw)))

    assert notify_from_config(base) is None  # the default: no SMS, so no form may promise one
    options = notify_from_config(with_sms(sender="file"))
    assert isinstance(options.sender, FileSender) and options.sender.path == tmp_path / "sms" / "sent.jsonl"
    options.sender.send(SmsMessage("13912345678", "SMS_KIOSK_DONE", {"name": "张*", "service": "x"}, "r"))
    line = json.loads(options.sender.path.read_text(encoding="utf-8"))
    assert line["phone"] != "13912345678" and line["phone"].endswith("5678")
    keys = tmp_path / "sms.keys"
    keys.write_text('access_key_id = "a"\naccess_key_secret = "b"\n')
    keys.chmod(0o644)
    for kw, words in (({"sender": "pigeon"}, "hub.sms.sender"),
                      ({"sender": "aliyun", "sign_name": ""}, "sign_name"),
                      ({"sender": "aliyun", "sign_name": "x", "keys_file": str(tmp_path / "none")}, "no such file"),
                      ({"sender": "aliyun", "sign_name": "x", "keys_file": str(keys)}, "chmod 600"),
                      ({"sender": "aliyun", "sign_name": "x", "url": "http://sms.example/"}, "https://")):
        with pytest.raises(NotifyConfigError) as err:
            notify_from_config(with_sms(**kw))
        assert words in str(err.value) and "\n" not in str(err.value)
    keys.chmod(0o600)
    aliyun = notify_from_config(with_sms(sender="aliyun", sign_name="x", keys_file=str(keys)))
    assert isinstance(aliyun.sender, AliyunSmsSender)
    aliyun.sender.close()
