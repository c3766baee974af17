"""`kiosk diag`'s checks of the service hall (`[hall] url`, issue 17): reachable, this kiosk's token
accepted, the two clocks agreeing, and the TLS certificate when the url is https.

Each failed check carries a HALL_* code (`CheckResult.code`); the advice follows the code
(`advice.ADVICE_BY_CODE`). A hall that is down is *degraded*, not broken: submissions are still
stored and go to the hub, and residents are sent to the counter with their 业务编号. A token the
hall refuses is an error (配置错误: nothing will get a number until hall.token is fixed), as is a
certificate that cannot be verified. No check sends personal data or stores anything at the hall.
"""
from __future__ import annotations

import dataclasses
import ssl
import time
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from drivers.diagnostics import CheckResult, CheckStatus, Stopwatch
from kiosk.config import Config
from kiosk.services.diagnostics.advice import with_advice

HALL_CHECK_TIMEOUT_S = 5.0
CLOCK_SKEW_LIMIT_S = 60.0  # beyond this, ticket times and waiting times visibly disagree
CERT_WARN_DAYS = 14
HALL_UNREACHABLE, HALL_AUTH, HALL_TLS = "HALL_UNREACHABLE", "HALL_AUTH", "HALL_TLS"
HALL_CERT_EXPIRING, HALL_CLEARTEXT, HALL_CLOCK_SKEW, HALL_UNHEALTHY = (
    "HALL_CERT_EXPIRING", "HALL_CLEARTEXT", "HALL_CLOCK_SKEW", "HALL_UNHEALTHY")
HALL_CHECK_CODES = (HALL_UNREACHABLE, HALL_AUTH, HALL_TLS, HALL_CERT_EXPIRING, HALL_CLEARTEXT, HALL_CLOCK_SKEW,
                    HALL_UNHEALTHY)
ADVICE_OF = {HALL_UNREACHABLE: "hall.down", HALL_AUTH: "hall.auth", HALL_TLS: "hall.tls",
             HALL_CERT_EXPIRING: "hall.cert_expiring", HALL_CLEARTEXT: "hall.cleartext", HALL_CLOCK_SKEW: "hall.clock",
             HALL_UNHEALTHY: "hall.unhealthy"}


def _failed(name: str, status: CheckStatus, code: str, en: str, zh: str, ms: float = 0.0,
            data: dict[str, Any] | None = None) -> CheckResult:
    return with_advice(CheckResult(name, status, en, zh, ms, data or {}, code=code), ADVICE_OF[code])


def check_hall(config: Config, transport: httpx.BaseTransport | None = None,
               now: Any = time.time) -> list[CheckResult]:
    """The hall's checks; none when no hall is configured (the kiosk keeps its own queue)."""
    from kiosk.services.diagnostics.checks import token_in_clear
    from kiosk.services.hall_client import tls_verify

    hall = config.hall
    if not hall.url:
        return []
    url = hall.url.rstrip("/")
    timeout = min(hall.timeout_s, HALL_CHECK_TIMEOUT_S)
    with httpx.Client(base_url=url, timeout=timeout, transport=transport, verify=tls_verify(hall.ca_file or None),
                      headers={"User-Agent": "yibao-kiosk-diag"}) as http:
        reach, response, sent, received = _reachable(http, url, now)
        results = [reach]
        if response is None:
            return results
        if token_in_clear(url) and reach.status is CheckStatus.OK:  # the token and applications cross the LAN in clear
            results[0] = with_advice(dataclasses.replace(reach, code=HALL_CLEARTEXT), "hall.cleartext", CheckStatus.DEGRADED)
        results.append(_token(http, hall.token))
        results.append(_clock(response, sent, received))
        if url.startswith("https://"):
            results.append(_tls(response, now))
    return results


def _reachable(http: httpx.Client, url: str, now: Any) -> tuple[CheckResult, httpx.Response | None, float, float]:
    from kiosk.services.sync import tls_failure

    sent = now()
    with Stopwatch() as sw:
        try:
            response = http.get("/api/health")
            error: httpx.HTTPError | None = None
        except httpx.HTTPError as exc:
            response, error = None, exc
    received = now()
    if error is not None or response is None:
        tls = tls_failure(error) if error is not None else None
        if tls:
            return _failed("hall.reachable", CheckStatus.ERROR, HALL_TLS, f"{url}: {tls}", f"服务大厅证书验证失败：{tls}",
                           sw.ms, {"url": url}), None, sent, received
        what = type(error).__name__ if error is not None else "no answer"
        return _failed("hall.reachable", CheckStatus.DEGRADED, HALL_UNREACHABLE, f"{url}: unreachable ({what})",
                       f"无法连接服务大厅（{what}）", sw.ms, {"url": url}), None, sent, received
    data: dict[str, Any] = {"url": url, "latency_ms": round(sw.ms, 1), "http_status": response.status_code}
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or "status" not in body:
        return _failed("hall.reachable", CheckStatus.DEGRADED, HALL_UNREACHABLE,
                       f"{url}: HTTP {response.status_code}, not the hall's health reply (is hall.url the hall?)",
                       f"{url} 的应答不是服务大厅（HTTP {response.status_code}），请核对 hall.url", sw.ms, data), None, sent, received
    data["report_failures"] = body.get("report_failures")
    if body.get("status") != "ok":
        return (_failed("hall.reachable", CheckStatus.DEGRADED, HALL_UNHEALTHY, f"{url}: status {body.get('status')}",
                        "服务大厅状态异常", sw.ms, data), response, sent, received)
    return (CheckResult("hall.reachable", CheckStatus.OK, f"{url}: ok, {sw.ms:.0f} ms",
                        f"服务大厅连接正常，延迟 {sw.ms:.0f} 毫秒", sw.ms, data), response, sent, received)


