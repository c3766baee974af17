"""A faithful simulator of the Dysmsapi SendSms gateway (see sender.py for the protocol), on
127.0.0.1, for the demo, the tests and training. It checks what the real gateway checks — the
common parameters, the timestamp window, the nonce not reused, the HMAC-SHA1 signature, the
access key, the signature name and template approved, the phone number, the template
parameters (all of the template's variables, each at most 35 characters) — and answers with
the real codes. Every accepted message is recorded (`messages`, and a JSON-lines file if given,
phone masked there). Faults on demand: throttle (isv.BUSINESS_LIMIT_CONTROL) the next N
requests, answer HTTP 500, or stall.
"""
from __future__ import annotations

import datetime as dt
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

from kiosk.hub.notify.sender import PHONE, SmsMessage, sign
from kiosk.privacy import mask_phone

VARIABLE = re.compile(r"\$\{(\w+)\}")


@dataclass
class SmsFaults:
    throttle_next: int = 0
    http_500_next: int = 0
    delay_s: float = 0.0


@dataclass
class SmsSimulator:
    keys: dict[str, str]  # AccessKeyId → secret
    sign_names: frozenset[str]
    templates: dict[str, str]  # template code → text with ${var}
    record_file: Path | None = None
    faults: SmsFaults = field(default_factory=SmsFaults)
    messages: list[dict[str, Any]] = field(default_factory=list)
    _nonces: set[str] = field(default_factory=set)
    _lock: threading.Condition = field(default_factory=threading.Condition)

    def handle(self, params: dict[str, str]) -> tuple[int, dict[str, Any]]:
        request_id = str(uuid.uuid4()).upper()

        def fail(status: int, code: str, message: str) -> tuple[int, dict[str, Any]]:
            return status, {"RequestId": request_id, "Code": code, "Message": message}

        with self._lock:
            if self.faults.http_500_next > 0:
                self.faults.http_500_next -= 1
                return fail(500, "InternalError", "The request processing has failed due to some unknown error.")
        for name in ("AccessKeyId", "Action", "SignatureMethod", "SignatureNonce", "SignatureVersion", "Timestamp",
                     "Version", "Signature"):
            if not params.get(name):
                return fail(400, "MissingParameter", f"{name} is mandatory for this action.")
        if params["Action"] != "SendSms" or params["Version"] != "2017-05-25":
            return fail(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
        if params["SignatureMethod"] != "HMAC-SHA1" or params["SignatureVersion"] != "1.0":
            return fail(400, "InvalidSignatureMethod", "Specified signature method is not supported.")
        try:
            stamp = dt.datetime.strptime(params["Timestamp"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
        except ValueError:
            return fail(400, "InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
        if abs((dt.datetime.now(dt.UTC) - stamp).total_seconds()) > 900:
            return fail(400, "InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
        secret = self.keys.get(params["AccessKeyId"])
        if secret is None:
            return fail(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
        unsigned = {k: v for k, v in params.items() if k != "Signature"}
        if not hmac.compare_digest(sign(unsigned, secret), params["Signature"]):
            return fail(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation.")
        with self._lock:
            if params["SignatureNonce"] in self._nonces:
                return fail(400, "SignatureNonceUsed", "Specified signature nonce was used already.")
            self._nonces.add(params["SignatureNonce"])
            if self.faults.throttle_next > 0:
                self.faults.throttle_next -= 1
                return fail(200, "isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
        phone = params.get("PhoneNumbers", "")
        if not PHONE.match(phone):
            return fail(200, "isv.MOBILE_NUMBER_ILLEGAL", "非法手机号")
        if params.get("SignName") not in self.sign_names:
            return fail(200, "isv.SMS_SIGNATURE_ILLEGAL", "该账号下找不到对应签名")
        template = self.templates.get(params.get("TemplateCode", ""))
        if template is None:
            return fail(200, "isv.SMS_TEMPLATE_ILLEGAL", "该账号下找不到对应模板")
        try:
            values = json.loads(params.get("TemplateParam") or "{}")
        except ValueError:
            return fail(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        wanted = set(VARIABLE.findall(template))
        if not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values()) or set(values) != wanted:
            return fail(200, "isv.INVALID_JSON_PARAM", "JSON参数不合法，只接受字符串值")
        if any(len(v) > 35 for v in values.values()):
            return fail(200, "isv.PARAM_LENGTH_LIMIT", "参数超出长度限制")
        text = f"【{params['SignName']}】" + VARIABLE.sub(lambda m: values[m.group(1)], template)
        biz_id = f"{int(time.time() * 1000)}^{uuid.uuid4().int % 10**10}"
        record = {"phone": phone, "sign_name": params["SignName"], "template": params["TemplateCode"], "params": values,
                  "text": text, "out_id": params.get("OutId", ""), "biz_id": biz_id, "at": time.time()}
        with self._lock:
            self.messages.append(record)
            if self.record_file is not None:
                with open(self.record_file, "a", encoding="utf-8") as f:
                    f.write(json.dumps({**record, "phone": mask_phone(phone)}, ensure_ascii=False) + "\n")
            self._lock.notify_all()
        return 200, {"RequestId": request_id, "Code": "OK", "Message": "OK", "BizId": biz_id}

    def wait_for(self, count: int, timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """The messages once at least `count` arrived (tests wait on this, never on a sleep)."""
        with self._lock:
            self._lock.wait_for(lambda: len(self.messages) >= count, timeout_s)
            return list(self.messages)


@dataclass
class SmsSimHandle:
    url: str
    sim: SmsSimulator
    _server: ThreadingHTTPServer

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def start_sms_sim(sim: SmsSimulator, host: str = "127.0.0.1", port: int = 0) -> SmsSimHandle:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:  # the phone is in the body, never in a log line
            pass

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(min(length, 64_000)).decode("utf-8", "replace")
            if sim.faults.delay_s:
                time.sleep(sim.faults.delay_s)
            status, body = sim.handle(dict(parse_qsl(raw, keep_blank_values=True)))
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="sms-sim", daemon=True).start()
    return SmsSimHandle(f"http://{host}:{server.server_address[1]}/", sim, server)


DEFAULT_TEMPLATES = {
    "SMS_KIOSK_DONE": "${name}您好，您申请的${service}已办结。详情可在医保自助机“办理进度查询”查看。",
    "SMS_KIOSK_RETURNED": "${name}您好，您申请的${service}需补正材料，请在医保自助机“办理进度查询”查看所缺材料后补交。",
}


def sms_message_preview(template: str, params: dict[str, str], templates: dict[str, str] = DEFAULT_TEMPLATES) -> str:
    return VARIABLE.sub(lambda m: params.get(m.group(1), ""), templates.get(template, ""))


__all__ = ["SmsFaults", "SmsMessage", "SmsSimulator", "SmsSimHandle", "start_sms_sim", "DEFAULT_TEMPLATES"]
