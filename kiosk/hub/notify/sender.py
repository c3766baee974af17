"""SMS senders. One interface (`SmsSender.send(SmsMessage) -> str` provider message id, or
`SmsError`) fits the usual cloud SMS APIs: a signature name, a template code and its
parameters, one phone number, an idempotency-ish reference (`OutId`).

`AliyunSmsSender` speaks the Dysmsapi `SendSms` RPC API (Version 2017-05-25): a form-encoded
POST of the common parameters (AccessKeyId, SignatureMethod HMAC-SHA1, SignatureNonce,
SignatureVersion 1.0, Timestamp, Format JSON, Action, Version, RegionId) and the action's
(PhoneNumbers, SignName, TemplateCode, TemplateParam JSON, OutId), signed with
Base64(HMAC-SHA1(secret + "&", "POST&%2F&" + percent-encoded sorted query)). The reply is JSON
{"Code": "OK", "BizId", "RequestId", "Message"}; `isv.BUSINESS_LIMIT_CONTROL`, `isp.*`,
throttling, HTTP 5xx and network errors are worth a retry, every other code is final.

`FileSender` appends one JSON line per message with the phone masked (demo and tests; it is the
default when [hub.sms] sender = "file").
"""
from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import re
import threading
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

import httpx

from kiosk.privacy import mask_phone

PHONE = re.compile(r"^1[3-9]\d{9}$")  # a mainland mobile number
API_VERSION = "2017-05-25"
RETRYABLE_CODES = frozenset({"isv.BUSINESS_LIMIT_CONTROL", "Throttling.User", "Throttling", "ServiceUnavailable",
                             "isp.SYSTEM_ERROR", "isp.RAM_PERMISSION_DENY"})


class SmsError(Exception):
    def __init__(self, code: str, retryable: bool, message: str = "") -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.retryable = retryable


@dataclass(frozen=True)
class SmsMessage:
    phone: str
    template: str  # the template code the gateway approved (e.g. SMS_4711)
    params: dict[str, str]
    reference: str  # our id for this notice (OutId)
    preview: str = ""  # the text as the template renders it (file sender, logs of the simulator)

    def masked(self) -> dict[str, Any]:
        return {"phone": mask_phone(self.phone), "template": self.template, "params": self.params,
                "reference": self.reference, "text": self.preview}


class SmsSender(Protocol):
    name: str

    def send(self, message: SmsMessage) -> str: ...

    def close(self) -> None: ...


@dataclass
class FileSender:
    """Appends each message (phone masked) to a JSON-lines file: the demo's and the tests' sender."""

    path: Path
    name: str = "file"
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def send(self, message: SmsMessage) -> str:
        provider_id = f"file-{uuid.uuid4().hex[:16]}"
        line = json.dumps({**message.masked(), "provider_id": provider_id,
                           "at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}, ensure_ascii=False)
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
        return provider_id

    def close(self) -> None:
        pass


def percent_encode(value: str) -> str:
    """RFC 3986 as the RPC signature wants it: space → %20, * → %2A, ~ kept."""
    return quote(value, safe="~")


def sign(params: dict[str, str], secret: str, method: str = "POST") -> str:
    canonical = "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))
    to_sign = f"{method}&{percent_encode('/')}&{percent_encode(canonical)}"
    digest = hmac.new(f"{secret}&".encode(), to_sign.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class AliyunSmsSender:
    name = "aliyun"

    def __init__(self, url: str, access_key_id: str, access_key_secret: str, sign_name: str, region: str = "cn-hangzhou",
                 timeout_s: float = 5.0, clock: Any = None) -> None:
        self.url = url
        self.access_key_id = access_key_id
        self._secret = access_key_secret
        self.sign_name = sign_name
        self.region = region
        self._client = httpx.Client(timeout=timeout_s)
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))

    def request_params(self, message: SmsMessage) -> dict[str, str]:
        params = {
            "AccessKeyId": self.access_key_id, "Action": "SendSms", "Format": "JSON", "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1", "SignatureNonce": uuid.uuid4().hex, "SignatureVersion": "1.0",
            "Timestamp": self._clock().strftime("%Y-%m-%dT%H:%M:%SZ"), "Version": API_VERSION,
            "PhoneNumbers": message.phone, "SignName": self.sign_name, "TemplateCode": message.template,
            "TemplateParam": json.dumps(message.params, ensure_ascii=False, separators=(",", ":")),
            "OutId": message.reference,
        }
        params["Signature"] = sign(params, self._secret)
        return params

    def send(self, message: SmsMessage) -> str:
        try:
            reply = self._client.post(self.url, data=self.request_params(message))
        except httpx.HTTPError as exc:
            raise SmsError("network", True, type(exc).__name__) from None
        try:
            body = reply.json()
        except ValueError:
            raise SmsError(f"http_{reply.status_code}", reply.status_code >= 500, "not JSON") from None
        code = str(body.get("Code", "")) if isinstance(body, dict) else ""
        if reply.status_code == 200 and code == "OK":
            return str(body.get("BizId") or "")
        retryable = reply.status_code >= 500 or code in RETRYABLE_CODES or code.startswith("isp.")
        raise SmsError(code or f"http_{reply.status_code}", retryable, str(body.get("Message", ""))[:200] if isinstance(body, dict) else "")

    def close(self) -> None:
        self._client.close()