def _token(http: httpx.Client, token: str) -> CheckResult:
    """An empty application: the hall checks the kiosk's token before the body and stores nothing,
    so 422 (the body refused) means the token passed and 401 that it did not."""
    with Stopwatch() as sw:
        try:
            status = http.post("/api/applications", json={}, headers={"Authorization": f"Bearer {token}"}).status_code
        except httpx.HTTPError as exc:
            return _failed("hall.token", CheckStatus.DEGRADED, HALL_UNREACHABLE,
                           f"the token could not be checked ({type(exc).__name__})", "无法检查本机令牌（连接中断）", sw.ms)
    if status in (401, 403):
        return _failed("hall.token", CheckStatus.ERROR, HALL_AUTH, f"the hall refused this kiosk's token (HTTP {status})",
                       "服务大厅拒绝了本机令牌", sw.ms, {"http_status": status})
    if status == 429:
        return _failed("hall.token", CheckStatus.ERROR, HALL_AUTH, "the hall refuses tokens from this address for a while "
                       "(too many wrong ones, HTTP 429): fix hall.token and run again in a minute",
                       "本机令牌错误次数过多，服务大厅暂时拒绝；请修正 hall.token 后一分钟再检测", sw.ms, {"http_status": status})
    if status == 422 or 200 <= status < 300:
        return CheckResult("hall.token", CheckStatus.OK, "the hall accepts this kiosk's token", "服务大厅接受本机令牌", sw.ms)
    return _failed("hall.token", CheckStatus.DEGRADED, HALL_UNREACHABLE, f"the token could not be checked (HTTP {status})",
                   f"无法检查本机令牌（HTTP {status}）", sw.ms, {"http_status": status})


def _hall_time(response: httpx.Response) -> datetime | None:
    """The hall's clock: its health reply's "time" (UTC, seconds), else the HTTP Date header."""
    try:
        stamp = response.json().get("time")
        if isinstance(stamp, str):
            return datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except (ValueError, AttributeError):
        pass
    try:
        return parsedate_to_datetime(response.headers.get("date", "")) if response.headers.get("date") else None
    except (TypeError, ValueError):
        return None


def _clock(response: httpx.Response, sent: float, received: float) -> CheckResult:
    hall_time = _hall_time(response)
    if hall_time is None:
        return CheckResult("hall.clock", CheckStatus.OK, "the hall does not say its time", "服务大厅未提供时间")
    # the hall stamped its reply between sending and receiving, to the second (rounded down)
    skew = hall_time.timestamp() + 0.5 - (sent + received) / 2
    data = {"skew_s": round(skew, 1), "limit_s": CLOCK_SKEW_LIMIT_S}
    if abs(skew) > CLOCK_SKEW_LIMIT_S:
        ahead = "ahead of" if skew > 0 else "behind"
        return _failed("hall.clock", CheckStatus.DEGRADED, HALL_CLOCK_SKEW,
                       f"the hall's clock is {abs(skew):.0f} s {ahead} this kiosk's", f"服务大厅与本机时间相差 {abs(skew):.0f} 秒",
                       data=data)
    return CheckResult("hall.clock", CheckStatus.OK, f"clocks agree within {max(1.0, abs(skew)):.0f} s",
                       f"与服务大厅时间一致（相差 {abs(skew):.0f} 秒以内）", data=data)


def _tls(response: httpx.Response, now: Any) -> CheckResult:
    """The https hall's certificate, verified already by the request: its protocol and expiry."""
    stream = response.extensions.get("network_stream")
    ssl_object: Any = stream.get_extra_info("ssl_object") if stream is not None else None
    if not callable(getattr(ssl_object, "getpeercert", None)):  # httpcore hands the low-level _ssl socket
        return CheckResult("hall.tls", CheckStatus.OK, "certificate verified", "证书验证通过")
    cert = ssl_object.getpeercert() or {}
    data: dict[str, Any] = {"protocol": ssl_object.version()}
    expires = cert.get("notAfter")
    if not isinstance(expires, str):
        return CheckResult("hall.tls", CheckStatus.OK, f"{data['protocol']}, certificate verified", "证书验证通过", data=data)
    days = (ssl.cert_time_to_seconds(expires) - now()) / 86400
    data.update(not_after=expires, days_left=int(days))
    en = f"{data['protocol']}, certificate verified, valid for {int(days)} more days"
    zh = f"证书验证通过，{int(days)} 天后到期"
    if days < CERT_WARN_DAYS:
        return _failed("hall.tls", CheckStatus.DEGRADED, HALL_CERT_EXPIRING, en, zh, data=data)
    return CheckResult("hall.tls", CheckStatus.OK, en, zh, data=data)


__all__ = ["CERT_WARN_DAYS", "CLOCK_SKEW_LIMIT_S", "HALL_CHECK_CODES", "HALL_CHECK_TIMEOUT_S", "check_hall"]
