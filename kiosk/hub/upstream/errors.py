"""Everything that can go wrong talking to the platform, as one exception with a stable code,
the HTTP status the hub answers with, and what the resident (zh/en) and the clerk are told.

infcode: 0 is success; -1 is the platform's business refusal (the transaction ran and said
no: unknown person, card not matching, voucher expired); any other value is a failure on the
platform's side (busy, internal error). The platform's own `err_msg` goes to the clerk's log
only after scrubbing (it can name the person), never to the resident.
"""
from __future__ import annotations

from dataclasses import dataclass

from kiosk.privacy import scrub_strict

BUSINESS_REFUSAL = -1


@dataclass(frozen=True)
class Problem:
    code: str
    status: int
    zh: str
    en: str
    clerk: str


PROBLEMS: dict[str, Problem] = {p.code: p for p in (
    Problem("upstream_not_configured", 503, "本机暂未接入医保信息平台，请到窗口办理",
            "This service point is not connected to the insurance platform yet; please ask at a counter",
            "[upstream] url / fixmedins_code are not set"),
    Problem("upstream_timeout", 504, "医保信息平台响应超时，请稍后再试或到窗口办理",
            "The insurance platform did not answer in time; try again later or ask at a counter",
            "the platform did not answer within the timeout"),
    Problem("upstream_unavailable", 502, "暂时无法连接医保信息平台，请稍后再试或到窗口办理",
            "The insurance platform cannot be reached now; try again later or ask at a counter",
            "connection to the platform failed"),
    Problem("upstream_bad_reply", 502, "医保信息平台返回异常，请稍后再试或到窗口办理",
            "The insurance platform gave an unexpected answer; try again later or ask at a counter",
            "the platform's reply was not a valid envelope"),
    Problem("upstream_auth", 502, "医保信息平台暂时无法办理，请到窗口办理",
            "The insurance platform refused this service point; please ask at a counter",
            "the platform gateway refused the signature or the institution (check [upstream] keys_file)"),
    Problem("upstream_error", 502, "医保信息平台暂时无法办理，请稍后再试或到窗口办理",
            "The insurance platform cannot handle this now; try again later or ask at a counter",
            "the platform reported a failure on its side"),
    Problem("person_not_found", 404, "医保信息平台未查到您的参保信息，请到窗口核实",
            "The insurance platform has no record for you; please check at a counter",
            "1101 refused: no insured person for this identity"),
    Problem("unknown_voucher", 404, "医保电子凭证无效或已过期，请在手机上刷新后重试",
            "The e-voucher is invalid or expired; refresh it on your phone and try again",
            "the e-voucher service did not accept the code"),
    Problem("card_refused", 403, "社会保障卡与身份信息不符或已失效，请到窗口核实",
            "The social-security card does not match or is no longer valid; please check at a counter",
            "1101 with the social-security card was refused"),
)}


class UpstreamError(Exception):
    def __init__(self, code: str, platform_message: str = "", infcode: int | None = None) -> None:
        self.problem = PROBLEMS[code]
        self.infcode = infcode
        self.platform_message = scrub_strict(platform_message)[:200]  # may name the person: masked
        super().__init__(f"{code}: {self.problem.clerk}" + (f" (infcode {infcode})" if infcode is not None else ""))

    @property
    def code(self) -> str:
        return self.problem.code

    def body(self) -> dict[str, object]:
        """What the hub answers the kiosk with."""
        return {"error": self.code, "detail": {"message_zh": self.problem.zh, "message_en": self.problem.en}}


def for_infcode(infcode: int, refusal_code: str, err_msg: str) -> UpstreamError:
    """A non-zero infcode: a business refusal maps to what this transaction's refusal means."""
    return UpstreamError(refusal_code if infcode == BUSINESS_REFUSAL else "upstream_error", err_msg, infcode)
