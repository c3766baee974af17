"""HTTP client for the platform: envelope → sign → POST → parse, with timeouts, retries for
queries only, and one audit line per attempt.

The audit line (logger `kiosk.hub.upstream.audit`) says which transaction, its msgid, the
attempt, the outcome (ok / refused / timeout / unavailable / bad_reply / auth / error), the
infcode, the duration and the person as a masked ID number — never names, card numbers, tokens
or the platform's output. Every attempt gets a fresh msgid (a msgid names one message).
"""
from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import httpx

from kiosk.hub.upstream.envelope import EnvelopeError, Institution, MalformedReply, MsgIdSequence, Reply, build_request, parse_reply
from kiosk.hub.upstream.errors import UpstreamError, for_infcode
from kiosk.hub.upstream.signing import NoSigner, Signer
from kiosk.hub.upstream.transactions import TRANSACTIONS, VoucherHolder, ec_query_request, parse_ec_query
from kiosk.privacy import mask_id_number

audit = logging.getLogger("kiosk.hub.upstream.audit")
SIMULATOR_HEADER = "x-platform-simulator"  # the simulator says so; a real platform never sends it


@dataclass(frozen=True)
class UpstreamSettings:
    url: str  # the transaction endpoint: every infno is POSTed here
    ec_url: str  # the 电子凭证 service's decode endpoint
    institution: Institution
    timeout_s: float = 4.0
    connect_timeout_s: float = 2.0
    retries: int = 1  # extra attempts for queries after a timeout, a lost connection or a 5xx
    retry_pause_s: float = 0.2
    insuplc_admdvs: str = ""  # 参保地 when a call does not know it yet (1101 tells it)


class PlatformClient:
    def __init__(self, settings: UpstreamSettings, msgids: MsgIdSequence, signer: Signer | None = None,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.msgids = msgids
        self.signer = signer or NoSigner()
        self.simulated = False
        timeout = httpx.Timeout(settings.timeout_s, connect=settings.connect_timeout_s)
        self._http = httpx.Client(timeout=timeout, transport=transport, follow_redirects=False,
                                  headers={"User-Agent": "yibao-kiosk-hub", "Content-Type": "application/json"})

    def close(self) -> None:
        self._http.close()

    # -- the envelope ---------------------------------------------------------------------------
    def call(self, infno: str, input_: dict[str, Any], *, refusal: str, who: str = "", insuplc_admdvs: str = "") -> Reply:
        """One transaction; a successful Reply, or `UpstreamError` (refusal = the code a -1 means here)."""
        query = TRANSACTIONS.get(infno, ("", False))[1]
        attempts = 1 + (max(0, self.settings.retries) if query else 0)
        for attempt in range(1, attempts + 1):
            msgid = self.msgids.next()
            try:
                message = build_request(self.settings.institution, infno, msgid, input_,
                                        insuplc_admdvs or self.settings.insuplc_admdvs)
            except EnvelopeError as exc:  # a configuration the checks let through: say so, never a 500
                raise UpstreamError("upstream_not_configured", str(exc)) from None
            body = json.dumps(message, ensure_ascii=False, separators=(",", ":")).encode()
            started = time.monotonic()
            try:
                reply = self._post_envelope(body)
            except UpstreamError as exc:
                self._audit(infno, msgid, attempt, exc.code.removeprefix("upstream_"), None, started, who)
                if attempt < attempts and exc.code in ("upstream_timeout", "upstream_unavailable", "upstream_bad_reply"):
                    time.sleep(self.settings.retry_pause_s * attempt)
                    continue
                raise
            self._audit(infno, msgid, attempt, "ok" if reply.ok else "refused", reply.infcode, started, who)
            if not reply.ok:
                raise for_infcode(reply.infcode, refusal, reply.err_msg)
            return reply
        raise AssertionError("unreachable")  # the loop returns or raises

    def _post_envelope(self, body: bytes) -> Reply:
        response = self._send(self.settings.url, body)
        try:
            return parse_reply(response.content)
        except MalformedReply as exc:
            raise UpstreamError("upstream_bad_reply", str(exc)) from None

    def _send(self, url: str, body: bytes) -> httpx.Response:
        if not url:
            raise UpstreamError("upstream_not_configured")
        headers = self.signer.headers(body)
        try:
            response = self._http.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise UpstreamError("upstream_timeout") from None
        except httpx.HTTPError as exc:
            raise UpstreamError("upstream_unavailable", type(exc).__name__) from None
        if response.headers.get(SIMULATOR_HEADER) == "1":
            self.simulated = True
        if response.status_code in (401, 403):
            raise UpstreamError("upstream_auth", f"HTTP {response.status_code}")
        if response.status_code >= 500:
            raise UpstreamError("upstream_unavailable", f"HTTP {response.status_code}")
        if response.status_code != 200:
            raise UpstreamError("upstream_bad_reply", f"HTTP {response.status_code}")
        return response

    # -- the 电子凭证 service -----------------------------------------------------------------
    def decode_voucher(self, qr_code: str) -> VoucherHolder:
        institution = self.settings.institution
        body = json.dumps(ec_query_request(institution.fixmedins_code, institution.opter, institution.opter_name, qr_code),
                          ensure_ascii=False, separators=(",", ":")).encode()
        attempts = 1 + max(0, self.settings.retries)  # decoding is a query
        for attempt in range(1, attempts + 1):
            started = time.monotonic()
            try:
                response = self._send(self.settings.ec_url, body)
                try:
                    code, message, holder = parse_ec_query(json.loads(response.content))
                except (ValueError, UnicodeDecodeError, RecursionError) as exc:
                    raise UpstreamError("upstream_bad_reply", type(exc).__name__) from None
            except UpstreamError as exc:
                self._audit("ec.query", "-", attempt, exc.code.removeprefix("upstream_"), None, started, "")
                if attempt < attempts and exc.code in ("upstream_timeout", "upstream_unavailable", "upstream_bad_reply"):
                    time.sleep(self.settings.retry_pause_s * attempt)
                    continue
                raise
            if holder is None:
                self._audit("ec.query", "-", attempt, "refused", code, started, "")
                raise for_infcode(code, "unknown_voucher", message)  # -1 refuses the code; others fail
            self._audit("ec.query", "-", attempt, "ok", 0, started, holder.id_number)
            return holder
        raise AssertionError("unreachable")

    @staticmethod
    def _audit(infno: str, msgid: str, attempt: int, outcome: str, infcode: int | None, started: float, who: str) -> None:
        audit.info("upstream %s msgid=%s attempt=%d outcome=%s infcode=%s ms=%d person=%s", infno, msgid, attempt, outcome,
                   "-" if infcode is None else infcode, (time.monotonic() - started) * 1000,
                   mask_id_number(who) if who else "-")
