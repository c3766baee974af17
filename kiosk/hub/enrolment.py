"""Kiosk enrolment: one-time codes that a technician carries to a machine, traded for a token.

`kiosk hub enrol-code KIOSK_ID` issues a code (80 random bits, 24 h, single use; only its SHA-256
is stored, like tokens); `POST /v1/enrol {"kiosk_id", "code"}` (no bearer token) trades it for a
fresh per-kiosk token in `kiosk_tokens` and replaces the kiosk's earlier stored tokens (re-enrol
= rotate). `kiosk hub revoke-token KIOSK_ID` deletes them. A kiosk's pending submissions live on
the kiosk and are never touched here: a revoked kiosk keeps them and sends them after re-enrolling.
Failed attempts count in the hub's failed-login limiter (per client address), so guessing is braked
like guessing tokens.
"""
from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Annotated, Any
from collections.abc import Callable

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, StringConstraints
from starlette.concurrency import run_in_threadpool

log = logging.getLogger(__name__)

CODE_TTL_S = 24 * 3600
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: a code is read off paper and typed
_CODE_CHARS = 16  # 80 bits


class EnrolmentRefused(Exception):
    """`reason`: unknown_code (wrong, or for another kiosk), code_used, code_expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class IssuedCode:
    kiosk_id: str
    code: str
    expires_at: float


def normalize_code(code: str) -> str:
    """What was typed → the canonical form: case, spaces and dashes do not matter."""
    return "".join(c for c in code.upper() if c not in " -\t")


def code_hash(code: str) -> str:
    return hashlib.sha256(normalize_code(code).encode("utf-8")).hexdigest()


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_CODE_CHARS))
    return "-".join(raw[i:i + 4] for i in range(0, _CODE_CHARS, 4))


def issue_code(store: Any, kiosk_id: str, now: float | None = None, ttl_s: float = CODE_TTL_S) -> IssuedCode:
    """A new code for `kiosk_id`; the kiosk's earlier unused codes stop working (one code out at a time)."""
    now = time.time() if now is None else now
    code = new_code()
    with store.transaction() as cur:
        cur.execute(store.sql("DELETE FROM enrolment_codes WHERE kiosk_id = ? AND used_at IS NULL"), (kiosk_id,))
        cur.execute(store.sql("INSERT INTO enrolment_codes (code_sha256, kiosk_id, created_at, expires_at) VALUES (?,?,?,?)"),
                    (code_hash(code), kiosk_id, now, now + ttl_s))
    return IssuedCode(kiosk_id, code, now + ttl_s)


def redeem(store: Any, kiosk_id: str, code: str, now: float | None = None) -> str:
    """The new token for `kiosk_id`, or `EnrolmentRefused`. One transaction: the code is marked used
    (only if still unused: two racing redeemers get one token), the kiosk's stored tokens replaced."""
    from kiosk.hub.store import token_hash

    now = time.time() if now is None else now
    digest = code_hash(code)
    token = secrets.token_urlsafe(32)
    with store.transaction() as cur:
        cur.execute(store.sql("SELECT kiosk_id, expires_at, used_at FROM enrolment_codes WHERE code_sha256 = ?"), (digest,))
        row = cur.fetchone()
        if row is None or row[0] != kiosk_id:
            raise EnrolmentRefused("unknown_code")
        if row[2] is not None:
            raise EnrolmentRefused("code_used")
        if now >= row[1]:
            raise EnrolmentRefused("code_expired")
        cur.execute(store.sql("UPDATE enrolment_codes SET used_at = ? WHERE code_sha256 = ? AND used_at IS NULL"), (now, digest))
        if cur.rowcount != 1:
            raise EnrolmentRefused("code_used")
        cur.execute(store.sql("DELETE FROM kiosk_tokens WHERE kiosk_id = ?"), (kiosk_id,))
        cur.execute(store.sql("INSERT INTO kiosk_tokens (token_sha256, kiosk_id) VALUES (?, ?)"), (token_hash(token), kiosk_id))
    return token


def revoke(store: Any, kiosk_id: str) -> dict[str, int]:
    """Delete the kiosk's stored tokens and unused codes. Tokens from a `--tokens` file are not in
    the database: remove the line there (and restart the hub)."""
    with store.transaction() as cur:
        cur.execute(store.sql("DELETE FROM kiosk_tokens WHERE kiosk_id = ?"), (kiosk_id,))
        tokens = cur.rowcount
        cur.execute(store.sql("DELETE FROM enrolment_codes WHERE kiosk_id = ? AND used_at IS NULL"), (kiosk_id,))
        codes = cur.rowcount
    return {"tokens_revoked": max(tokens, 0), "codes_revoked": max(codes, 0)}


def certificate_fingerprint(pem_file: str) -> str:
    """SHA-256 of the first certificate in a PEM file (the server's own), lowercase hex."""
    import ssl

    with open(pem_file, encoding="ascii", errors="replace") as f:
        text = f.read()
    begin, end = "-----BEGIN CERTIFICATE-----", "-----END CERTIFICATE-----"
    start = text.index(begin)
    der = ssl.PEM_cert_to_DER_cert(text[start:text.index(end, start) + len(end)])
    return hashlib.sha256(der).hexdigest()


class EnrolIn(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")
    kiosk_id: Annotated[str, StringConstraints(pattern=r"^[^\s\x00-\x1f\x7f-\x9f]{1,64}$")]
    code: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class EnrolOut(BaseModel):
    kiosk_id: str
    token: str
    tls_fingerprint_sha256: str | None = None  # None: plain HTTP here (a proxy in front may terminate TLS)


class EnrolErrorOut(BaseModel):
    error: str
    detail: Any = None


def mount_enrolment(app: FastAPI, store: Any, read_json: Callable[..., Any], validate: Callable[..., Any], failures: Any,
                    api_error: type, client_address: Callable[..., Any]) -> None:
    """`POST /v1/enrol` on the hub's app (see kiosk/hub/app.py for the helpers passed in)."""
    app.state.enrol_body = EnrolIn

    @app.post("/v1/enrol", response_model=EnrolOut, responses={c: {"model": EnrolErrorOut} for c in (400, 401, 413, 422, 429, 503)},
              openapi_extra={"requestBody": {"required": True, "content": {"application/json": {
                  "schema": {"$ref": "#/components/schemas/EnrolIn"}}}}})
    async def enrol(request: Request) -> Any:
        address = client_address(request)
        wait = failures.retry_after(address)
        if wait:
            raise api_error(429, "too_many_failed_logins", {"retry_after_s": wait}, {"Retry-After": str(wait)})
        body: EnrolIn = validate(EnrolIn, await read_json(request, 4096))
        try:
            token = await run_in_threadpool(redeem, store, body.kiosk_id, body.code)
        except EnrolmentRefused as exc:
            n = failures.record(address)  # the code itself is never logged
            log.warning("hub: enrolment refused for %s from %s (%s; %d failures in the last minute)",
                        body.kiosk_id, address, exc.reason, n)
            raise api_error(401, exc.reason) from None
        except Exception as exc:
            log.error("hub: enrolment could not be stored: %s", type(exc).__name__)
            raise api_error(503, "storage_unavailable") from None
        log.info("hub: kiosk %s enrolled from %s", body.kiosk_id, address)
        return {"kiosk_id": body.kiosk_id, "token": token,
                "tls_fingerprint_sha256": getattr(request.app.state, "tls_fingerprint", None)}
